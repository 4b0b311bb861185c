/**
 * Loading an ImageNet backbone in TF.js layers format and cutting it at a
 * named layer. The source is a local path to a model.json (or its folder) or
 * an http(s) URL; a URL is downloaded once into a cache folder, like Keras'
 * `get_file`, so a run never downloads the same weights twice.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { StageUserError, type RemoteBlobs } from 'pipeline-ml-engine';
import { backboneFromRemote, backboneToRemote } from './backbone-remote.ts';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** A backbone the stage cannot use (not found, not a layers model, bad cut layer): the user's to fix, shown as one line. */
export class BackboneError extends StageUserError {
  constructor(
    readonly reason: 'not-found' | 'bad-model-json' | 'download-failed' | 'unknown-cut-layer' | 'not-spatial',
    message: string,
  ) {
    super(message);
    this.name = 'BackboneError';
  }
}

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Where a URL's files are kept: one folder per URL, named by its hash. */
export function urlCacheDir(url: string, cacheDir: string): string {
  return path.join(cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 16));
}

/**
 * Resolve a source to the local path of its model.json, downloading a URL's
 * model.json and weight files into `cacheDir` when they are not there yet.
 */
export async function localModelJson(source: string, cacheDir?: string, remote?: RemoteBlobs): Promise<string> {
  if (!isUrl(source)) {
    const info = await stat(source).catch(() => undefined);
    if (!info) throw new BackboneError('not-found', `backbone not found: ${source}`);
    return info.isDirectory() ? path.join(source, 'model.json') : source;
  }
  if (!cacheDir) throw new BackboneError('download-failed', `a cache folder is needed to download ${source}`);
  const dir = urlCacheDir(source, cacheDir);
  const jsonPath = path.join(dir, 'model.json');
  const done = await stat(path.join(dir, '.complete')).catch(() => undefined);
  if (done) return jsonPath;
  await mkdir(dir, { recursive: true });
  // Another machine may have fetched it already: the shared cache before the internet.
  if (remote && (await backboneFromRemote(remote, source, dir))) {
    await writeFile(path.join(dir, '.complete'), source);
    return jsonPath;
  }
  const jsonBytes = await download(source);
  const json = parseModelJson(jsonBytes.toString('utf8'), source);
  const base = new URL('.', source);
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      await writeAtomic(path.join(dir, path.basename(p)), await download(new URL(p, base).href));
    }
  }
  // model.json last: its weight paths are rewritten to the flat cache folder.
  const flat = {
    ...json,
    weightsManifest: json.weightsManifest.map((g) => ({ ...g, paths: g.paths.map((p) => path.basename(p)) })),
  };
  await writeAtomic(jsonPath, Buffer.from(JSON.stringify(flat)));
  await writeFile(path.join(dir, '.complete'), source);
  if (remote) await backboneToRemote(remote, source, dir);
  return jsonPath;
}

async function download(url: string): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new BackboneError('download-failed', `could not download ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new BackboneError('download-failed', `could not download ${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

function parseModelJson(text: string, where: string): ModelJson {
  let json: Partial<ModelJson>;
  try {
    json = JSON.parse(text) as Partial<ModelJson>;
  } catch (error) {
    throw new BackboneError('bad-model-json', `${where} is not valid JSON: ${(error as Error).message}`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new BackboneError(
      'bad-model-json',
      `${where} is not a TF.js layers model (no modelTopology/weightsManifest)`,
    );
  }
  return json as ModelJson;
}

/** An IOHandler that reads a model.json and its weight files from disk, as SOURCES.md describes. */
export function fileHandler(jsonPath: string): tf.io.IOHandler {
  return {
    async load() {
      const json = parseModelJson(await readFile(jsonPath, 'utf8'), jsonPath);
      const dir = path.dirname(jsonPath);
      const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) {
          const file = path.join(dir, p);
          const bytes = await readFile(file).catch(() => {
            throw new BackboneError('not-found', `weight file missing: ${file} (listed in ${jsonPath})`);
          });
          buffers.push(bytes);
        }
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return { modelTopology: json.modelTopology, weightSpecs, weightData };
    },
  };
}

/** Load a whole layers model (no cut) from a path or URL. */
export async function loadLayersModel(
  source: string,
  cacheDir?: string,
  remote?: RemoteBlobs,
): Promise<tf.LayersModel> {
  const jsonPath = await localModelJson(source, cacheDir, remote);
  return tf.loadLayersModel(fileHandler(jsonPath));
}

/** Find a layer by name, looking inside nested models; returns the model that owns it. */
function findLayer(model: tf.LayersModel, name: string): { owner: tf.LayersModel; layer: tf.layers.Layer } | undefined {
  for (const layer of model.layers) {
    if (layer.name === name) return { owner: model, layer };
    if (layer instanceof tf.LayersModel) {
      const found = findLayer(layer, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** The last layer with a 4-D (spatial) output, looking inside nested models. */
function lastSpatialLayer(model: tf.LayersModel): { owner: tf.LayersModel; layer: tf.layers.Layer } | undefined {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i];
    if (layer instanceof tf.LayersModel) {
      const inner = lastSpatialLayer(layer);
      if (inner) return inner;
    }
    const shape = layer.outputShape;
    if (Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4) return { owner: model, layer };
  }
  return undefined;
}

function allLayerNames(model: tf.LayersModel): string[] {
  return model.layers.flatMap((l) => (l instanceof tf.LayersModel ? [l.name, ...allLayerNames(l)] : [l.name]));
}

/**
 * Load a backbone and cut it at `cutLayer` (default: its last spatial layer).
 * The returned model's single output is the cut layer's NHWC feature map.
 */
export async function loadBackbone(
  source: string,
  opts: { cutLayer?: string; cacheDir?: string; remote?: RemoteBlobs } = {},
): Promise<tf.LayersModel> {
  const full = await loadLayersModel(source, opts.cacheDir, opts.remote);
  const found = opts.cutLayer ? findLayer(full, opts.cutLayer) : lastSpatialLayer(full);
  if (!found) {
    if (!opts.cutLayer) throw new BackboneError('not-spatial', `${source} has no layer with a 4-D output to cut at`);
    const names = allLayerNames(full);
    const near = names.filter((n) => n.includes(opts.cutLayer!) || opts.cutLayer!.includes(n)).slice(0, 5);
    throw new BackboneError(
      'unknown-cut-layer',
      `cut layer "${opts.cutLayer}" is not in ${source}` +
        (near.length ? ` (similar: ${near.join(', ')})` : ` (last layers: ${names.slice(-5).join(', ')})`),
    );
  }
  const output = found.layer.output as tf.SymbolicTensor;
  if (output.shape.length !== 4) {
    throw new BackboneError(
      'not-spatial',
      `cut layer "${found.layer.name}" outputs shape [${output.shape}], not a 4-D feature map`,
    );
  }
  if (found.owner === full && full.outputs.length === 1 && full.outputs[0] === output) return full;
  return tf.model({ inputs: found.owner.inputs, outputs: output, name: `${full.name}_cut_${found.layer.name}` });
}

/** Square input side of a backbone, from its input shape. */
export function inputSizeOf(model: tf.LayersModel): number {
  const [, h, w] = model.inputs[0].shape;
  if (typeof h !== 'number' || h !== w)
    throw new BackboneError('not-spatial', `backbone input is not a fixed square: [${model.inputs[0].shape}]`);
  return h;
}
