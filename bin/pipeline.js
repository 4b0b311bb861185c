#!/usr/bin/env node
// Entry point: starts the folder scans a run will want (scan-prefetch.js), loads the engine (a bundle of src/ rebuilt
// whenever src/ changes, see engine-bundle.js), then hands over to the CLI. A fresh clone works right after `npm ci`.
import { prefetchScans } from './scan-prefetch.js';

prefetchScans(process.argv.slice(2));
const { engineEntry } = await import('./engine-bundle.js');
const { main } = await import(await engineEntry());
process.exitCode = await main(process.argv.slice(2));
