#!/usr/bin/env node
// Entry point: starts the folder scans a run will want (scan-prefetch.js), loads the engine (a bundle of src/ rebuilt
// whenever src/ changes, see engine-bundle.js), then hands over to the CLI. A fresh clone works right after `npm ci`.
import { prefetchScans } from './scan-prefetch.js';

const argv = process.argv.slice(2);
// `pipeline params | head`: the reader went away; the output simply ends, without a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
prefetchScans(argv);
const { loadEngine } = await import('./engine-bundle.js');
const { main, saveCache } = await loadEngine(argv);
process.exitCode = await main(argv);
saveCache();
