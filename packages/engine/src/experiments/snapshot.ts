/**
 * What `metrics diff` and `params diff` compare: a snapshot of params and
 * metric values, taken from the workspace, a run record, or the pipeline.lock
 * committed at a git revision (its metric values come from the run cache, by
 * each stage's locked fingerprint).
 */
import { basename, dirname } from 'node:path';
import { isWithin } from '../config/paths.ts';
import type { CachedOut } from '../cache/run-cache.ts';
import type { Workspace } from '../execution/workspace.ts';
import { fileAtRevision } from './git-state.ts';
import { collectMetrics, flattenParams, readTextIfPresent, type MetricValues } from './metric-values.ts';
import type { RunRecord } from './run-record.ts';
import { parse } from 'yaml';

export interface Snapshot {
  label: string;
  params: Record<string, unknown>;
  metrics: MetricValues;
  /** Why some metric values are unknown (a locked run no longer in the run cache). */
  notes?: string[];
}

export type SnapshotResult = { ok: true; snapshot: Snapshot } | { ok: false; error: string };

/** The params of the stages given, flattened into one dotted-key map (the same param reads the same in every stage). */
function unionParams(stages: Iterable<{ params: Record<string, unknown> }>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const stage of stages) flattenParams(stage.params, params);
  return sortedKeys(params);
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

export function workspaceSnapshot(workspace: Workspace): Snapshot {
  const stages = [...workspace.pipeline.stages.values()];
  return {
    label: 'workspace',
    params: unionParams(stages),
    metrics: collectMetrics(stages, (_stage, file) => readTextIfPresent(workspace.absolute(file))),
  };
}

export function recordSnapshot(record: RunRecord): Snapshot {
  return { label: record.id, params: unionParams(Object.values(record.stages)), metrics: record.metrics };
}

/**
 * The committed pipeline.lock at `rev`: its params, and the metric values of
 * the outs it records, read back from the run cache (a stage whose locked run
 * is not in this cache has no values).
 */
export async function revisionSnapshot(workspace: Workspace, rev: string): Promise<SnapshotResult> {
  const lockFile = workspace.lockFile;
  const text = fileAtRevision({ dir: dirname(lockFile), name: basename(lockFile) }, rev);
  if (text === undefined)
    return {
      ok: false,
      error: `${rev}: no such run id, and no ${basename(lockFile)} committed at git revision "${rev}"`,
    };
  let lock: { stages?: Record<string, { fingerprint?: string; params?: Record<string, unknown> }> };
  try {
    lock = (parse(text) ?? {}) as typeof lock;
  } catch {
    return { ok: false, error: `${basename(lockFile)} at ${rev} is not valid YAML` };
  }
  const entries = lock.stages ?? {};
  const outsByStage = new Map<string, CachedOut[]>();
  const notes: string[] = [];
  for (const stage of workspace.pipeline.stages.values()) {
    const fingerprint = entries[stage.name]?.fingerprint;
    if (stage.metrics.length === 0 || typeof fingerprint !== 'string') continue;
    const cached = await workspace.runCache.lookup(fingerprint);
    if (cached) outsByStage.set(stage.name, cached.outs);
    else
      notes.push(
        `the run of stage ${stage.name} that ${basename(lockFile)} records at ${rev} is not in the run cache: its metrics are unknown`,
      );
  }
  const metrics = collectMetrics(workspace.pipeline.stages.values(), (stage, file) => {
    const hash = cachedFileHash(outsByStage.get(stage.name) ?? [], file);
    return hash === undefined ? undefined : readTextIfPresent(workspace.runCache.objectPath(hash));
  });
  return {
    ok: true,
    snapshot: {
      label: rev,
      params: unionParams(Object.values(entries).map((e) => ({ params: e.params ?? {} }))),
      metrics,
      ...(notes.length ? { notes } : {}),
    },
  };
}

/** The content hash of `file` among a cached run's outs (the out itself, or an entry of a folder out). */
export function cachedFileHash(outs: CachedOut[], file: string): string | undefined {
  for (const out of outs) {
    if (out.path === file && out.kind === 'file') return out.hash;
    if (out.kind === 'dir' && isWithin(file, out.path))
      return out.manifest?.find((entry) => `${out.path}/${entry.path}` === file)?.hash;
  }
  return undefined;
}

/**
 * A reference as the user writes it: `workspace`, a run id (or a unique
 * prefix of one), else a git revision whose pipeline.lock is read.
 */
export async function resolveSnapshot(workspace: Workspace, runs: RunRecord[], ref: string): Promise<SnapshotResult> {
  if (ref === 'workspace') return { ok: true, snapshot: workspaceSnapshot(workspace) };
  const exact = runs.find((r) => r.id === ref);
  const matches = exact ? [exact] : runs.filter((r) => r.id.startsWith(ref));
  if (matches.length === 1) return { ok: true, snapshot: recordSnapshot(matches[0]) };
  if (matches.length > 1)
    return {
      ok: false,
      error: `"${ref}" matches ${matches.length} runs (${matches
        .slice(0, 3)
        .map((r) => r.id)
        .join(', ')}…); give more of the id`,
    };
  return revisionSnapshot(workspace, ref);
}

/**
 * The default baseline: the pipeline.lock of the last commit (like `dvc metrics diff`), or, outside git or
 * before the lock is committed, the run before the latest one (the latest made the workspace).
 */
export async function defaultBaseline(workspace: Workspace, runs: RunRecord[]): Promise<SnapshotResult> {
  const committed = await revisionSnapshot(workspace, 'HEAD');
  if (committed.ok) return committed;
  if (runs.length >= 2) return { ok: true, snapshot: recordSnapshot(runs[runs.length - 2]) };
  return {
    ok: false,
    error:
      'nothing to compare with: no pipeline.lock committed in git and fewer than two recorded runs (name two: pipeline metrics diff RUN_A RUN_B)',
  };
}
