/** build-model run on a backbone from ../shared/models, for tests that need its backbone/ folder (ONNX export, info.json). */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import buildModel from '../../../stages/build-model.ts';
import { writeClassList } from '../../../stages/lib/data/class-list.ts';
import { makeContext } from './context.ts';

export const SHARED = path.resolve(import.meta.dirname, '../../../../shared');

/**
 * Runs build-model into `root`/out; returns the backbone folder. An empty cutLayer = the last spatial layer.
 * `int8`: runtime.precision int8, calibrated on the images of `int8.trainCsv` (a split's train.csv).
 * `classesDir`: split's classes/ folder; without one, a cat/dog class list is written under `root`.
 */
export async function buildBackbone(
  root: string,
  folder: string,
  cutLayer = '',
  int8?: { trainCsv: string; method?: string; images?: number },
  classesDir?: string,
): Promise<string> {
  const classes = classesDir ?? path.join(root, 'classes');
  if (!classesDir) {
    await mkdir(classes, { recursive: true });
    await writeClassList(classes, ['cat', 'dog']);
  }
  const ctx = makeContext({
    stage: 'build-model',
    root,
    params: {
      'model.backbone': path.join(SHARED, 'models', folder),
      'model.cut_layer': cutLayer,
      'model.input_size': 224,
      'model.preprocess': 'tf',
      'model.dropout': 0.5,
      'runtime.backend': 'cpu',
      'runtime.threads': 0,
      'runtime.precision': int8 ? 'int8' : 'fp32',
      'quantize.method': int8?.method ?? 'minmax',
      'quantize.images': int8?.images ?? 64,
      'quantize.seed': 42,
    },
    deps: [classes, ...(int8 ? [path.dirname(int8.trainCsv)] : [])],
    outs: ['out/backbone', 'out/model'],
  });
  await buildModel.run(ctx);
  return ctx.outs[0];
}
