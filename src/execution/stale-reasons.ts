import type { LockedStage, OutRecord } from '../cache/lock-file.ts';
import { substituteParams } from '../config/interpolate.ts';
import { canonicalJson } from '../fingerprint/canonical-json.ts';
import type { StageFingerprint } from '../fingerprint/stage-fingerprint.ts';
import { MISSING_HASH } from '../fingerprint/stage-fingerprint.ts';

/**
 * Why a stage must run, in words: the difference between what it would run
 * with now and what the lock says it last ran with. An empty list means up to date.
 */
export function staleReasons(current: StageFingerprint, currentOuts: OutRecord[], locked: LockedStage | undefined): string[] {
  if (!locked) return ['never run'];
  const reasons: string[] = [];
  const params = paramReasons(current.params, locked.params ?? {});
  reasons.push(...params);
  if (!commandDiffersOnlyByParams(current, locked)) reasons.push(...codeReasons(current, locked));
  reasons.push(...depReasons(current, locked));
  reasons.push(...outReasons(current.outs, currentOuts, locked.outs ?? []));
  if (reasons.length === 0 && current.hash !== locked.fingerprint) reasons.push('fingerprint changed (lock written by another engine version)');
  return reasons;
}

/**
 * A `cmd` has its params interpolated, so a param change also changes the
 * command text. Don't report "command changed" when putting the old param
 * values back gives the old command exactly.
 */
function commandDiffersOnlyByParams(current: StageFingerprint, locked: LockedStage): boolean {
  if (!('cmd' in current.code) || locked.cmd === undefined || locked.cmd === current.code.cmd) return false;
  if (current.code.template !== undefined) {
    // The command as written, filled in with the values the lock recorded (current ones for params it did not use).
    const before: Record<string, unknown> = { ...current.params };
    for (const key of Object.keys(before)) if (Object.hasOwn(locked.params ?? {}, key)) before[key] = locked.params[key];
    return substituteParams(current.code.template, before) === locked.cmd;
  }
  let cmd = current.code.cmd;
  for (const [key, value] of Object.entries(current.params)) {
    const before = locked.params?.[key];
    if (before === undefined || canonicalJson(before) === canonicalJson(value)) continue;
    if (typeof value === 'object' || typeof before === 'object') return false;
    cmd = cmd.split(String(value)).join(String(before));
  }
  return cmd === locked.cmd;
}

function codeReasons(current: StageFingerprint, locked: LockedStage): string[] {
  const code = current.code;
  if ('cmd' in code) {
    if (locked.cmd === undefined) return [`stage changed from module ${locked.module ?? '?'} to a command`];
    return locked.cmd === code.cmd ? [] : ['command changed'];
  }
  if (locked.module === undefined) return ['stage changed from a command to a module'];
  if (locked.module !== code.module) return [`module changed: ${locked.module} → ${code.module}`];
  if (locked.code_hash === code.hash) return [];
  const before = locked.code_files ?? {};
  const reasons: string[] = [];
  for (const [path, hash] of Object.entries(code.files)) {
    if (!(path in before)) reasons.push(`code changed: ${path} (newly imported)`);
    else if (before[path] !== hash) reasons.push(`code changed: ${path}`);
  }
  for (const path of Object.keys(before)) if (!(path in code.files)) reasons.push(`code changed: ${path} no longer imported`);
  return reasons.length > 0 ? reasons : ['stage runner changed (engine update)'];
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

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The changed leaves between two values: a mapping param is compared key by key (`aug.flip true → false`). */
function changedLeaves(key: string, before: unknown, after: unknown): string[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  if (!isMapping(before) || !isMapping(after)) return [`${key} ${formatChange(before, after)}`];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((name) => changedLeaves(`${key}.${name}`, before[name], after[name]));
}

function paramReasons(current: Record<string, unknown>, before: Record<string, unknown>): string[] {
  const reasons: string[] = [];
  for (const [key, value] of Object.entries(current)) {
    if (!(key in before)) reasons.push(`param added: ${key} = ${formatValue(value)}`);
    else for (const change of changedLeaves(key, before[key], value)) reasons.push(`params changed: ${change}`);
  }
  for (const key of Object.keys(before)) if (!(key in current)) reasons.push(`param no longer used: ${key}`);
  return reasons;
}

function depReasons(current: StageFingerprint, locked: LockedStage): string[] {
  const before = new Map((locked.deps ?? []).map((dep) => [dep.path, dep.hash]));
  const reasons: string[] = [];
  for (const dep of current.deps) {
    if (!before.has(dep.path)) reasons.push(`dep added: ${dep.path}`);
    else if (dep.hash === MISSING_HASH) reasons.push(`dep missing: ${dep.path}`);
    else if (before.get(dep.path) !== dep.hash) reasons.push(`dep changed: ${dep.path}`);
  }
  const now = new Set(current.deps.map((dep) => dep.path));
  for (const path of before.keys()) if (!now.has(path)) reasons.push(`dep removed: ${path}`);
  return reasons;
}

function outReasons(declared: string[], currentOuts: OutRecord[], lockedOuts: OutRecord[]): string[] {
  const before = new Map(lockedOuts.map((out) => [out.path, out.hash]));
  const reasons: string[] = [];
  for (const out of currentOuts) {
    if (!before.has(out.path)) reasons.push(`out added: ${out.path}`);
    else if (out.hash === MISSING_HASH) reasons.push(`out missing: ${out.path}`);
    else if (before.get(out.path) !== out.hash) reasons.push(`out modified: ${out.path}`);
  }
  const now = new Set(declared);
  for (const path of before.keys()) if (!now.has(path)) reasons.push(`out removed: ${path}`);
  return reasons;
}
