/** Rules of the params `test-features` reads (checked by the engine before any stage runs). */
import { defineParams, param } from '../src/contract.ts';
import { sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'data.test_dir': sharedParams['data.test_dir'],
  'predict.tta_flip': sharedParams['predict.tta_flip'],
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.inference': sharedParams['runtime.inference'],
  'runtime.device': sharedParams['runtime.device'],
  'runtime.threads': sharedParams['runtime.threads'],
  'runtime.batch_size': sharedParams['runtime.batch_size'],
  'runtime.feature_store': sharedParams['runtime.feature_store'],
});
