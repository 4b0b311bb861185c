#!/usr/bin/env node
// Entry point: loads the engine (a bundle of src/ rebuilt whenever src/ changes, see
// engine-bundle.js), then hands over to the CLI. A fresh clone works right after `npm ci`.
import { engineEntry } from './engine-bundle.js';

const { main } = await import(await engineEntry());
process.exitCode = await main(process.argv.slice(2));
