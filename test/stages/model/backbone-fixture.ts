/** build-model run on a backbone from ../shared/models, for tests that need its backbone/ folder (ONNX export, info.json). */
import path from 'node:path';
import buildModel from '../../../stages/build-model.ts';
import { makeContext } from './context.ts';

export const SHARED = path.resolve(import.meta.dirname, '../../../../shared');

/** Runs build-model into `root`/out; returns the backbone folder. An empty cutLayer = the last spatial layer. */
export async function buildBackbone(root: string, folder: string, cutLayer = ''): Promise<string> {
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
    },
    outs: ['out/backbone', 'out/model'],
  });
  await buildModel.run(ctx);
  return ctx.outs[0];
}
