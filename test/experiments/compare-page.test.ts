/** The comparison page: structure checked always; rendered in headless Chromium when it is installed. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderPage } from '../../scripts/headless-chromium.ts';
import { chromium } from '../machine.ts';
import { parseSeriesCsv } from '../../packages/engine/src/experiments/compare-page.ts';
import { ExperimentProject } from './experiments-fixture.ts';

/** Open/close tags balance (void elements and `/>` aside): the page is well formed. */
function unbalancedTags(html: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  const voids = new Set(['meta', 'br', 'img', 'input', 'link', 'hr']);
  for (const match of html.replace(/<!doctype[^>]*>/i, '').matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing || voids.has(name.toLowerCase())) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) problems.push(`</${name}> at ${match.index}`);
  }
  return [...problems, ...stack.map((name) => `<${name}> never closed`)];
}

describe('comparison page', () => {
  let project: ExperimentProject;
  let page: string;
  let html: string;
  before(async () => {
    project = new ExperimentProject();
    const result = await project.run(
      'sweep',
      '--json',
      '--set',
      'train.lr=0.1,0.2,0.4',
      '--set',
      'train.batch_size=16,32',
      '--metric',
      'train.loss',
      '--jobs',
      '3',
    );
    assert.equal(result.code, 0, result.stderr);
    page = project.path(JSON.parse(result.stdout).page.replace(/^.*\.pipeline/, '.pipeline'));
    html = project.read(page.slice(project.dir.length + 1));
  });
  after(() => project.remove());

  test('self-contained, well formed: runs table, metric vs swept param, overlaid curves', () => {
    assert.deepEqual(unbalancedTags(html), []);
    assert.doesNotMatch(html, /<script|<link|src=|href=|@import/i, 'no scripts, no external assets');
    assert.deepEqual(
      html.match(/https?:\/\/[^"]*/g),
      Array(3).fill('http://www.w3.org/2000/svg'),
      'the only URL is the SVG namespace',
    );
    assert.equal((html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr/g) ?? []).length, 6, 'one row per variant');
    const charts = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(charts.length, 3, 'train.loss against train.lr, then the loss and val_loss curves');
    assert.match(charts[0], /aria-label="train\.loss \(lower is better\)"/);
    assert.match(charts[0], /train\.lr \(log scale\)|train\.lr</);
    assert.equal((charts[0].match(/<path /g) ?? []).length, 2, 'one line per batch_size');
    assert.equal((charts[1].match(/<path /g) ?? []).length, 6, 'one training curve per variant');
    assert.match(html, /<h2>out\/train\/history\.csv<\/h2>/);
  });

  test('CSV series parse: header, numbers', () => {
    assert.deepEqual(parseSeriesCsv('epoch,loss\n1,0.5\n2,0.25\n'), {
      columns: ['epoch', 'loss'],
      rows: [
        [1, 0.5],
        [2, 0.25],
      ],
    });
  });

  test('pipeline compare writes the page of recorded runs', async () => {
    const result = await project.run('compare', '--sweep', 'last', '--metric', 'train.acc', '--max', '-o', 'cmp.html');
    assert.equal(result.code, 0, result.stderr);
    const written = project.read('cmp.html');
    assert.deepEqual(unbalancedTags(written), []);
    assert.match(written, /sorted by train\.acc \(largest first\)/);
  });

  const browser = chromium();
  test('renders in headless Chromium without console errors', { skip: browser.skip }, () => {
    const rendered = renderPage(browser.binary!, page);
    assert.equal(rendered.exitCode, 0);
    assert.deepEqual(rendered.console, []);
    assert.equal((rendered.dom.match(/<svg/g) ?? []).length, 3, 'the SVG charts are in the rendered DOM');
    assert.match(
      rendered.dom,
      /<td><span title="run [^"]+">v\d<\/span><\/td>/,
      'the runs table is in the rendered DOM',
    );
  });
});
