import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { DepRecord, StageFingerprint } from '../fingerprint/stage-fingerprint.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { PipelineError } from '../errors.ts';

/**
 * `pipeline.lock`: what every stage last ran with, committed next to
 * pipeline.yaml like dvc.lock. Human-readable YAML; rewritten atomically after
 * each successful stage so finished work is never lost when a later stage fails.
 */

/** An out as recorded: same shape as a dep record. */
export type OutRecord = DepRecord;

export interface LockedStage {
  /** Hash of the whole fingerprint: code + params + deps + declared outs. */
  fingerprint: string;
  cmd?: string;
  module?: string;
  /** For module stages: hash of the module's import closure and the engine's runner. */
  code_hash?: string;
  /** For module stages: every project file in the import closure → content hash. */
  code_files?: Record<string, string>;
  params: Record<string, unknown>;
  deps: DepRecord[];
  outs: OutRecord[];
}

export interface LockDocument {
  schema: 1;
  stages: Record<string, LockedStage>;
}

/** `pipeline.yaml` → `pipeline.lock`, `other.yml` → `other.lock`, in the same folder. */
export function lockPathFor(pipelineFile: string): string {
  return join(dirname(pipelineFile), basename(pipelineFile, extname(pipelineFile)) + '.lock');
}

export interface LockRead {
  doc: LockDocument;
  /** Entries that could not be used (hand-edited, merged badly): dropped, so those stages rerun. */
  warnings: string[];
}

/**
 * No lock file (ENOENT) is an empty lock: every stage runs. A lock that exists but cannot be read is an error
 * (`lock-unreadable`): treating it as empty would rerun every stage and then overwrite what it recorded.
 */
export async function readLock(file: string): Promise<LockRead> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') return { doc: { schema: 1, stages: {} }, warnings: [] };
    const why =
      code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : message;
    throw new PipelineError(
      'lock-unreadable',
      `cannot read the lock file ${file} (${why}); fix its permissions or move it away (every stage then reruns)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    throw new PipelineError(
      'lock-file',
      `${file}: not valid YAML (${(error as Error).message.split('\n')[0]}); fix it or delete it to rerun every stage`,
    );
  }
  if (parsed === null || parsed === undefined) return { doc: { schema: 1, stages: {} }, warnings: [] };
  const doc = parsed as Partial<LockDocument>;
  if (
    typeof doc !== 'object' ||
    doc.schema !== 1 ||
    typeof doc.stages !== 'object' ||
    doc.stages === null ||
    Array.isArray(doc.stages)
  ) {
    throw new PipelineError(
      'lock-file',
      `${file}: unknown lock format (expected "schema: 1" and a "stages" mapping); delete it to rerun every stage`,
    );
  }
  const stages: Record<string, LockedStage> = {};
  const warnings: string[] = [];
  for (const [name, entry] of Object.entries(doc.stages as Record<string, unknown>)) {
    const problem = lockedStageProblem(entry);
    if (problem === undefined) stages[name] = entry as LockedStage;
    else
      warnings.push(
        `${basename(file)}: the entry of stage "${name}" is malformed (${problem}); it is ignored, so the stage reruns`,
      );
  }
  return { doc: { schema: 1, stages }, warnings };
}

/** Why a lock entry cannot be trusted (a hand edit gone wrong), or undefined when it has the shape the engine writes. */
function lockedStageProblem(entry: unknown): string | undefined {
  if (!isRecord(entry)) return 'not a mapping';
  if (typeof entry.fingerprint !== 'string') return '"fingerprint" is not a string';
  for (const key of ['cmd', 'module', 'code_hash'] as const) {
    if (entry[key] !== undefined && typeof entry[key] !== 'string') return `"${key}" is not a string`;
  }
  if (entry.cmd === undefined && entry.module === undefined) return 'neither "cmd" nor "module"';
  if (
    entry.code_files !== undefined &&
    !(isRecord(entry.code_files) && Object.values(entry.code_files).every((h) => typeof h === 'string'))
  )
    return '"code_files" is not a mapping of path to hash';
  if (!isRecord(entry.params)) return '"params" is not a mapping';
  for (const key of ['deps', 'outs'] as const) {
    const list = entry[key];
    if (!Array.isArray(list)) return `"${key}" is not a list`;
    const bad = list.findIndex(
      (item) => !isRecord(item) || typeof item.path !== 'string' || typeof item.hash !== 'string',
    );
    if (bad !== -1) return `${key}[${bad}] needs a "path" and a "hash"`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function lockEntryFor(fingerprint: StageFingerprint, outs: OutRecord[]): LockedStage {
  // Key order is the order a reader wants: what ran, with which params, on which inputs, making what.
  const code = fingerprint.code;
  const what: Partial<LockedStage> =
    'cmd' in code ? { cmd: code.cmd } : { module: code.module, code_hash: code.hash, code_files: code.files };
  return { fingerprint: fingerprint.hash, ...what, params: fingerprint.params, deps: fingerprint.deps, outs };
}

/**
 * Keeps the lock in memory and serialises writes: parallel stages finishing
 * together each get their entry in, one atomic rename at a time.
 */
export class LockWriter {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly doc: LockDocument,
    /** Declaration order, so the file diffs cleanly; stages no longer declared are dropped. */
    private readonly stageOrder: string[],
  ) {}

  get document(): LockDocument {
    return this.doc;
  }

  record(stage: string, entry: LockedStage): Promise<void> {
    this.doc.stages[stage] = entry;
    const write = this.writing.then(() => this.flush());
    this.writing = write.catch(() => undefined);
    return write;
  }

  private async flush(): Promise<void> {
    const stages: Record<string, LockedStage> = {};
    for (const name of this.stageOrder) if (this.doc.stages[name]) stages[name] = this.doc.stages[name];
    const header = '# Written by `pipeline run`. Commit it: it records what each stage last ran with.\n';
    // Durable: the lock entry is the moment a stage's new outs count as done (see out-transaction.ts).
    await writeFileAtomic(this.file, header + stringify({ schema: 1, stages }, { lineWidth: 0 }), { durable: true });
  }
}
