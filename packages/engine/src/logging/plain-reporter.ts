import type { Progress } from '../contract.ts';
import type { StageReason } from '../execution/stage-reason.ts';
import type { RunReporter, StageResult } from '../execution/stage-result.ts';
import { describeReasons } from './reason-text.ts';
import { describeOutcome, describeProgress, formatSeconds, summaryLine } from './stage-line.ts';

/** Progress lines per stage are printed at most this often in plain output (CI logs stay readable). */
const PROGRESS_INTERVAL_MS = 2000;

const MARK: Record<StageResult['action'], string> = {
  ran: '✔',
  skipped: '·',
  restored: '↺',
  failed: '✖',
  'not-run': '-',
  'would-run': '▶',
  'would-restore': '↺',
};

/**
 * Line-by-line output for pipes, CI and --json runs (where it goes to stderr):
 * stage output prefixed with the stage name, throttled progress, one result
 * line per stage, a summary.
 */
export class PlainReporter implements RunReporter {
  private width = 0;
  private readonly lastProgressAt = new Map<string, number>();
  private readonly partialLines = new Map<string, string>();
  private readonly startedAt = Date.now();

  constructor(private readonly out: NodeJS.WritableStream) {}

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }

  begin(stages: string[]): void {
    this.width = Math.max(0, ...stages.map((name) => name.length));
  }

  stageStarted(stage: string, reasons: StageReason[], log: string): void {
    this.write(`▶ ${stage.padEnd(this.width)}  running (${describeReasons(reasons)}) — log: ${log}`);
  }

  stageOutput(stage: string, text: string): void {
    const lines = ((this.partialLines.get(stage) ?? '') + text).split('\n');
    this.partialLines.set(stage, lines.pop() ?? '');
    for (const line of lines) this.write(`  ${stage.padEnd(this.width)} │ ${line}`);
  }

  stageProgress(stage: string, progress: Progress): void {
    const now = Date.now();
    const finished = progress.total > 0 && progress.done >= progress.total;
    if (!finished && now - (this.lastProgressAt.get(stage) ?? 0) < PROGRESS_INTERVAL_MS) return;
    this.lastProgressAt.set(stage, now);
    this.write(`  ${stage.padEnd(this.width)} │ ${describeProgress(progress)}`);
  }

  stageFinished(result: StageResult): void {
    const rest = this.partialLines.get(result.stage);
    if (rest) this.write(`  ${result.stage.padEnd(this.width)} │ ${rest}`);
    this.partialLines.delete(result.stage);
    const time =
      result.action === 'ran' || result.action === 'failed' || result.action === 'restored'
        ? `  ${formatSeconds(result.seconds)}`
        : '';
    this.write(`${MARK[result.action]} ${result.stage.padEnd(this.width)}  ${describeOutcome(result)}${time}`);
  }

  notice(message: string): void {
    this.write(`note: ${message}`);
  }

  async end(results: StageResult[]): Promise<void> {
    this.write(summaryLine(results, (Date.now() - this.startedAt) / 1000));
    const timed = results.filter((r) => r.action === 'ran' || r.action === 'failed' || r.action === 'restored');
    if (timed.length > 1) {
      for (const r of timed)
        this.write(`  ${r.stage.padEnd(this.width)}  ${formatSeconds(r.seconds).padStart(6)}  ${r.action}`);
    }
  }
}
