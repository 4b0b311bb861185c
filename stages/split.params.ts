/** Rules of the params `split` reads (checked by the engine before any stage runs). */
import { defineParams, param } from 'pipeline-ml-engine';
import { sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'data.train_dir': param.path({
    what: 'folder',
    description:
      'labelled training images: one sub-folder per class (any names), or the Kaggle flat layout <class>.<id>.jpg',
  }),
  'data.classes': param.names({
    minItems: 2,
    optional: true,
    description:
      'the classes and their order (label k = the k-th); empty = the sub-folders or name prefixes found, sorted',
  }),
  'data.val_fraction': param.number({ gt: 0, lt: 1, description: 'share of each class held out for validation' }),
  'data.seed': param.integer({ min: 0, max: 2 ** 32 - 1, default: 0, description: 'seed of the stratified split' }),
  'data.test_labels': sharedParams['data.test_labels'],
});
