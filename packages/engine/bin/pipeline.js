#!/bin/sh
//usr/bin/true; if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then export PIPELINE_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
// `pipeline`: the engine's CLI, compiled from src/ into dist/ by `npm run build` (`prepare` runs it on `npm ci`, `npm pack`).
// Run as a program (`npx pipeline`), the shell reads the line above and JavaScript skips it: Node 20 parses the CA bundle
// NODE_EXTRA_CA_CERTS names at every start (measured 0.07 s of CPU, docs/benchmarks.md#start-up-levers) and the engine opens no TLS
// connection; start() puts the variable back for the stages.
import { start } from '../dist/cli/start.js';

await start(process.argv.slice(2));
