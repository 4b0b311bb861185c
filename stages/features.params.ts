/** Rules of the params `features` reads (checked by the engine before any stage runs). */
import { defineParams } from '../src/contract.ts';
import { sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.inference': sharedParams['runtime.inference'],
  'runtime.device': sharedParams['runtime.device'],
  'runtime.threads': sharedParams['runtime.threads'],
  'runtime.batch_size': sharedParams['runtime.batch_size'],
  'runtime.feature_store': sharedParams['runtime.feature_store'],
});
