/**
 * No-op benchmark: a 2-stage pipeline whose first stage depends on a folder
 * of 25,000 small files. Prints the first (cold) run, the cold re-hash, and
 * the median no-op `pipeline run`, next to `snakemake -n` and `make -q` on
 * the same graph. Run it alone: `npm run bench:noop`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = Number(process.env.BENCH_FILES ?? 25_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const CLI = fileURLToPath(new URL('../packages/engine/bin/pipeline.js', import.meta.url));

function timed(
  command: string,
  args: string[],
  cwd: string,
  expectCode = 0,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...env, CI: '1' } });
  const seconds = (performance.now() - started) / 1000;
  if (result.error) throw result.error;
  if (result.status !== expectCode)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** The comparison rows are the point of this bench: install Debian's snakemake when it is missing (needs root and apt). */
function ensureSnakemake(): void {
  if (available('snakemake')) return;
  console.error("snakemake not found: installing Debian's package (apt-get install snakemake)…");
  const apt = (...args: string[]) =>
    spawnSync('apt-get', args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  apt('update', '-q');
  const installed = apt('install', '-y', '-q', '--no-install-recommends', 'snakemake');
  if (installed.status !== 0 || !available('snakemake'))
    throw new Error('could not install snakemake: run `apt-get install snakemake` as root, then this bench again');
}

const dir = mkdtempSync(join(tmpdir(), 'pipeline-bench-'));
try {
  mkdirSync(join(dir, 'data'));
  for (let i = 0; i < FILES; i++)
    writeFileSync(join(dir, 'data', `f${String(i).padStart(5, '0')}.txt`), `sample ${i}\n`);
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `stages:
  index:
    cmd: ls data | wc -l > index.txt
    deps: [data]
    outs: [index.txt]
  summary:
    cmd: cat index.txt > summary.txt
    deps: [index.txt]
    outs: [summary.txt]
`,
  );
  writeFileSync(
    join(dir, 'Snakefile'),
    `import glob
rule all:
    input: "summary.txt"
rule index:
    input: sorted(glob.glob("data/*.txt"))
    output: "index.txt"
    shell: "ls data | wc -l > index.txt"
rule summary:
    input: "index.txt"
    output: "summary.txt"
    shell: "cat index.txt > summary.txt"
`,
  );
  writeFileSync(
    join(dir, 'Makefile'),
    'summary.txt: index.txt\n\tcat index.txt > summary.txt\nindex.txt: $(wildcard data/*.txt)\n\tls data | wc -l > index.txt\n',
  );

  const rows: [string, number][] = [];
  // The CLI started as a program, as `npx pipeline` starts it (its launcher line, see packages/engine/bin/pipeline.js).
  rows.push(['pipeline run, first (cold hash of all files + 2 stages)', timed(CLI, ['run'], dir)]);
  rows.push(['pipeline run, no-op (median)', median(Array.from({ length: REPEATS }, () => timed(CLI, ['run'], dir)))]);
  rows.push([
    'pipeline status, up to date (median)',
    median(Array.from({ length: REPEATS }, () => timed(CLI, ['status'], dir))),
  ]);
  // For reference: what of that is Node's own start, and what a CA bundle named by NODE_EXTRA_CA_CERTS adds to a start
  // that goes straight to node (Node 20 parses it before any script runs; the launcher line avoids that).
  rows.push([
    "Node's own start, `node -e 0` (median)",
    median(Array.from({ length: REPEATS }, () => timed(process.execPath, ['-e', '0'], dir))),
  ]);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    rows.push([
      '`node packages/engine/bin/pipeline.js run`, no-op, parsing NODE_EXTRA_CA_CERTS (median)',
      median(Array.from({ length: REPEATS }, () => timed(process.execPath, [CLI, 'run'], dir))),
    ]);
  }
  // The whole hash cache: the state and the per-folder file hashes beside it.
  rmSync(join(dir, '.pipeline', 'state.json'));
  rmSync(join(dir, '.pipeline', 'state-folders'), { recursive: true, force: true });
  rows.push(['pipeline status without hash cache (re-reads every file)', timed(CLI, ['status'], dir)]);
  ensureSnakemake();
  {
    timed('snakemake', ['-c1', '-q'], dir);
    rows.push([
      'snakemake -n, up to date (median)',
      median(Array.from({ length: REPEATS }, () => timed('snakemake', ['-n', '-q', '-c1'], dir))),
    ]);
  }
  if (available('make')) {
    timed('make', ['-s'], dir);
    rows.push([
      'make -q, up to date (median)',
      median(Array.from({ length: REPEATS }, () => timed('make', ['-q'], dir))),
    ]);
  }
  console.log(`${FILES} files, ${REPEATS} repeats, wall seconds including process start\n`);
  console.log('| check | seconds |\n|---|---|');
  for (const [label, seconds] of rows) console.log(`| ${label} | ${seconds.toFixed(3)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
