/** The words for typed reasons (a failure's are in execution/stage-failure.ts): result lines, `--json` and `status` read these. */
import type { StageReason } from '../execution/stage-reason.ts';

/** Reason lists longer than this are cut, with a count of the rest. */
const MAX_REASONS_SHOWN = 3;

export function describeReason(reason: StageReason): string {
  switch (reason.kind) {
    case 'up-to-date':
      return 'up to date';
    case 'never-run':
      return 'never run';
    case 'forced':
      return 'forced';
    case 'always-run':
      return 'always_run';
    case 'param-added':
      return `param added: ${reason.key} = ${formatValue(reason.value)}`;
    case 'param-changed':
      return `params changed: ${reason.key} ${formatChange(reason.before, reason.after)}`;
    case 'param-dropped':
      return `param no longer used: ${reason.key}`;
    case 'command-changed':
      return 'command changed';
    case 'module-to-command':
      return `stage changed from module ${reason.module} to a command`;
    case 'command-to-module':
      return 'stage changed from a command to a module';
    case 'module-changed':
      return `module changed: ${reason.before} → ${reason.after}`;
    case 'code-changed':
      return `code changed: ${reason.path}${reason.how === 'newly-imported' ? ' (newly imported)' : reason.how === 'no-longer-imported' ? ' no longer imported' : ''}`;
    case 'runner-changed':
      return 'stage runner changed (engine update)';
    case 'dep':
      return `dep ${reason.change}: ${reason.path}`;
    case 'out':
      return `out ${reason.change}: ${reason.path}`;
    case 'fingerprint-changed':
      return 'fingerprint changed (lock written by another engine version)';
    case 'upstream':
      return `upstream stage ${reason.stage} ${reason.state.replace(/-/g, ' ')}`;
    case 'interrupted':
      return 'interrupted';
    case 'cancelled':
      return `cancelled: stage ${reason.failedStage} failed`;
    case 'not-reached':
      return 'not reached';
  }
}

export function describeReasons(reasons: readonly StageReason[]): string {
  const texts = reasons.map(describeReason);
  if (texts.length <= MAX_REASONS_SHOWN) return texts.join('; ');
  return `${texts.slice(0, MAX_REASONS_SHOWN).join('; ')}; and ${texts.length - MAX_REASONS_SHOWN} more`;
}

/** Longest value shown in a reason; longer ones are cut around what changed. */
const MAX_VALUE_CHARS = 60;

export function formatValue(value: unknown): string {
  const text = valueText(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

function valueText(value: unknown): string {
  // Plain strings read best bare; an empty one (or one with spaces at its ends) is quoted so it stays visible.
  if (value === undefined) return '(unset)';
  return typeof value === 'string' && value !== '' && value.trim() === value ? value : JSON.stringify(value);
}

/**
 * `before → after` for a reason line. Long values are cut to a window around
 * the first character that differs, so two values sharing a long prefix
 * (paths, prompts) never read as the same text.
 */
export function formatChange(before: unknown, after: unknown): string {
  const a = valueText(before);
  const b = valueText(after);
  if (a.length <= MAX_VALUE_CHARS && b.length <= MAX_VALUE_CHARS) return `${a} → ${b}`;
  let first = 0;
  while (first < a.length && first < b.length && a[first] === b[first]) first++;
  const start = Math.max(0, first - 20);
  const cut = (text: string): string => {
    const end = start + MAX_VALUE_CHARS - 6;
    return `${start > 0 ? '...' : ''}${text.slice(start, end)}${text.length > end ? '...' : ''}`;
  };
  return `${cut(a)} → ${cut(b)}`;
}
