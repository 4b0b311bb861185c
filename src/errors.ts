/**
 * Errors are values: every phase returns diagnostics instead of throwing, and a
 * `PipelineError` carries them when something must unwind through callers that
 * cannot return a result (a command handler, a child-process boundary).
 */
import type { SourceSpan } from './config/pipeline.ts';

/** What kind of problem a diagnostic or error is; lets callers and tests branch without matching text. */
export type ErrorReason =
  | 'file-unreadable'
  | 'yaml-syntax'
  | 'schema'
  | 'unknown-param'
  | 'bad-param'
  | 'param-rules'
  | 'bad-set'
  | 'interpolation'
  | 'missing-module'
  | 'bad-path'
  | 'duplicate-out'
  | 'missing-dep'
  | 'cycle'
  | 'unknown-target'
  | 'usage'
  | 'stage-failed'
  | 'locked'
  | 'lock-file'
  | 'internal';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  reason: ErrorReason;
  message: string;
  /** Where in pipeline.yaml; absent for problems on the command line (`--set`, targets). */
  span?: SourceSpan;
  /** One extra line of advice, e.g. `did you mean "deps"?`. */
  hint?: string;
}

export class PipelineError extends Error {
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
    this.name = 'PipelineError';
  }
}

/** Shorthand for the common case of an error diagnostic. */
export function diagnostic(reason: ErrorReason, message: string, span?: SourceSpan, hint?: string): Diagnostic {
  const d: Diagnostic = { severity: 'error', reason, message };
  if (span) d.span = span;
  if (hint) d.hint = hint;
  return d;
}

/** A result that either holds a value or the diagnostics explaining why it could not be produced. */
export type Result<T> = ({ ok: true } & T) | { ok: false; diagnostics: Diagnostic[] };

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
