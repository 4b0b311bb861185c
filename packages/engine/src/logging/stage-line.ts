import type { Progress } from '../contract.ts';
import type { StageResult } from '../execution/stage-result.ts';
import { describeFailure } from '../execution/stage-failure.ts';
import { describeReasons } from './reason-text.ts';

/** The one line every stage gets: what happened and why. */
export function describeOutcome(result: StageResult): string {
  const why = describeReasons(result.reasons);
  switch (result.action) {
    case 'skipped':
      return 'skipped (up to date)';
    case 'restored':
      return `restored (run cache${why ? `; ${why}` : ''})`;
    case 'ran':
      return `ran (${why})${result.outsUnchanged ? ', outs unchanged' : ''}`;
    case 'failed':
      return `failed (${result.failure ? describeFailure(result.failure) : 'error'})${result.log ? ` — log: ${result.log}` : ''}`;
    case 'not-run':
      return `not run (${why})`;
    case 'would-run':
      return `would run (${why})`;
    case 'would-restore':
      return `would restore (run cache; ${why})`;
  }
}

export function formatSeconds(seconds: number): string {
  return seconds < 10
    ? `${seconds.toFixed(1)}s`
    : seconds < 120
      ? `${Math.round(seconds)}s`
      : `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
}

export function describeProgress(progress: Progress): string {
  const parts: string[] = [];
  if (progress.total > 0)
    parts.push(`${progress.done}/${progress.total} (${Math.floor((100 * progress.done) / progress.total)}%)`);
  for (const [name, value] of Object.entries(progress.metrics ?? {})) {
    parts.push(`${name}=${Number(value.toPrecision(4))}`); // 4 significant digits, no trailing zeros
  }
  if (progress.message) parts.push(progress.message);
  return parts.join('  ');
}

export function summaryLine(results: StageResult[], seconds: number): string {
  const count = (action: StageResult['action']) => results.filter((r) => r.action === action).length;
  const parts = [`${count('ran')} ran`, `${count('skipped')} skipped`, `${count('restored')} restored`];
  if (count('failed')) parts.push(`${count('failed')} failed`);
  if (count('not-run')) parts.push(`${count('not-run')} not run`);
  if (count('would-run') || count('would-restore'))
    parts.push(`${count('would-run')} would run`, `${count('would-restore')} would restore`);
  return `${parts.join(', ')} in ${formatSeconds(seconds)}`;
}
