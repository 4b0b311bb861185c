/**
 * Open an HTML file in headless Chromium (Debian's `chromium`): the DOM after
 * load, the console messages it logged, and optionally a PNG screenshot.
 * Used by the comparison-page test and to take the screenshot docs/compare-sweep.png (docs/guide/experiments.md#comparison-page):
 *
 *   node --import tsx scripts/headless-chromium.ts page.html [shot.png] [width,height]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export function chromiumBinary(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return (
        execFileSync('which', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined
      );
    } catch {
      // not this one
    }
  }
  return undefined;
}

export interface Rendered {
  dom: string;
  /** Console lines Chromium logged while loading (`CONSOLE(…)` entries): a clean page has none. */
  console: string[];
  exitCode: number | null;
}

export function renderPage(binary: string, page: string, screenshot?: string, size = '1200,1400'): Rendered {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    `--user-data-dir=${profile}`,
    '--enable-logging=stderr',
    '--v=0',
    `--window-size=${size}`,
  ];
  try {
    const url = pathToFileURL(resolve(page)).href;
    const dumped = spawnSync(binary, [...flags, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
    if (screenshot)
      spawnSync(binary, [...flags, `--screenshot=${resolve(screenshot)}`, '--hide-scrollbars', url], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    return {
      dom: dumped.stdout,
      console: (dumped.stderr ?? '').split('\n').filter((line) => /CONSOLE/.test(line)),
      exitCode: dumped.status,
    };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [page, screenshot, size] = process.argv.slice(2);
  const binary = chromiumBinary();
  if (!page || !binary) {
    process.stderr.write(
      binary
        ? 'usage: headless-chromium.ts page.html [shot.png] [width,height]\n'
        : 'chromium is not installed (apt-get install chromium)\n',
    );
    process.exit(2);
  }
  const rendered = renderPage(binary, page, screenshot, size);
  process.stdout.write(
    `exit ${rendered.exitCode}; DOM ${rendered.dom.length} chars, ${(rendered.dom.match(/<svg/g) ?? []).length} svg; console messages: ${rendered.console.length}\n`,
  );
  for (const line of rendered.console) process.stdout.write(`  ${line}\n`);
  if (screenshot) process.stdout.write(`screenshot: ${screenshot}\n`);
  process.exit(rendered.exitCode === 0 && rendered.console.length === 0 ? 0 : 1);
}
