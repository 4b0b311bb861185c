#!/usr/bin/env node
// `pipeline`: the engine's CLI, compiled from src/ into dist/ by `npm run build` (`prepare` runs it on `npm ci`,
// `npm pack` and a git install). Stage modules are not compiled: the engine runs them from their TypeScript source.
import { start } from '../dist/cli/start.js';

await start(process.argv.slice(2));
