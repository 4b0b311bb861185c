// Folder scans started before the engine loads. A no-op `pipeline run` on a big folder dep spends about as long
// scanning the folder (find, one stat per file, in a child process) as loading the engine and the pipeline: started
// here, the scan runs on another core meanwhile. The folders and the scan command come from the hash cache
// (.pipeline/state.json, written by src/fingerprint/state-store.ts), for folders it marked as fit: scanned by find,
// big, no symlink inside. Every folder of such a folder is watched (inotify) from before the scan starts; the hasher
// (src/fingerprint/path-hasher.ts) takes a scan only if no event came and the folder is still the same directory, so
// what it gets is what a scan at that moment would give, whatever the engine did in between (put back outs, ran a
// stage). It takes each scan once, only when it matches the folder's record; otherwise it scans as usual.
import { spawn } from 'node:child_process';
import { readFileSync, statSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const PREFETCHED_SCANS = Symbol.for('pipeline.prefetchedScans');
/** The biggest few folders only: each is one more process on a machine that may have two cores. */
const MAX_FOLDERS = 4;

/** Start the scans a `run` or `status` of the pipeline named in `argv` will want. Never throws; does nothing off Linux. */
export function prefetchScans(argv) {
  // inotify reports a change before the call that made it returns; other platforms' watchers may report it late.
  if (process.platform !== 'linux' || (argv[0] !== 'run' && argv[0] !== 'status')) return;
  let state;
  try {
    state = JSON.parse(readFileSync(join(dirname(resolve(pipelineFile(argv))), '.pipeline', 'state.json'), 'utf8'));
  } catch {
    return;
  }
  if (state?.version !== 3 || !Array.isArray(state.folders)) return;
  const folders = state.folders
    .filter(([absFolder, scan, , , files, prefetch]) => typeof absFolder === 'string' && typeof scan === 'string' && Number.isInteger(files) && isPrefetch(prefetch))
    .sort((a, b) => b[4] - a[4])
    .slice(0, MAX_FOLDERS);
  if (folders.length === 0) return;
  const scans = new Map();
  globalThis[PREFETCHED_SCANS] = scans;
  for (const [absFolder, scan, , , , { command, watch: watched }] of folders) {
    const started = startScan(absFolder, scan, command, watched);
    if (started) scans.set(absFolder, started);
  }
}

/** `-f`/`--file` as the CLI reads it (src/cli/options.ts), else pipeline.yaml. */
function pipelineFile(argv) {
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if ((argv[i] === '-f' || argv[i] === '--file') && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith('--file=')) return argv[i].slice('--file='.length);
    if (argv[i].startsWith('-f') && argv[i].length > 2 && !argv[i].startsWith('--')) return argv[i].slice(2);
  }
  return 'pipeline.yaml';
}

function isPrefetch(prefetch) {
  const strings = (value) => Array.isArray(value) && value.every((item) => typeof item === 'string');
  return strings(prefetch?.command) && prefetch.command.length > 0 && strings(prefetch.watch) && prefetch.watch.includes('');
}

const identity = (absFolder) => {
  const { dev, ino } = statSync(absFolder);
  return `${dev}:${ino}`;
};

function startScan(absFolder, expected, command, folders) {
  let changed = false;
  const watchers = [];
  const close = () => {
    for (const watcher of watchers) watcher.close();
    watchers.length = 0;
  };
  let folderIdentity;
  try {
    folderIdentity = identity(absFolder);
    for (const folder of folders) {
      const watcher = watch(folder === '' ? absFolder : join(absFolder, folder), { persistent: false }, () => (changed = true));
      watcher.on('error', () => (changed = true));
      watchers.push(watcher);
    }
    if (identity(absFolder) !== folderIdentity) throw new Error('replaced while being watched');
  } catch {
    close(); // gone, unreadable, out of inotify watches…: the hasher scans it itself
    return undefined;
  }
  const child = spawn(command[0], command.slice(1), { cwd: absFolder, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks = [];
  child.stdout.on('data', (chunk) => chunks.push(chunk));
  const output = new Promise((resolve) => {
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
  });
  // Not taken (the folder is no dep of what runs), it must not hold the process.
  child.unref();
  child.stdout.unref();
  return {
    command,
    expected,
    async take() {
      child.ref();
      child.stdout.ref();
      const buffer = await output;
      // Two turns of the event loop: the second polls for I/O after this point, so every inotify event queued by a
      // change made before now has reached its watcher.
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      close();
      let same = false;
      try {
        same = identity(absFolder) === folderIdentity;
      } catch {
        // Gone.
      }
      return buffer !== undefined && !changed && same ? buffer : undefined;
    },
    discard() {
      close();
      child.kill();
    },
  };
}
