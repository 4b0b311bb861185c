/** Rules of the params `predict` reads (checked by the engine before any stage runs). */
import { defineParams, param } from 'pipeline-ml-engine';
import { sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'data.test_labels': sharedParams['data.test_labels'],
  'predict.clip': param.number({
    min: 0,
    lt: 0.5,
    default: 0,
    falseIsZero: true,
    description: 'clip P(dog) (with more classes: each class probability, then renormalised) to [clip, 1−clip]',
  }),
  'predict.tta_flip': sharedParams['predict.tta_flip'],
});
