/** Rules of the params `visualize` reads (checked by the engine before any stage runs). */
import { defineParams, param } from 'pipeline-ml-engine';
import { sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'visualize.per_class': param.integer({
    min: 1,
    default: 6,
    description: 'class activation maps per true class (the most confident mistakes first)',
  }),
  'visualize.cols': param.integer({ min: 1, default: 4, description: 'columns of the CAM grid' }),
  'visualize.alpha': param.number({ min: 0, max: 1, default: 0.45, description: 'opacity of the CAM overlay' }),
  'data.test_dir': sharedParams['data.test_dir'],
  'data.test_labels': sharedParams['data.test_labels'],
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.inference': sharedParams['runtime.inference'],
  'runtime.device': sharedParams['runtime.device'],
  'runtime.threads': sharedParams['runtime.threads'],
  'runtime.batch_size': sharedParams['runtime.batch_size'],
});
