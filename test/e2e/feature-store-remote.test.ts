/**
 * The feature store shared through a remote cache (real nginx on loopback),
 * on 24 photos and the smallest backbone: what one clone computed, another
 * clone with a different split or added photos does not compute again, and a
 * damaged pack on the server is detected, discarded and recomputed. Backbone
 * passes are counted from the run record's figures (`features.computed`).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { nginx, slurmCluster } from '../machine.ts';
import { CacheServer } from '../remote/cache-server.ts';
import { BACKBONE, cli, copyInto, jobProject, photos, store, TRAIN_SRC } from './job-fixture.ts';

const skip = !(existsSync(TRAIN_SRC) && existsSync(BACKBONE))
  ? 'the shared photos and backbone are not in ../shared'
  : nginx();

const clones: string[] = [];
let server: CacheServer | undefined;
after(() => {
  for (const dir of clones) rmSync(dir, { recursive: true, force: true });
  server?.remove();
});

/** A fresh clone: the job's pipeline.yaml, the stages, 12 cats and 12 dogs (plus `extra` photos), no .pipeline/. */
function clone(extra: string[] = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pipeline-store-remote-'));
  clones.push(dir);
  jobProject(dir, {
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.25, seed: 1 },
    augment: { copies: 1, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { inference: 'onnx', device: 'cpu', threads: 0, batch_size: 4 },
    train: { lr: 0.001, epochs: 1, batch_size: 16, patience: 0, seed: 1 },
    predict: { clip: 0.005 },
    visualize: { per_class: 1, cols: 2 },
  });
  copyInto([...photos('cat', 0, 12), ...photos('dog', 0, 12), ...extra], path.join(dir, 'data/train'));
  copyFileSync(photos('cat', 0, 1)[0], path.join(dir, 'data/test/1.jpg'));
  return dir;
}

const features = (dir: string) => readFileSync(path.join(dir, 'artifacts/features/features.f32'));

// 24 photos, 1 copy each (validation copies go into the store only): 48 passes.
const ALL = 48;

describe('the feature store through a remote cache', { skip }, () => {
  let first = '';

  it('a first clone computes every variant and shares it as packs', () => {
    server = CacheServer.start();
    first = clone();
    const r = cli(first, 'run', 'features', '--remote', server.url);
    assert.equal(r.code, 0, r.output);
    assert.equal(store(first).computed, ALL);
    assert.match(r.output, /feature store: shared 1 pack with the remote cache/);
  });

  it('a fresh clone with another split computes no backbone pass', () => {
    const other = clone();
    const r = cli(other, 'run', 'features', '--set', 'data.seed=7', '--remote', server!.url);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(store(other), { fromStore: ALL, computed: 0 });
    assert.match(r.output, /48 of 48 missing entries from the remote cache \(1 pack/);
  });

  it('a fresh clone with added photos computes only those', () => {
    const more = clone(photos('dog', 12, 3));
    const r = cli(more, 'run', 'features', '--remote', server!.url);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(store(more), { fromStore: ALL, computed: 6 });
    assert.match(
      r.output,
      /feature store: shared 1 pack with the remote cache/,
      'the 6 new entries go up as one more pack',
    );
  });

  it("Slurm: a fresh clone's shard jobs take every entry from the remote", { skip: slurmCluster() }, () => {
    // The shards run as cluster jobs with the remote settings in their spec file: a node without this clone's
    // .pipeline/ gets the features through the remote, as here where the clone's own store is empty.
    const sharded = clone();
    const yaml = readFileSync(path.join(sharded, 'pipeline.yaml'), 'utf8');
    const withShards = yaml.replace(/(\n {2}features:\n(?: {4}.*\n)*? {4}heavy: true\n)/, '$1    shards: 2\n');
    assert.notEqual(withShards, yaml, 'the features stage takes shards: 2');
    writeFileSync(path.join(sharded, 'pipeline.yaml'), `executor: { poll_seconds: 1 }\n${withShards}`);
    // --force: the shards themselves, not the first clone's run from the run cache (shards are not fingerprinted).
    const r = cli(sharded, 'run', 'features', '--force', '--executor', 'slurm', '--remote', server!.url);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(store(sharded), { fromStore: ALL, computed: 0 });
    assert.ok(features(sharded).equals(features(first)), "the merged features are the first clone's bytes");
  });

  it('a damaged pack on the server is reported, discarded and recomputed, with the same bytes', () => {
    const packs = server!
      .entries('cas')
      .filter((name) => readFileSync(server!.path('cas', name)).subarray(-8).toString('latin1') === 'PFSEG001');
    assert.equal(packs.length, 2);
    for (const name of packs) {
      const bytes = readFileSync(server!.path('cas', name));
      bytes[7] = bytes[7] ^ 0xff;
      writeFileSync(server!.path('cas', name), bytes);
    }
    const fresh = clone();
    // --force: features itself must not come back from the run cache; its upstream is restored from the remote.
    const r = cli(fresh, 'run', 'features', '--force', '--remote', server!.url);
    assert.equal(r.code, 0, r.output);
    assert.match(
      r.output,
      /warning: remote cache http:\/\/127\.0\.0\.1:\d+: object [0-9a-f]{12} does not match its sha256 \(damaged on the server\); discarded, recomputing/,
    );
    assert.match(
      r.output,
      /feature store: shared 1 pack with the remote cache/,
      'the recomputed entries are shared again',
    );
    assert.equal(store(fresh).computed, ALL);
    assert.ok(features(fresh).equals(features(first)), "the recomputed features are the first clone's bytes");
  });
});
