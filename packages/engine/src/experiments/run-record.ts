/**
 * Run records: one small JSON file per `pipeline run` (or sweep variant) under
 * `.pipeline/runs/`, never rewritten. What ran with which params, what each
 * stage did, and the metric values the outs held afterwards.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../atomic-write.ts';
import type { RunFigures } from '../contract.ts';
import type { StageResult } from '../execution/stage-result.ts';
import { describeFailure } from '../execution/stage-failure.ts';
import type { Workspace } from '../execution/workspace.ts';
import type { GitState } from './git-state.ts';
import { collectMetrics, readTextIfPresent, type MetricValues } from './metric-values.ts';

export interface StageRecord {
  action: StageResult['action'];
  seconds: number;
  /** The params the stage used in this run, dotted key → value. */
  params: Record<string, unknown>;
  error?: string;
  /** Set when the stage ran and left its outs byte-equal to what was there before. */
  outsUnchanged?: true;
  /** What the stage reported about this run of itself (`ctx.report`: timings, rates); never in its outs. */
  figures?: RunFigures;
}

/** A plot file as the run left it: its content is in the run cache under `hash` (when the stage is cached). */
export interface PlotRecord {
  stage: string;
  path: string;
  hash: string;
}

export interface RunRecord {
  schema: 1;
  id: string;
  started: string;
  ended: string;
  git: GitState | null;
  /** `--set` overrides given to this run. */
  set: string[];
  /** Set when the run was a sweep variant. */
  sweep?: { id: string; variant: string };
  stages: Record<string, StageRecord>;
  metrics: MetricValues;
  plots: PlotRecord[];
}

/** The figures the stages of a run reported, named like metrics: `features.imagesPerSecond`. */
export function runFigures(record: RunRecord): MetricValues {
  const figures: MetricValues = {};
  for (const [stage, { figures: reported }] of Object.entries(record.stages))
    for (const [name, value] of Object.entries(reported ?? {})) figures[`${stage}.${name}`] = value;
  return figures;
}

export function runsFolder(dotDir: string): string {
  return join(dotDir, 'runs');
}

/** Every readable record, oldest first (ids sort by start time). */
export function listRuns(dotDir: string): RunRecord[] {
  const folder = runsFolder(dotDir);
  if (!existsSync(folder)) return [];
  const records: RunRecord[] = [];
  for (const name of readdirSync(folder)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    try {
      const record = JSON.parse(readFileSync(join(folder, name), 'utf8')) as RunRecord;
      if (record.schema === 1 && typeof record.id === 'string') records.push(record);
    } catch {
      // A foreign or truncated file: not a record.
    }
  }
  return records.sort((a, b) => a.started.localeCompare(b.started) || a.id.localeCompare(b.id));
}

/** Append a record; an id already taken gets a suffix rather than overwriting history. */
export function appendRun(dotDir: string, record: RunRecord): string {
  const folder = runsFolder(dotDir);
  mkdirSync(folder, { recursive: true });
  let id = record.id;
  for (let n = 2; existsSync(join(folder, `${id}.json`)); n++) id = `${record.id}-${n}`;
  const file = join(folder, `${id}.json`);
  writeFileAtomicSync(file, `${JSON.stringify({ ...record, id }, null, 1)}\n`);
  return file;
}

/** Build the record of a finished run from the workspace it ran in (metrics and plots read from its outs now). */
export async function recordOf(
  workspace: Workspace,
  run: {
    id: string;
    started: Date;
    results: StageResult[];
    set: string[];
    sweep?: RunRecord['sweep'];
    /** The git state taken when the run started (gitStateInBackground). */
    git: GitState | undefined;
  },
): Promise<RunRecord> {
  const stages: Record<string, StageRecord> = {};
  for (const r of run.results) {
    stages[r.stage] = {
      action: r.action,
      seconds: Math.round(r.seconds * 1000) / 1000,
      params: workspace.stage(r.stage).params,
      ...(r.failure ? { error: describeFailure(r.failure) } : {}),
      ...(r.outsUnchanged ? { outsUnchanged: true as const } : {}),
      ...(r.figures ? { figures: r.figures } : {}),
    };
  }
  const declared = [...workspace.pipeline.stages.values()];
  const metrics = collectMetrics(declared, (_stage, file) => readTextIfPresent(workspace.absolute(file)));
  const plots: PlotRecord[] = [];
  for (const stage of declared)
    for (const path of stage.plots) {
      const hashed = await workspace.hasher.hashPath(workspace.absolute(path));
      if (hashed.kind === 'file') plots.push({ stage: stage.name, path, hash: hashed.hash });
    }
  workspace.saveState();
  const { git } = run;
  return {
    schema: 1,
    id: run.id,
    started: run.started.toISOString(),
    ended: new Date().toISOString(),
    git: git ?? null,
    set: run.set,
    ...(run.sweep ? { sweep: run.sweep } : {}),
    stages,
    metrics,
    plots,
  };
}
