/**
 * The store-backed featurisation shared by `features` and `test-features`:
 * hash each image file, look every variant (original, augmented copy, flip)
 * up in the feature store, run the backbone on the missing ones only (decode
 * of the next batch overlapping inference, each batch committed to the store
 * as it completes), then write the stage's features file in the list's order
 * from the store, streaming. The features file is therefore the same bytes
 * whichever variants came from the store, so an interrupted run, rerun, ends
 * exactly where an uninterrupted one would.
 */
import { writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { StageContext } from 'pipeline-ml-engine';
import type { BackboneRunner } from './backbone-runner.ts';
import { FeatureCache, featureKey, sha256 } from './feature-cache.ts';
import { RemoteFeatureStore } from './feature-remote.ts';
import { FeatureWriter, type FeatureMeta, type FeatureRow } from './feature-store.ts';
import { projectRelative as rel, round } from '../stage/format.ts';
import { imageBatches, toTensorInput, type ImageErrorReason } from '../data/images.ts';
import type { BackboneInfo } from './inference.ts';
import { readParams } from '../stage/params.ts';
import { Throughput } from '../stage/throughput.ts';

/** Files read at once while hashing the images. */
const HASH_CONCURRENCY = 8;
/** Rows gathered from the store per write to the features file. */
const ASSEMBLY_ROWS = 512;

/** One row the stage wants: which variant of the image, and how to make its pixels from the decoded original. */
export interface VariantPlan {
  /** null: computed into the store only, not a row of this run (the augmented copies of validation images, so a re-split needs no pass). */
  row: FeatureRow | null;
  /** For messages. */
  label: string;
  /** Identifies the variant's pixels given the image (enters the store key). */
  variant: Record<string, unknown>;
  make(pixels: Uint8Array): Uint8Array;
}

export interface ImagePlan<T extends { path: string }> {
  item: T;
  /** The variants, in row order. */
  variants(imageHash: string): VariantPlan[];
}

export interface FeaturisationResult<T> {
  meta: FeatureMeta;
  fromStore: number;
  computed: number;
  skipped: { item: T; reason: ImageErrorReason; message: string }[];
  seconds: number;
  /** Backbone passes per second while computing (0 when nothing was computed). */
  imagesPerSecond: number;
  store: string;
}

/** Where the store lives: `runtime.feature_store` when set, else the stage's own cache folder. */
export function featureStoreDir(ctx: Pick<StageContext, 'params' | 'root' | 'stage' | 'cacheDir'>): string {
  return readParams(ctx).optionalPath('runtime.feature_store', 'folder') ?? path.join(ctx.cacheDir, 'feature-store');
}

/** Identity of the frozen base as run: every file build-model wrote for it, and the engine running it. */
async function modelIdentity(backboneDir: string, engine: string): Promise<string> {
  const names = (await readdir(backboneDir)).sort();
  const parts: string[] = [engine];
  for (const name of names) parts.push(name, sha256(await readFile(path.join(backboneDir, name))));
  return sha256(parts.join('\n'));
}

async function hashFiles(files: readonly string[], onDone: (n: number) => void): Promise<string[]> {
  const hashes = new Array<string>(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const k = next++;
      try {
        hashes[k] = sha256(await readFile(files[k]));
      } catch {
        hashes[k] = `unreadable:${files[k]}`; // decoding will skip it with the reason
      }
      onDone(k);
    }
  };
  await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
  return hashes;
}

export async function featuriseThroughStore<T extends { path: string }>(opts: {
  ctx: StageContext;
  images: readonly ImagePlan<T>[];
  runner: BackboneRunner;
  info: BackboneInfo;
  backboneDir: string;
  batchSize: number;
  outDir: string;
}): Promise<FeaturisationResult<T>> {
  const { ctx, runner, info, batchSize } = opts;
  const storeDir = featureStoreDir(ctx);
  const store = FeatureCache.open(storeDir, info.featureDim, (message) => ctx.warn(message));
  const model = await modelIdentity(opts.backboneDir, runner.engine);
  const input = {
    size: info.inputSize,
    preprocess: info.preprocess,
    decoder: `sharp ${sharp.versions.sharp} libvips ${sharp.versions.vips}`,
  };

  let hashed = 0;
  const hashes = await hashFiles(
    opts.images.map((image) => image.item.path),
    () => {
      hashed++;
      if (hashed % 256 === 0 || hashed === opts.images.length)
        ctx.progress({ done: hashed, total: opts.images.length, message: 'hashing images' });
    },
  );
  const planned = opts.images.map((image, i) =>
    image
      .variants(hashes[i])
      .map((v) => ({ ...v, key: featureKey({ image: hashes[i], model, input, variant: v.variant }) })),
  );

  // With a remote cache, what another machine computed comes first (whole packs, only those holding missing keys).
  const remote = ctx.remote
    ? new RemoteFeatureStore(ctx.remote, JSON.stringify([model, input, info.featureDim]))
    : undefined;
  if (remote) {
    const missing = new Set(
      planned
        .flat()
        .map((v) => v.key)
        .filter((key) => !store.has(key)),
    );
    const filled = await remote.fill(store, missing);
    if (missing.size > 0)
      ctx.log(
        `feature store: ${filled.entries.toLocaleString('en')} of ${missing.size.toLocaleString('en')} missing entries from the remote cache (${filled.packs} pack${filled.packs === 1 ? '' : 's'}, ${formatMB(filled.bytes)})`,
      );
  }

  // Present entries are read once here, so a damaged one is found (and recomputed) before the backbone starts.
  const wanted = new Set<string>();
  let total = 0;
  let fromStore = 0;
  const todo: { item: T; variants: (typeof planned)[number] }[] = [];
  opts.images.forEach((image, i) => {
    const missing = planned[i].filter((v) => {
      total++;
      if (wanted.has(v.key)) {
        fromStore++; // the same photo twice: computed once, the second row read back from the store
        return false;
      }
      wanted.add(v.key);
      if (store.read(v.key, v.label)) {
        fromStore++;
        return false;
      }
      return true;
    });
    if (missing.length > 0) todo.push({ item: image.item, variants: missing });
  });
  const toCompute = todo.reduce((n, t) => n + t.variants.length, 0);
  ctx.log(
    `feature store ${rel(ctx.root, storeDir)}: ${fromStore.toLocaleString('en')} of ${total.toLocaleString('en')} from the store, ${toCompute.toLocaleString('en')} to compute`,
  );

  const meter = new Throughput(toCompute);
  const skipped: FeaturisationResult<T>['skipped'] = [];
  const byItem = new Map(todo.map((t) => [t.item, t.variants]));
  let committed = 0;
  try {
    for await (const batch of imageBatches(
      todo.map((t) => t.item),
      { size: info.inputSize, batchSize },
    )) {
      for (const s of batch.skipped) {
        ctx.warn(`skipped ${s.message}`);
        skipped.push(s);
        meter.add(byItem.get(s.item)!.length);
      }
      const pixels: Uint8Array[] = [];
      const keys: string[] = [];
      batch.items.forEach((item, i) => {
        for (const v of byItem.get(item)!) {
          pixels.push(v.make(batch.pixels[i]));
          keys.push(v.key);
        }
      });
      for (let start = 0; start < pixels.length; start += batchSize) {
        const chunk = pixels.slice(start, start + batchSize);
        const out = await runner.run(toTensorInput(chunk, info.inputSize, info.preprocess), chunk.length);
        chunk.forEach((_, j) =>
          store.add(keys[start + j], out.pooled.slice(j * info.featureDim, (j + 1) * info.featureDim)),
        );
        store.commit(); // each pass is kept as soon as it is made: a kill loses at most this batch
        await holdIfAsked(++committed);
        meter.add(chunk.length);
        ctx.progress({
          done: meter.done,
          total: toCompute,
          message: meter.etaMessage(),
          metrics: { 'images/s': round(meter.rate(), 1) },
        });
      }
    }

    const writer = await FeatureWriter.create(opts.outDir, info.featureDim);
    let rows: FeatureRow[] = [];
    let values = new Float32Array(ASSEMBLY_ROWS * info.featureDim);
    const flush = async () => {
      await writer.append(rows, values.subarray(0, rows.length * info.featureDim));
      rows = [];
      values = new Float32Array(ASSEMBLY_ROWS * info.featureDim);
    };
    // An undecodable file has no entries; neither has a byte-identical copy of it elsewhere in the list.
    const dropped = new Set(skipped.flatMap((s) => byItem.get(s.item)!.map((v) => v.key)));
    for (const variants of planned) {
      for (const v of variants) {
        if (v.row === null || dropped.has(v.key)) continue;
        const row = store.read(v.key, v.label);
        if (!row)
          throw new Error(
            `feature store: the entry for ${v.label} disappeared while this stage ran (is another process removing ${storeDir}?)`,
          );
        values.set(row, rows.length * info.featureDim);
        rows.push(v.row);
        if (rows.length === ASSEMBLY_ROWS) await flush();
      }
    }
    if (rows.length > 0) await flush();
    const meta = await writer.close();
    if (remote) {
      const labels = new Map(planned.flat().map((v) => [v.key, v.label]));
      const used = planned
        .flat()
        .filter((v) => !dropped.has(v.key))
        .map((v) => v.key);
      const shared = await remote.share(store, used, (key) => labels.get(key) ?? key);
      if (shared > 0) ctx.log(`feature store: shared ${shared} pack${shared === 1 ? '' : 's'} with the remote cache`);
    }
    const computed = toCompute - skipped.reduce((n, s) => n + byItem.get(s.item)!.length, 0);
    ctx.log(
      `${fromStore.toLocaleString('en')} of ${total.toLocaleString('en')} from the store, ${computed.toLocaleString('en')} computed`,
    );
    return {
      meta,
      fromStore,
      computed,
      skipped,
      seconds: round(meter.seconds(), 2),
      imagesPerSecond: computed > 0 ? round(meter.rate(), 2) : 0,
      store: rel(ctx.root, storeDir),
    };
  } finally {
    store.close();
  }
}

function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * For tests that interrupt a run midway (test/e2e/feature-store.test.ts): with FEATURES_HOLD_AFTER=N in the
 * environment, the stage writes the file FEATURES_HOLD_FILE names after its N-th committed batch and then waits until
 * it is stopped, so the test signals a run known to be midway instead of racing one. Unset (always, outside that
 * test): nothing happens.
 */
async function holdIfAsked(committed: number): Promise<void> {
  if (committed !== Number(process.env.FEATURES_HOLD_AFTER) || !process.env.FEATURES_HOLD_FILE) return;
  writeFileSync(process.env.FEATURES_HOLD_FILE, `${process.pid}\n`);
  await new Promise<never>(() => setInterval(() => {}, 60_000)); // the interval keeps the process alive
}
