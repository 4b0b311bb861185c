#!/bin/sh
//usr/bin/true; if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then export PIPELINE_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
// ^ Run as a program (`npx pipeline`, `./bin/pipeline.js`), the shell reads the line above and JavaScript skips it: Node 20
// parses the CA bundle NODE_EXTRA_CA_CERTS names at every start (0.04 to 0.09 s, a third of a no-op run), and the engine
// never opens a TLS connection (nothing is fetched to plan a run). The variable is put back below, so stages have it.
// Entry point: starts the folder scans a run will want (scan-prefetch.js), loads the engine (a bundle of src/ rebuilt
// whenever src/ changes, see engine-bundle.js), then hands over to the CLI. A fresh clone works right after `npm ci`.
import { prefetchScans } from './scan-prefetch.js';

if (process.env.PIPELINE_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.PIPELINE_NODE_EXTRA_CA_CERTS;
  delete process.env.PIPELINE_NODE_EXTRA_CA_CERTS;
}
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
