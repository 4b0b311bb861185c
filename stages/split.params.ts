/** Rules of the params `split` reads (checked by the engine before any stage runs). */
import { defineParams, param } from '../src/contract.ts';

export default defineParams({
  'data.train_dir': param.path({ what: 'folder', description: 'labelled training images: Kaggle flat cat.N.jpg/dog.N.jpg, or cat/ and dog/ sub-folders' }),
  'data.val_fraction': param.number({ gt: 0, lt: 1, description: 'share of each class held out for validation' }),
  'data.seed': param.integer({ min: 0, max: 2 ** 32 - 1, default: 0, description: 'seed of the stratified split' }),
});
