/**
 * The config phase: pipeline.yaml → a validated, interpolated `Pipeline`.
 *
 * Every check runs and every problem is collected, so a user sees all of them in
 * one go: YAML syntax, schema, `--set` overrides, param keys, interpolation,
 * module paths and out locations. Graph-level checks (duplicate outs, missing
 * deps, cycles) belong to src/graph/.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { diagnostic, hasErrors, type Diagnostic, type SourceSpan } from '../errors.ts';
import { checkDeclaredParams, loadDeclaredParams } from './declared-params.ts';
import { interpolate } from './interpolate.ts';
import { applyOverrides, isMapping, lookupParam, unknownParamHint, type Params } from './params.ts';
import { resolveSweeps } from './sweeps.ts';
import { remoteConfig } from './remote.ts';
import { isGlob, isInsideProject, isUrl, isWithin, normalizePath } from './paths.ts';
import { depOf, type Dep } from './dep.ts';
import type { ExecutorConfig, Pipeline, ResolvedStage, StageResources } from './pipeline.ts';
import { validateAgainstSchema } from './schema.ts';
import { YamlSource, type PathSegment } from './yaml-source.ts';

export interface LoadOptions {
  /** `key=value` overrides, as given to `--set`. */
  set?: readonly string[];
}

export type LoadResult =
  { ok: true; pipeline: Pipeline; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

export async function loadPipeline(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    return fail([
      diagnostic(
        'file-unreadable',
        `cannot read ${absolute}: ${why}`,
        undefined,
        code === 'ENOENT' ? 'run pipeline in the folder holding pipeline.yaml, or pass -f <file>' : undefined,
      ),
    ]);
  }
  return parsePipeline(absolute, text, opts);
}

/** Same as loadPipeline, from text already in memory (the file name is used for paths and diagnostics). */
export async function parsePipeline(file: string, text: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const source = new YamlSource(file, text);
  const yamlErrors = source.doc.errors.map((error) => {
    const opening = error.code === 'MISSING_CHAR' ? unclosedQuote(text, error.pos[0], error.message) : undefined;
    if (opening !== undefined)
      return diagnostic(
        'yaml-syntax',
        'YAML syntax error: this quoted string is never closed',
        source.spanOfRange(opening, opening + 1),
      );
    const span = source.spanOfRange(error.pos[0], error.pos[1]);
    return diagnostic(
      'yaml-syntax',
      `YAML syntax error: ${firstLine(error.message)}`,
      span,
      yamlHint(text.split(/\r?\n/)[span.line - 1] ?? ''),
    );
  });
  if (yamlErrors.length) return fail(yamlErrors);
  const warnings = source.doc.warnings.map((warning): Diagnostic => ({
    severity: 'warning',
    reason: 'yaml-syntax',
    message: firstLine(warning.message),
    span: source.spanOfRange(warning.pos[0], warning.pos[1]),
  }));

  let data: unknown;
  try {
    data = source.doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    return fail([diagnostic('yaml-syntax', `YAML error: ${firstLine((error as Error).message)}`)]);
  }
  if (data === null || data === undefined) {
    return fail([
      diagnostic('schema', 'the file is empty; it needs a "stages" mapping', { file, line: 1, col: 1, length: 1 }),
    ]);
  }

  const diagnostics = await validateAgainstSchema(data, source);
  const document = isMapping(data) ? data : {};
  const declared: Params = isMapping(document.params) ? document.params : {};
  const overridden = applyOverrides(declared, opts.set ?? []);
  diagnostics.push(...overridden.diagnostics);
  const params = overridden.params;

  const root = path.dirname(file);
  const stages = new Map<string, ResolvedStage>();
  const stageEntries = isMapping(document.stages) ? Object.entries(document.stages) : [];
  for (const [name, raw] of stageEntries) {
    if (!isMapping(raw)) continue; // already reported by the schema
    const stage = await resolveStage(name, raw, { params, root, source, diagnostics });
    stages.set(name, stage);
  }
  diagnostics.push(...checkDeclaredParams(stages.values(), { params, overrides: overridden.flags, source }));
  const sweeps = resolveSweeps(document.sweeps, params, source, warnings);

  const remote = isMapping(document.remote) ? remoteConfig(document.remote, source, diagnostics) : undefined;

  if (hasErrors(diagnostics)) return fail(sortByPosition(diagnostics));
  const pipeline: Pipeline = { file, root, params, stages, sweeps };
  if (remote) pipeline.remote = remote;
  if (isMapping(document.executor)) pipeline.executor = executorConfig(document.executor);
  return { ok: true, pipeline, warnings };
}

interface ResolveContext {
  params: Params;
  root: string;
  source: YamlSource;
  diagnostics: Diagnostic[];
}

async function resolveStage(name: string, raw: Record<string, unknown>, ctx: ResolveContext): Promise<ResolvedStage> {
  const { source, diagnostics } = ctx;
  const at: PathSegment[] = ['stages', name];
  const used = new Map<string, unknown>();

  // Declared params: dotted keys that must exist (a key may name a subtree).
  stringItems(raw.params).forEach(([key, index]) => {
    const lookup = lookupParam(ctx.params, key);
    if (lookup.found) used.set(key, lookup.value);
    else
      diagnostics.push(
        diagnostic(
          'unknown-param',
          `stage "${name}" reads param "${key}", which pipeline.yaml does not declare`,
          source.spanOfValue([...at, 'params', index]),
          unknownParamHint(ctx.params, key),
        ),
      );
  });

  const resolveText = (text: string, where: PathSegment[], context: 'path' | 'cmd'): { text: string; ok: boolean } => {
    const result = interpolate(text, ctx.params, context);
    for (const [key, value] of result.used) used.set(key, value);
    for (const problem of result.problems) {
      const span = source.spanOfSubstring(where, problem.expression);
      if (problem.kind === 'unknown-param')
        diagnostics.push(
          diagnostic(
            'interpolation',
            `unknown param "${problem.key}" in ${problem.expression}`,
            span,
            unknownParamHint(ctx.params, problem.key!),
          ),
        );
      else if (problem.kind === 'not-scalar')
        diagnostics.push(
          diagnostic(
            'interpolation',
            `${problem.expression} is a mapping or list; only single values can be interpolated`,
            span,
            `name one of its keys, e.g. \${params.${problem.key}.<key>}`,
          ),
        );
      else
        diagnostics.push(
          diagnostic(
            'interpolation',
            `cannot interpolate ${problem.expression}: only \${params.<key>} is supported here`,
            span,
          ),
        );
    }
    return { text: result.text, ok: result.problems.length === 0 };
  };

  const deps: Dep[] = [];
  const depSpans: SourceSpan[] = [];
  for (const [written, index] of stringItems(raw.deps)) {
    const where = [...at, 'deps', index];
    const resolved = resolveText(written, where, 'path');
    // An optional input: a dep that interpolates to nothing (`test_labels: ""`) is left out; the param still counts as used.
    if (resolved.ok && resolved.text.trim() === '' && written.includes('${')) continue;
    deps.push(depOf(normalizePath(resolved.text), ctx.root));
    depSpans.push(source.spanOfValue(where));
  }

  const outs: string[] = [];
  const outSpans: SourceSpan[] = [];
  for (const [written, index] of stringItems(raw.outs)) {
    const where = [...at, 'outs', index];
    const resolved = resolveText(written, where, 'path');
    const out = normalizePath(resolved.text);
    const span = source.spanOfValue(where);
    if (!resolved.ok) {
      // already reported; the path itself cannot be judged
    } else if (isUrl(out) || !isInsideProject(out))
      diagnostics.push(
        diagnostic(
          'bad-path',
          `out "${out}" of stage "${name}" must lie inside the project folder`,
          span,
          'outs are replaced on every run; keep them under the project (e.g. artifacts/…)',
        ),
      );
    else if (isGlob(out))
      diagnostics.push(
        diagnostic(
          'bad-path',
          `out "${out}" of stage "${name}" is a pattern; outs must be plain files or folders`,
          span,
        ),
      );
    else if (out === '.pipeline' || out.startsWith('.pipeline/'))
      diagnostics.push(diagnostic('bad-path', `out "${out}" lies inside .pipeline/, the engine's own folder`, span));
    outs.push(out);
    outSpans.push(span);
  }

  const reports = (key: 'metrics' | 'plots'): string[] =>
    stringItems(raw[key]).flatMap(([written, index]) => {
      const where = [...at, key, index];
      const resolved = resolveText(written, where, 'path');
      const file = normalizePath(resolved.text);
      if (resolved.ok && !outs.some((out) => isWithin(file, out)))
        diagnostics.push(
          diagnostic(
            'bad-path',
            `${key} file "${file}" of stage "${name}" is not among its outs`,
            source.spanOfValue(where),
            `${key} are files the stage writes: list them under one of its outs (${outs.join(', ') || 'it has none'})`,
          ),
        );
      return [file];
    });
  const metrics = reports('metrics');
  const plots = reports('plots');

  const cmd = typeof raw.cmd === 'string' ? resolveText(raw.cmd, [...at, 'cmd'], 'cmd').text : undefined;

  let module: string | undefined;
  let declaredParams: ResolvedStage['declaredParams'];
  if (typeof raw.module === 'string' && raw.module !== '') {
    module = normalizePath(raw.module);
    const problem = isInsideProject(module)
      ? await moduleProblem(path.resolve(ctx.root, module))
      : 'lies outside the project folder';
    if (problem)
      diagnostics.push(
        diagnostic(
          'missing-module',
          `module "${raw.module}" of stage "${name}" ${problem}`,
          source.spanOfValue([...at, 'module']),
          'module paths are relative to the folder of pipeline.yaml',
        ),
      );
    else {
      const loaded = await loadDeclaredParams(ctx.root, module);
      if (loaded.problem)
        diagnostics.push(diagnostic('param-rules', loaded.problem, source.spanOfValue([...at, 'module'])));
      declaredParams = loaded.declared;
    }
  }

  const stage: ResolvedStage = {
    name,
    deps,
    outs,
    metrics,
    plots,
    params: sortedObject(used),
    listedParams: stringItems(raw.params).map(([key]) => key),
    alwaysRun: raw.always_run === true,
    cache: raw.cache !== false,
    heavy: raw.heavy === true,
    resources: isMapping(raw.resources) ? stageResources(raw.resources) : {},
    shards: typeof raw.shards === 'number' ? raw.shards : 1,
    spans: { stage: source.spanOfKey(at), deps: depSpans, outs: outSpans },
  };
  if (raw.params !== undefined) stage.spans.params = source.spanOfValue([...at, 'params']);
  if (declaredParams) stage.declaredParams = declaredParams;
  if (stage.shards > 1 && module === undefined && typeof raw.cmd === 'string')
    diagnostics.push(
      diagnostic(
        'schema',
        `stage "${name}" has shards: ${stage.shards}, but only module stages can be sharded`,
        source.spanOfKey([...at, 'shards']),
        'a sharded stage is a module that reads ctx.shard and exports merge (see src/contract.ts)',
      ),
    );
  if (typeof raw.desc === 'string') stage.desc = raw.desc;
  if (module !== undefined) stage.module = module;
  if (cmd !== undefined) {
    stage.cmd = cmd;
    stage.cmdTemplate = raw.cmd as string;
  }
  return stage;
}

/** Schema-checked `resources:` → sbatch's notation (numbers become text: `time: 10` is 10 minutes, `mem: 500` 500 MB). */
function stageResources(raw: Record<string, unknown>): StageResources {
  const resources: StageResources = {};
  if (typeof raw.cpus === 'number') resources.cpus = raw.cpus;
  if (typeof raw.gpus === 'number') resources.gpus = raw.gpus;
  if (typeof raw.mem === 'number' || typeof raw.mem === 'string') resources.mem = String(raw.mem);
  if (typeof raw.time === 'number' || typeof raw.time === 'string') resources.time = String(raw.time);
  return resources;
}

function executorConfig(raw: Record<string, unknown>): ExecutorConfig {
  const config: ExecutorConfig = {
    type: raw.type === 'slurm' ? 'slurm' : 'local',
    resources: isMapping(raw.resources) ? stageResources(raw.resources) : {},
  };
  if (typeof raw.partition === 'string') config.partition = raw.partition;
  if (typeof raw.account === 'string') config.account = raw.account;
  if (typeof raw.poll_seconds === 'number') config.pollSeconds = raw.poll_seconds;
  return config;
}

async function moduleProblem(file: string): Promise<string | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? undefined : 'is not a file';
  } catch {
    return 'does not exist';
  }
}

/** The string items of a list with their indexes (non-strings were reported by the schema). */
function stringItems(value: unknown): Array<[string, number]> {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index): Array<[string, number]> =>
    typeof item === 'string' && item !== '' ? [[item, index]] : [],
  );
}

function sortedObject(entries: Map<string, unknown>): Record<string, unknown> {
  const sorted: Record<string, unknown> = {};
  for (const key of [...entries.keys()].sort()) sorted[key] = entries.get(key);
  return sorted;
}

/**
 * yaml reports an unclosed quote where the file ends; the useful place is the
 * opening quote: the last line before that point holding an odd number of them.
 */
function unclosedQuote(text: string, end: number, message: string): number | undefined {
  const quote = message.includes('"quote') ? '"' : message.includes("'quote") ? "'" : undefined;
  if (!quote) return undefined;
  let lineEnd = end;
  while (lineEnd > 0) {
    const lineStart = text.lastIndexOf('\n', lineEnd - 1) + 1;
    const line = text.slice(lineStart, lineEnd);
    const count = line.split(quote).length - 1;
    if (count % 2 === 1) return lineStart + line.lastIndexOf(quote);
    lineEnd = lineStart - 1;
  }
  return undefined;
}

/** The two YAML traps pipelines fall into, recognised from the offending line. */
function yamlHint(line: string): string | undefined {
  if (/\[[^\]"']*\$\{/.test(line)) return 'inside [ … ] a ${…} must be quoted: ["${params.key}/file"]';
  if (/:\s+[^"'\s#][^#]*:\s/.test(line)) return 'a value holding ": " must be quoted: cmd: "echo a: b"';
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

/** Diagnostics in file order; command-line problems (no span) first. */
function sortByPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort(
      (a, b) =>
        (a.d.span?.line ?? 0) - (b.d.span?.line ?? 0) || (a.d.span?.col ?? 0) - (b.d.span?.col ?? 0) || a.i - b.i,
    )
    .map(({ d }) => d);
}

function fail(diagnostics: Diagnostic[]): { ok: false; diagnostics: Diagnostic[] } {
  return { ok: false, diagnostics };
}
