/** Rules of the params `features` reads (checked by the engine before any stage runs). */
import { defineParams } from 'pipeline-ml-engine';
import { featurisationParams } from './lib/stage/shared-params.ts';

export default defineParams({ ...featurisationParams });
