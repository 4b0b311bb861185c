/**
 * Errors are values: every phase returns diagnostics instead of throwing, and a
 * `PipelineError` carries them when something must unwind through callers that
 * cannot return a result (a command handler, a child-process boundary). What
 * goes wrong inside a run is a `StageFailure` on the stage's result
 * (execution/stage-failure.ts). Exit codes are chosen only by the CLI.
 */

/** A position in pipeline.yaml, for diagnostics (1-based line and column). */
export interface SourceSpan {
  file: string;
  line: number;
  col: number;
  /** Length of the offending text on that line, for the underline. */
  length: number;
}

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
  /** Another run holds `.pipeline/run.lock`. */
  | 'locked'
  /** pipeline.lock is damaged (not YAML, not a lock). */
  | 'lock-file'
  /** pipeline.lock exists but cannot be read (permissions, a folder in its place, an I/O error). */
  | 'lock-unreadable';

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

/** A PipelineError, of the given reason when one is named. */
export function isPipelineError(error: unknown, reason?: ErrorReason): error is PipelineError {
  return error instanceof PipelineError && (reason === undefined || error.reason === reason);
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
