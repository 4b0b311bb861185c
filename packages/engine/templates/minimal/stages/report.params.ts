/** Rules of the params `report` reads: the engine checks them before any stage runs (`npx pipeline params` lists them). */
import { defineParams, param } from 'pipeline-ml-engine';

export default defineParams({
  'report.top': param.integer({ min: 1, description: 'how many of the most frequent words to list' }),
});
