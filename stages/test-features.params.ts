/** Rules of the params `test-features` reads (checked by the engine before any stage runs). */
import { defineParams } from 'pipeline-ml-engine';
import { featurisationParams, sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'data.test_dir': sharedParams['data.test_dir'],
  'predict.tta_flip': sharedParams['predict.tta_flip'],
  ...featurisationParams,
});
