/**
 * The job with the backbone on WebGPU (Mesa's lavapipe, see scripts/install-vulkan.sh)
 * against the same job on the CPU provider, through the real CLI on a few photos:
 * switching `runtime.device` reruns the stages that run the backbone (and what reads
 * their outputs) but not split, augment-config or build-model, and the submission
 * agrees with the CPU's within the tolerance docs/guide/gpu.md ("Results agree with the CPU's") justifies.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { lavapipe } from '../machine.ts';
import { BACKBONE, cli, copyInto, jobProject, photos, TEST_SRC } from './job-fixture.ts';

const TEST_IDS = [1, 2, 3, 4];
/** |P_webgpu − P_cpu| per test image; docs/guide/gpu.md derives it from the feature tolerance. */
const SUBMISSION_TOLERANCE = 1e-3;

let dir = '';

/** `pipeline run --json <args>`, which must succeed: each stage's action, and what the run printed on stderr. */
function run(args: string[]): { action: Map<string, string>; stderr: string } {
  const r = cli(dir, 'run', '--json', ...args);
  assert.equal(r.code, 0, `pipeline run ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  const actions = JSON.parse(r.stdout) as { stage: string; action: string }[];
  return { action: new Map(actions.map((a) => [a.stage, a.action])), stderr: r.stderr };
}

const submission = () =>
  new Map(
    readFileSync(path.join(dir, 'artifacts/predict/submission.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => [l.split(',')[0], Number(l.split(',')[1])]),
  );
const engineOf = (stage: string) =>
  JSON.parse(readFileSync(path.join(dir, 'artifacts', stage, 'report.json'), 'utf8')).engine as string;

before(() => {
  dir = jobProject(mkdtempSync(path.join(tmpdir(), 'pipeline-webgpu-')), {
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.34, seed: 1 },
    augment: { shear_range: 0, zoom_range: 0, copies: 0, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { inference: 'onnx', device: 'cpu', threads: 0, batch_size: 'auto' },
    train: { lr: 0.001, epochs: 2, batch_size: 8, patience: 0, seed: 1 },
    predict: { clip: 0 },
    visualize: { per_class: 1, cols: 2 },
  });
  copyInto([...photos('cat', 0, 6), ...photos('dog', 0, 6)], path.join(dir, 'data/train'));
  for (const id of TEST_IDS) copyFileSync(path.join(TEST_SRC, `${id}.jpg`), path.join(dir, 'data/test', `${id}.jpg`));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'the job on WebGPU reruns only the backbone stages and what follows, and predicts what the CPU predicts',
  { skip: lavapipe().skip },
  (t) => {
    const first = run([]);
    assert.ok(
      [...first.action.values()].every((a) => a === 'ran'),
      JSON.stringify([...first.action]),
    );
    assert.equal(engineOf('features'), 'onnx');
    const onCpu = submission();

    const second = run(['--set', 'runtime.device=webgpu']);
    for (const stage of ['split', 'augment-config', 'build-model'])
      assert.equal(second.action.get(stage), 'skipped', `${stage} does not run the backbone`);
    for (const stage of ['features', 'test-features', 'visualize'])
      assert.equal(second.action.get(stage), 'ran', `${stage} runs the backbone`);
    assert.equal(engineOf('features'), 'onnx-webgpu');
    assert.equal(engineOf('test-features'), 'onnx-webgpu');
    const onGpu = submission();
    assert.deepEqual([...onGpu.keys()], [...onCpu.keys()]);
    let max = 0;
    for (const [id, p] of onCpu) {
      const diff = Math.abs(onGpu.get(id)! - p);
      assert.ok(diff <= SUBMISSION_TOLERANCE, `test image ${id}: P(dog) ${onGpu.get(id)} on webgpu vs ${p} on cpu`);
      max = Math.max(max, diff);
    }
    t.diagnostic(`max |P(dog) webgpu − P(dog) cpu| over ${onCpu.size} test images: ${max.toExponential(2)}`);
    const logs = path.join(dir, '.pipeline/logs/features');
    const latest = readdirSync(logs).sort().pop()!;
    assert.match(readFileSync(path.join(logs, latest), 'utf8'), /backbone device: webgpu on a software adapter/);
  },
);
