/**
 * One `pipeline run` inside a RunSession: plan → stages → lock entries → temp
 * cleanup → run record. It lives in experiments/ because every run is recorded
 * as an experiment (`pipeline metrics show --runs`); cli/commands/run.ts parses
 * the flags and prints, and decides nothing here.
 */
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeDeadTemps } from '../atomic-write.ts';
import { LockWriter } from '../cache/lock-file.ts';
import { assessStages, type StageStatus } from '../execution/assess-stages.ts';
import { SlurmExecutor } from '../execution/executors/slurm.ts';
import type { ProjectSession } from '../execution/project-session.ts';
import { remoteSummary } from '../execution/remote-summary.ts';
import { RunSession } from '../execution/run-session.ts';
import { newRunId, runStages } from '../execution/run-stages.ts';
import type { RunReporter, StageResult } from '../execution/stage-result.ts';
import { gitStateInBackground } from './git-state.ts';
import { appendRun, recordOf } from './run-record.ts';

export interface RunRequest {
  project: ProjectSession;
  /** Stages to execute even when up to date (no restore either). */
  forced: Set<string>;
  jobs: number;
  executor: 'local' | 'slurm';
  /** A failed stage cancels the others (Slurm's default; --keep-going turns it off). */
  failFast: boolean;
  verbose: boolean;
  /** The --set values, for the run record. */
  set: string[];
  /** How to show the run, chosen once the plan says whether anything will execute. */
  reporter(plan: StageStatus[]): Promise<RunReporter>;
  /** Called on the first Ctrl-C or SIGTERM, as the running stages are being stopped. */
  interrupted: (signal: NodeJS.Signals) => void;
}

export type RunOutcome =
  | { ok: false; busy: string }
  | {
      ok: true;
      results: StageResult[];
      /** The signal that interrupted the run, if one did. */
      interruptedBy?: NodeJS.Signals;
      /** Problems that did not stop the run (the run record could not be written). */
      warnings: string[];
      /** One line on what the run exchanged with the remote cache, when it exchanged anything. */
      remote?: string;
    };

/** One `pipeline run`: lock → recover → plan → stages → run record. */
export async function executeRun(request: RunRequest): Promise<RunOutcome> {
  const { workspace, graph, selected, pipeline } = request.project;
  const notices: string[] = [];
  // Notes from clearing up a killed run come before the reporter exists; it shows them first.
  const opened = RunSession.open(workspace.dotDir, {
    note: (message) => notices.push(message),
    interrupted: request.interrupted,
  });
  if (!opened.ok) return opened;
  const { session } = opened;
  // Under the run lock no other run writes these: a temp left beside the lock file or in .pipeline/ is a killed run's.
  removeDeadTemps(dirname(workspace.lockFile), `${basename(workspace.lockFile)}.tmp-`);
  removeDeadTemps(workspace.dotDir);
  const git = gitStateInBackground(pipeline.root);
  try {
    const plan = await assessStages(workspace, graph, selected, request.forced);
    const reporter = await request.reporter(plan);
    for (const message of notices) reporter.notice(message);
    const runId = newRunId();
    const started = new Date();
    const results = await runStages(
      {
        workspace,
        graph,
        lock: new LockWriter(workspace.lockFile, workspace.lock, graph.order),
        reporter,
        runId,
        jobs: request.jobs,
        forced: request.forced,
        signal: session.signal,
        verbose: request.verbose,
        ...(request.executor === 'slurm'
          ? {
              executor: new SlurmExecutor(pipeline.executor, join(workspace.dotDir, 'tmp', runId)),
              failFast: request.failFast,
            }
          : {}),
        preassessed: new Map(plan.map((s) => [s.stage, s.evaluation])),
      },
      selected,
    );
    rmSync(join(workspace.dotDir, 'tmp', runId), { recursive: true, force: true });
    const remote = workspace.remote && remoteSummary(workspace.remote);
    const warnings: string[] = [];
    try {
      appendRun(
        workspace.dotDir,
        await recordOf(workspace, { id: runId, started, results, set: request.set, git: await git }),
      );
    } catch (error) {
      warnings.push(`could not write the run record: ${(error as Error).message}`);
    }
    return {
      ok: true,
      results,
      warnings,
      ...(remote ? { remote } : {}),
      ...(session.interruptedBy ? { interruptedBy: session.interruptedBy } : {}),
    };
  } finally {
    session.close();
  }
}
