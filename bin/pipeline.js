#!/usr/bin/env node
// Entry point: registers the TypeScript loader, then hands over to the CLI.
// Running the sources directly means a fresh clone works right after `npm ci`
// and an edited stage never runs from a stale build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
