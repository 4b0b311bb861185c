/** `pipeline gc`: remove run-cache and stage-cache files no lock entry needs and no recent run used. */
import { join, relative } from 'node:path';
import { planGarbage, removeGarbage } from '../../cache/garbage-collector.ts';
import { formatBytes, totalBytes } from '../../cache/stage-caches.ts';
import { openProject } from '../../execution/project-session.ts';
import { listRuns } from '../../experiments/run-record.ts';
import { RunLock } from '../../execution/run-lock.ts';
import { isPipelineError } from '../../errors.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline gc [options]

Removes from .pipeline/ the run-cache entries and stage-cache files (such as
a feature store) that no lock entry refers to and no run used in the last
--keep-days days. Deleting them only costs time: a later run recomputes.

  --keep-days <N>     keep what a run used in the last N days (default 30; 0 = keep only what lock entries need)
  --dry-run           list what would be removed and how many bytes; remove nothing`;

export default async function gc(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    options: { 'keep-days': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  });
  if (!options.ok) return options.exitCode;
  const raw = options.values['keep-days'];
  const keepDays = raw === undefined ? 30 : Number(raw);
  if (typeof raw === 'string' && !(raw.trim() !== '' && Number.isFinite(keepDays) && keepDays >= 0)) {
    process.stderr.write(
      `error: --keep-days must be a number of days ≥ 0, got '${raw}'\nRun \`pipeline gc --help\` for its options.\n`,
    );
    return 2;
  }
  const opened = await openProject(options.file, options.set, []);
  if (!opened.ok) {
    printDiagnostics(opened.diagnostics);
    return 1;
  }
  const { workspace, warnings } = opened.session;
  printDiagnostics(warnings);
  const dryRun = options.values['dry-run'] === true;
  // A run in progress may be about to reuse what looks unused: never collect under it.
  let lock: RunLock | undefined;
  if (!dryRun) {
    try {
      lock = RunLock.acquire(join(workspace.dotDir, 'run.lock'), (message) =>
        process.stderr.write(`note: ${message}\n`),
      );
    } catch (error) {
      if (isPipelineError(error, 'locked')) {
        process.stderr.write(`error: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  }
  try {
    // Run records are never collected, and `compare` draws their plots from the run cache: those small files stay.
    const plots = listRuns(workspace.dotDir).flatMap((record) => (record.plots ?? []).map((plot) => plot.hash));
    const groups = await planGarbage({
      root: workspace.root,
      dotDir: workspace.dotDir,
      runCache: workspace.runCache,
      keepDays,
      keepObjects: plots,
    });
    const removeFiles = groups.reduce((n, g) => n + g.remove.length, 0);
    const removeBytes = groups.reduce((n, g) => n + totalBytes(g.remove), 0);
    const removed = dryRun ? undefined : removeGarbage(groups);
    if (options.json) {
      const summary = groups.map((g) => ({
        store: g.store,
        remove: {
          files: g.remove.length,
          bytes: totalBytes(g.remove),
          paths: g.remove.map((f) => relative(workspace.root, f.path)),
        },
        keep: { files: g.keep.length, bytes: totalBytes(g.keep) },
      }));
      process.stdout.write(
        `${JSON.stringify({ dryRun, keepDays, groups: summary, removed: removed ?? null }, null, 2)}\n`,
      );
      return 0;
    }
    for (const g of groups) {
      process.stdout.write(
        `${g.store}: ${dryRun ? 'would remove' : 'removing'} ${g.remove.length} file(s), ${formatBytes(totalBytes(g.remove))}; ` +
          `keeping ${g.keep.length}, ${formatBytes(totalBytes(g.keep))}\n`,
      );
      if (dryRun)
        for (const f of g.remove)
          process.stdout.write(`  ${relative(workspace.root, f.path)}  ${formatBytes(f.bytes)}\n`);
    }
    process.stdout.write(
      dryRun
        ? `would free ${formatBytes(removeBytes)} in ${removeFiles} file(s) (--keep-days ${keepDays}); run without --dry-run to remove them\n`
        : `freed ${formatBytes(removed!.bytes)} in ${removed!.files} file(s) (--keep-days ${keepDays})\n`,
    );
    return 0;
  } finally {
    lock?.release();
  }
}
