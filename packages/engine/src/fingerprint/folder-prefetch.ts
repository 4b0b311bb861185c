/**
 * Scans of a project's large folders started as a command begins, before the
 * engine has loaded, so that the scan (a stat per file: about 0.08 s for 25,000
 * files) runs beside the loading instead of after it. Measured in
 * docs/benchmarks.md#start-up-levers. The folders are the largest ones the state
 * store recorded in the last run.
 *
 * A prefetched scan shows a folder as it was when the command started. So each
 * is handed out once, and none after the command's first write into the
 * project (endFolderPrefetch): from then on every folder is scanned when hashed.
 */
import { StateStore } from './state-store.ts';
import { scanWithFindAsync, type FolderScan } from './path-hasher.ts';

/** Below this many files a scan costs about a millisecond: not worth a process. */
const MIN_FILES = 1_000;
/** At most this many finds at once: enough for the dep folders of a data pipeline, few on a 2-core machine. */
const MAX_FOLDERS = 4;

const pending = new Map<string, Promise<FolderScan | undefined>>();

/** Starts scanning the largest folders `stateFile` (`.pipeline/state.json`) recorded. Returns at once. */
export function startFolderPrefetch(stateFile: string): void {
  const largest = StateStore.load(stateFile)
    .recordedFolders()
    .filter(([, record]) => record.files >= MIN_FILES)
    .sort(([, a], [, b]) => b.files - a.files)
    .slice(0, MAX_FOLDERS);
  for (const [absFolder] of largest) pending.set(absFolder, scanWithFindAsync(absFolder));
}

/** The folder's prefetched scan, once; undefined when there is none (or it failed): scan it now. */
export function takePrefetchedScan(absFolder: string): Promise<FolderScan | undefined> | undefined {
  const scan = pending.get(absFolder);
  pending.delete(absFolder);
  return scan;
}

/** The command is about to write into the project (restore, run a stage, recover): no prefetched scan is current any more. */
export function endFolderPrefetch(): void {
  pending.clear();
}
