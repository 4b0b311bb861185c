/**
 * Runs a sweep: every variant in its own VariantWorkspace, all at once under
 * one set of job slots. A stage fingerprint is computed once across the sweep:
 * the first variant to reach it runs it (results go to the run cache), the
 * others wait and restore it. So a sweep over head params computes the shared
 * upstream (features) at most once, and not at all when the project already
 * ran it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { LockWriter, lockPathFor, readLock } from '../cache/lock-file.ts';
import { RemoteRunCache } from '../cache/remote-run-cache.ts';
import type { RemoteStore } from '../cache/remote-store.ts';
import type { Pipeline } from '../config/pipeline.ts';
import { JobSlots } from '../execution/job-slots.ts';
import { runStages } from '../execution/run-stages.ts';
import type { StageGraph } from '../execution/stage-selection.ts';
import { StateStore } from '../fingerprint/state-store.ts';
import { describeOutcome, formatSeconds } from '../logging/stage-line.ts';
import type { RunReporter, StageResult } from '../execution/stage-result.ts';
import { decide } from '../execution/decide.ts';
import { setParamValues } from './param-edit.ts';
import { gitStateInBackground } from './git-state.ts';
import { appendRun, recordOf, type RunRecord } from './run-record.ts';
import type { SweepVariant } from './sweep-grid.ts';
import { VariantWorkspace, mirrorProject } from './variant-workspace.ts';

export interface LoadedVariant {
  variant: SweepVariant;
  /** The pipeline with the variant's values (and the fixed --set ones) applied. */
  pipeline: Pipeline;
  graph: StageGraph;
}

export interface VariantOutcome {
  variant: SweepVariant;
  folder: string;
  results: StageResult[];
  record: RunRecord;
}

/** Sweep-wide lines: `[v3] ✔ train  ran (…)  1.2s`; stage output stays in the logs. */
class VariantReporter implements RunReporter {
  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WritableStream,
    private readonly folder: string,
  ) {}
  begin(): void {}
  stageStarted(stage: string): void {
    this.out.write(`[${this.label}] ▶ ${stage} running\n`);
  }
  stageOutput(): void {}
  stageProgress(): void {}
  stageFinished(result: StageResult): void {
    const shown = result.log ? { ...result, log: relative(process.cwd(), resolve(this.folder, result.log)) } : result;
    const time = result.action === 'ran' || result.action === 'failed' ? `  ${formatSeconds(result.seconds)}` : '';
    this.out.write(`[${this.label}] ${result.stage}  ${describeOutcome(shown)}${time}\n`);
  }
  notice(message: string): void {
    this.out.write(`[${this.label}] note: ${message}\n`);
  }
  async end(): Promise<void> {}
}

export async function runSweep(options: {
  projectFile: string;
  sweepId: string;
  variants: LoadedVariant[];
  /** --set values given once: applied to every variant's copy of pipeline.yaml too. */
  fixed: Array<[string, string]>;
  jobs: number;
  signal: AbortSignal;
  out: NodeJS.WritableStream;
  /** The remote cache (--remote, PIPELINE_REMOTE, pipeline.yaml), if any. */
  remote?: RemoteStore;
}): Promise<VariantOutcome[]> {
  const { variants, sweepId } = options;
  const projectRoot = variants[0].pipeline.root;
  const dotDir = join(projectRoot, '.pipeline');
  const sweepDir = join(dotDir, 'sweeps', sweepId);
  const store = StateStore.load(join(dotDir, 'state.json'));
  const git = gitStateInBackground(projectRoot);
  const slots = new JobSlots(options.jobs);
  const inFlight = new Map<string, Promise<void>>();
  const sourceText = readFileSync(options.projectFile, 'utf8');
  const fileName = basename(options.projectFile);

  const runVariant = async ({ variant, pipeline, graph }: LoadedVariant): Promise<VariantOutcome> => {
    const folder = join(sweepDir, variant.name);
    const outs = [...pipeline.stages.values()].flatMap((s) => s.outs);
    mirrorProject(projectRoot, folder, outs, [fileName, basename(lockPathFor(options.projectFile))]);
    // The variant's pipeline.yaml: the project's, with this variant's values written in (a record, and what --apply writes).
    const edited = setParamValues(sourceText, [...options.fixed, ...variant.values]);
    const variantFile = join(folder, fileName);
    const values = [...options.fixed, ...variant.values].map(([k, v]) => `${k}=${v}`).join(', ');
    writeFileSync(
      variantFile,
      `# sweep ${sweepId}, variant ${variant.name}: ${values}${edited.ok ? '' : ' (given as --set, not written below)'}\n${edited.ok ? edited.text : sourceText}`,
    );
    const variantPipeline: Pipeline = { ...pipeline, file: variantFile };
    const { doc } = await readLock(lockPathFor(variantFile));
    const workspace = new VariantWorkspace(variantPipeline, store, doc, folder);
    if (options.remote) workspace.remote = new RemoteRunCache(options.remote, workspace.runCache);
    const lock = new LockWriter(workspace.lockFile, doc, graph.order);
    const reporter = new VariantReporter(variant.name, options.out, folder);
    const started = new Date();
    const results: StageResult[] = [];
    const failed = new Set<string>();
    for (const stage of graph.order) {
      const blocker = graph.upstream(stage).find((up) => failed.has(up));
      if (blocker || options.signal.aborted) {
        const result: StageResult = {
          stage,
          action: 'not-run',
          reasons: [blocker ? { kind: 'upstream', stage: blocker, state: 'did-not-finish' } : { kind: 'interrupted' }],
          seconds: 0,
        };
        reporter.stageFinished(result);
        results.push(result);
        failed.add(stage);
        continue;
      }
      // One variant computes a fingerprint; the others wait for it, then restore it from the run cache.
      const config = workspace.stage(stage);
      let executes = true;
      let finished: (() => void) | undefined;
      try {
        const evaluation = await workspace.evaluate(stage);
        const fingerprint = config.cache && !config.alwaysRun ? evaluation.fingerprint.hash : undefined;
        const earlier = fingerprint === undefined ? undefined : inFlight.get(fingerprint);
        // Claimed before any further await, so two variants never both take the same fingerprint.
        if (fingerprint !== undefined && !earlier)
          inFlight.set(fingerprint, new Promise<void>((resolve) => (finished = resolve)));
        if (earlier) await earlier;
        // Skips and restores take no job slot: only work that executes waits for one.
        executes =
          (
            await decide({
              stage: config,
              evaluation,
              forced: false,
              runCache: workspace.runCache,
              remote: workspace.remote,
            })
          ).action === 'run';
      } catch {
        // Left to runStages, which reports the problem as this stage's failure.
      }
      let result: StageResult;
      try {
        const release = executes ? await slots.acquire(config.heavy) : () => undefined;
        try {
          [result] = await runStages(
            {
              workspace,
              graph,
              lock,
              reporter,
              runId: `${sweepId}-${variant.name}`,
              jobs: 1,
              forced: new Set(),
              signal: options.signal,
            },
            [stage],
          );
        } finally {
          release();
        }
      } finally {
        finished?.();
      }
      results.push(result);
      if (result.action === 'failed' || result.action === 'not-run') failed.add(stage);
    }
    rmSync(join(dotDir, 'tmp', `${sweepId}-${variant.name}`), { recursive: true, force: true });
    const record = await recordOf(workspace, {
      id: `${sweepId}-${variant.name}`,
      started,
      results,
      set: [...options.fixed, ...variant.values].map(([k, v]) => `${k}=${v}`),
      sweep: { id: sweepId, variant: variant.name },
      git: await git,
    });
    appendRun(dotDir, record);
    return { variant, folder, results, record };
  };

  mkdirSync(sweepDir, { recursive: true });
  return Promise.all(variants.map(runVariant));
}
