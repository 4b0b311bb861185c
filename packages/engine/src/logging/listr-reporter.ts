import type { ListrRendererFactory, ListrTaskWrapper } from 'listr2';
import type { Progress } from '../contract.ts';
import type { StageReason } from '../execution/stage-reason.ts';
import type { RunReporter, StageResult } from '../execution/stage-result.ts';
import { describeReasons } from './reason-text.ts';
import { describeOutcome, describeProgress, formatSeconds, summaryLine } from './stage-line.ts';

/** A stage's row; only its title and output are set here, whichever renderer draws it. */
type Task = ListrTaskWrapper<unknown, ListrRendererFactory, ListrRendererFactory>;

interface StageHandle {
  task?: Task;
  /** Latest title/output, kept so a task that attaches late (listr starts tasks asynchronously) shows them. */
  title?: string;
  output?: string;
  finished: Promise<StageResult>;
  finish(result: StageResult): void;
}

/**
 * Interactive rendering with listr2 (TTY only): one task per stage, whose
 * title says what is happening and whose output line shows the latest log
 * line or progress. The engine schedules; each listr task just mirrors a stage.
 */
export class ListrReporter implements RunReporter {
  private readonly handles = new Map<string, StageHandle>();
  private rendering: Promise<unknown> = Promise.resolve();
  private readonly startedAt = Date.now();
  private readonly notices: string[] = [];

  static async create(): Promise<ListrReporter> {
    const { Listr } = await import('listr2');
    return new ListrReporter(Listr);
  }

  private constructor(private readonly ListrClass: typeof import('listr2').Listr) {}

  begin(stages: string[]): void {
    for (const stage of stages) {
      let finish!: (result: StageResult) => void;
      const finished = new Promise<StageResult>((resolve) => (finish = resolve));
      this.handles.set(stage, { finished, finish });
    }
    const listr = new this.ListrClass(
      stages.map((stage) => ({
        title: `${stage}  waiting`,
        rendererOptions: { outputBar: 1, persistentOutput: false },
        task: async (_ctx: unknown, task: Task) => {
          const handle = this.handles.get(stage)!;
          handle.task = task;
          if (handle.title) task.title = handle.title;
          if (handle.output) task.output = handle.output;
          const result = await handle.finished;
          const time =
            result.action === 'skipped' || result.action === 'not-run' ? '' : `  ${formatSeconds(result.seconds)}`;
          const line = `${stage}  ${describeOutcome(result)}${time}`;
          if (result.action === 'failed') throw new Error(line);
          if (result.action === 'skipped' || result.action === 'not-run') {
            task.skip(line);
            return;
          }
          task.title = line;
        },
      })),
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false,
        rendererOptions: { collapseErrors: false },
      },
    );
    this.rendering = listr.run().catch(() => undefined);
  }

  private setTitle(stage: string, title: string): void {
    const handle = this.handles.get(stage);
    if (!handle) return;
    handle.title = title;
    if (handle.task) handle.task.title = title;
  }

  private setOutput(stage: string, output: string): void {
    const handle = this.handles.get(stage);
    if (!handle) return;
    handle.output = output;
    if (handle.task) handle.task.output = output;
  }

  stageStarted(stage: string, reasons: StageReason[], log: string): void {
    this.setTitle(stage, `${stage}  running (${describeReasons(reasons)}) — log: ${log}`);
  }

  stageOutput(stage: string, text: string): void {
    const last = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .pop();
    if (last) this.setOutput(stage, last);
  }

  stageProgress(stage: string, progress: Progress): void {
    this.setOutput(stage, describeProgress(progress));
  }

  stageFinished(result: StageResult): void {
    this.handles.get(result.stage)?.finish(result);
  }

  notice(message: string): void {
    process.stderr.write(`note: ${message}\n`);
    this.notices.push(message);
  }

  async end(results: StageResult[]): Promise<void> {
    for (const [stage, handle] of this.handles) {
      if (!results.some((r) => r.stage === stage))
        handle.finish({ stage, action: 'not-run', reasons: [{ kind: 'not-reached' }], seconds: 0 });
    }
    await this.rendering;
    process.stdout.write(`${summaryLine(results, (Date.now() - this.startedAt) / 1000)}\n`);
  }
}
