/**
 * Every relative link in README.md, CONTRIBUTING.md and docs/ leads somewhere: the file exists, and a `#anchor` names a
 * heading of the Markdown file it points into (GitHub's slugs). Also no section-owner comments in the docs.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function docFiles(): string[] {
  const docs = readdirSync(path.join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => path.join('docs', file));
  return ['README.md', 'CONTRIBUTING.md', ...docs].sort();
}

/** The text outside fenced code blocks and inline code: links and headings there are not links or headings. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()]/g, ' '));
}

/** Link targets of `[text](target)` and `![alt](target)`, without an optional title. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const plain = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function brokenLinks(file: string): string[] {
  const markdown = readFileSync(path.join(root, file), 'utf8');
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: — not checked here
    const [rawPath, anchor] = target.split('#', 2);
    const linked =
      rawPath === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURI(rawPath));
    if (!linked.startsWith(root)) {
      problems.push(`${file}: ${target} points outside the repo`);
      continue;
    }
    if (!existsSync(linked)) {
      problems.push(`${file}: ${target} does not exist`);
      continue;
    }
    if (anchor !== undefined && linked.endsWith('.md') && statSync(linked).isFile()) {
      if (!headingAnchors(readFileSync(linked, 'utf8')).has(anchor)) {
        problems.push(`${file}: ${target}: no heading #${anchor} in ${path.relative(root, linked)}`);
      }
    }
  }
  return problems;
}

describe('documentation links', () => {
  test('the pages are there', () => {
    const files = docFiles();
    for (const page of [
      'README.md',
      'CONTRIBUTING.md',
      'docs/reference/pipeline-yaml.md',
      'docs/reference/cli.md',
      'docs/architecture.md',
      'docs/benchmarks.md',
      'docs/dogs-vs-cats.md',
    ]) {
      assert.ok(files.includes(page), `${page} is missing`);
    }
  });

  for (const file of docFiles()) {
    test(`${file}: every relative link resolves`, () => {
      assert.deepEqual(brokenLinks(file), []);
    });

    test(`${file}: no section-owner comments`, () => {
      const markdown = readFileSync(path.join(root, file), 'utf8');
      assert.deepEqual(markdown.match(/<!--[^>]*\b(owner|section|engine|bench):[^>]*-->/g) ?? [], []);
    });
  }

  test('the link checker sees what it must', () => {
    const sample =
      '# A `code` heading: yes!\n## Same\n## Same\n[a](x.md#y) ![b](img.png) `[not](a-link)`\n```\n[nor](this)\n# not a heading\n```\n';
    assert.deepEqual(linkTargets(sample), ['x.md#y', 'img.png']);
    assert.deepEqual([...headingAnchors(sample)], ['a-code-heading-yes', 'same', 'same-1']);
  });
});
