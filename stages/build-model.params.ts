/** Rules of the params `build-model` reads (checked by the engine before any stage runs). */
import { defineParams, param } from 'pipeline-ml-engine';
import { CALIBRATION_METHODS, PREPROCESS_NAMES, sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'model.backbone': param.string({
    expects: 'a path or an http(s) URL to a TF.js layers model.json (or its folder)',
    description: 'ImageNet backbone: a TF.js layers model folder or model.json, local or http(s)',
  }),
  'model.cut_layer': param.string({
    optional: true,
    description: 'layer the frozen base ends at; empty = the whole backbone',
  }),
  'model.input_size': param.integer({
    min: 1,
    optional: true,
    description: "input side in pixels; empty = the backbone's own",
  }),
  'model.preprocess': param.oneOf(PREPROCESS_NAMES, {
    default: 'tf',
    description: 'pixel scaling: tf = x/127.5−1, unit = x/255, caffe = BGR minus ImageNet means',
  }),
  'model.dropout': sharedParams['model.dropout'],
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.threads': sharedParams['runtime.threads'],
  'runtime.precision': sharedParams['runtime.precision'],
  'quantize.method': param.oneOf(CALIBRATION_METHODS, {
    default: 'percentile',
    description:
      'int8 activation ranges: minmax (observed), percentile (|x| at 99.99%), entropy (KL-optimal clip); read when runtime.precision is int8',
  }),
  'quantize.images': param.integer({
    min: 1,
    default: 64,
    description: 'training images (never validation or test) the int8 calibration runs on',
  }),
  'quantize.seed': param.integer({
    min: 0,
    default: 42,
    description: 'seed of the calibration sample drawn from the training list',
  }),
});
