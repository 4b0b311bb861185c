import type { LockedStage, OutRecord } from '../cache/lock-file.ts';
import { substituteParams } from '../config/interpolate.ts';
import { canonicalJson } from '../fingerprint/canonical-json.ts';
import type { StageFingerprint } from '../fingerprint/stage-fingerprint.ts';
import { MISSING_HASH } from '../fingerprint/stage-fingerprint.ts';
import type { StageReason } from './stage-reason.ts';
import { isMapping } from '../config/params.ts';

/**
 * Why a stage must run: the difference between what it would run with now
 * and what the lock says it last ran with. An empty list means up to date.
 */
export function staleReasons(
  current: StageFingerprint,
  currentOuts: OutRecord[],
  locked: LockedStage | undefined,
): StageReason[] {
  if (!locked) return [{ kind: 'never-run' }];
  const reasons: StageReason[] = [];
  const params = paramReasons(current.params, locked.params ?? {});
  reasons.push(...params);
  if (!commandDiffersOnlyByParams(current, locked)) reasons.push(...codeReasons(current, locked));
  reasons.push(...depReasons(current, locked));
  reasons.push(...outReasons(current.outs, currentOuts, locked.outs ?? []));
  if (reasons.length === 0 && current.hash !== locked.fingerprint) reasons.push({ kind: 'fingerprint-changed' });
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
    for (const key of Object.keys(before))
      if (Object.hasOwn(locked.params ?? {}, key)) before[key] = locked.params[key];
    return substituteParams(current.code.template, before) === locked.cmd;
  }
  let cmd = current.code.cmd;
  for (const [key, value] of Object.entries(current.params)) {
    const before = locked.params?.[key];
    if (before === undefined || canonicalJson(before) === canonicalJson(value)) continue;
    if (typeof value === 'object' || typeof before === 'object') return false;
    // Objects are out above: what is left is a scalar, as it was written into the command.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a scalar by the check above
    cmd = cmd.split(String(value)).join(String(before));
  }
  return cmd === locked.cmd;
}

function codeReasons(current: StageFingerprint, locked: LockedStage): StageReason[] {
  const code = current.code;
  if ('cmd' in code) {
    if (locked.cmd === undefined) return [{ kind: 'module-to-command', module: locked.module ?? '?' }];
    return locked.cmd === code.cmd ? [] : [{ kind: 'command-changed' }];
  }
  if (locked.module === undefined) return [{ kind: 'command-to-module' }];
  if (locked.module !== code.module) return [{ kind: 'module-changed', before: locked.module, after: code.module }];
  if (locked.code_hash === code.hash) return [];
  const before = locked.code_files ?? {};
  const reasons: StageReason[] = [];
  for (const [path, hash] of Object.entries(code.files)) {
    if (!(path in before)) reasons.push({ kind: 'code-changed', path, how: 'newly-imported' });
    else if (before[path] !== hash) reasons.push({ kind: 'code-changed', path, how: 'edited' });
  }
  for (const path of Object.keys(before))
    if (!(path in code.files)) reasons.push({ kind: 'code-changed', path, how: 'no-longer-imported' });
  return reasons.length > 0 ? reasons : [{ kind: 'runner-changed' }];
}

/** The changed leaves between two values: a mapping param is compared key by key (`aug.flip true → false`). */
function changedLeaves(key: string, before: unknown, after: unknown): StageReason[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  if (!isMapping(before) || !isMapping(after)) return [{ kind: 'param-changed', key, before, after }];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((name) => changedLeaves(`${key}.${name}`, before[name], after[name]));
}

function paramReasons(current: Record<string, unknown>, before: Record<string, unknown>): StageReason[] {
  const reasons: StageReason[] = [];
  for (const [key, value] of Object.entries(current)) {
    if (!(key in before)) reasons.push({ kind: 'param-added', key, value });
    else reasons.push(...changedLeaves(key, before[key], value));
  }
  for (const key of Object.keys(before)) if (!(key in current)) reasons.push({ kind: 'param-dropped', key });
  return reasons;
}

function depReasons(current: StageFingerprint, locked: LockedStage): StageReason[] {
  const before = new Map((locked.deps ?? []).map((dep) => [dep.path, dep.hash]));
  const reasons: StageReason[] = [];
  for (const dep of current.deps) {
    if (!before.has(dep.path)) reasons.push({ kind: 'dep', change: 'added', path: dep.path });
    else if (dep.hash === MISSING_HASH) reasons.push({ kind: 'dep', change: 'missing', path: dep.path });
    else if (before.get(dep.path) !== dep.hash) reasons.push({ kind: 'dep', change: 'changed', path: dep.path });
  }
  const now = new Set(current.deps.map((dep) => dep.path));
  for (const path of before.keys()) if (!now.has(path)) reasons.push({ kind: 'dep', change: 'removed', path });
  return reasons;
}

function outReasons(declared: string[], currentOuts: OutRecord[], lockedOuts: OutRecord[]): StageReason[] {
  const before = new Map(lockedOuts.map((out) => [out.path, out.hash]));
  const reasons: StageReason[] = [];
  for (const out of currentOuts) {
    if (!before.has(out.path)) reasons.push({ kind: 'out', change: 'added', path: out.path });
    else if (out.hash === MISSING_HASH) reasons.push({ kind: 'out', change: 'missing', path: out.path });
    else if (before.get(out.path) !== out.hash) reasons.push({ kind: 'out', change: 'modified', path: out.path });
  }
  const now = new Set(declared);
  for (const path of before.keys()) if (!now.has(path)) reasons.push({ kind: 'out', change: 'removed', path });
  return reasons;
}
