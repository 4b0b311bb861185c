/**
 * Validation of the parsed YAML against schemas/pipeline.schema.json, with
 * ajv's errors turned into positioned, human-worded diagnostics.
 */
import type { ErrorObject } from 'ajv';
import { diagnostic, type Diagnostic } from '../errors.ts';
import { didYouMean } from './did-you-mean.ts';
import { packageFile } from '../package-files.ts';
import { schemaHash as precompiledHash, validate as precompiled } from './schema-validator.generated.ts';
import type { PathSegment, YamlSource } from './yaml-source.ts';

interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

let current: Validator | undefined;

/**
 * The precompiled validator when it was built from the schema as it is now;
 * otherwise (the schema was edited and not regenerated) compile it with ajv, once per process.
 */
async function validator(): Promise<Validator> {
  if (current) return current;
  const { readFileSync } = await import('node:fs');
  const { createHash } = await import('node:crypto');
  const text = readFileSync(packageFile('schemas/pipeline.schema.json'), 'utf8');
  if (createHash('sha256').update(text).digest('hex') === precompiledHash) current = precompiled as Validator;
  else current = (await import('./schema-compile.ts')).compileSchema(text);
  return current;
}

export async function validateAgainstSchema(data: unknown, source: YamlSource): Promise<Diagnostic[]> {
  const validate = await validator();
  if (validate(data)) return [];
  const errors = (validate.errors ?? []).filter(isReported);
  const diagnostics = errors.map((error) => describe(error, source));
  return dedupe(diagnostics);
}

/**
 * Drops the noise ajv emits beside a better error: the branches of the
 * module/cmd `oneOf` (the oneOf error itself says it better) and the pattern
 * error that accompanies a bad property name.
 */
function isReported(error: ErrorObject): boolean {
  if (error.schemaPath.includes('/oneOf/')) return false;
  // A stage that is not a mapping at all gets its type error; "needs a module or a cmd" would only add noise.
  if (error.keyword === 'oneOf' && (typeof error.data !== 'object' || error.data === null || Array.isArray(error.data)))
    return false;
  if (error.keyword === 'pattern' && error.schemaPath.includes('/propertyNames/')) return false;
  return true;
}

function describe(error: ErrorObject, source: YamlSource): Diagnostic {
  const path = parsePointer(error.instancePath);
  const where = describePath(path);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
      const hint = didYouMean(key, allowed) ?? `allowed keys: ${allowed.join(', ')}`;
      return diagnostic(
        'schema',
        `unknown key "${key}"${path.length ? ` in ${where}` : ''}`,
        source.spanOfKey([...path, key]),
        hint,
      );
    }
    case 'required': {
      const missing = String(error.params.missingProperty);
      return diagnostic(
        'schema',
        `missing key "${missing}"${path.length ? ` in ${where}` : ''}`,
        source.spanOfKey(path),
      );
    }
    case 'oneOf': {
      const stage = error.data as Record<string, unknown>;
      const both = stage && 'module' in stage && 'cmd' in stage;
      return both
        ? diagnostic(
            'schema',
            `${where} has both "module" and "cmd"; give exactly one`,
            source.spanOfKey([...path, 'cmd']),
          )
        : diagnostic(
            'schema',
            `${where} needs a "module" or a "cmd"`,
            source.spanOfKey(path),
            'add `cmd: <shell command>` or `module: stages/<name>.ts`',
          );
    }
    case 'propertyNames': {
      const name = String(error.params.propertyName);
      return diagnostic(
        'schema',
        `invalid stage name "${name}": use only letters, digits, "_" and "-"`,
        source.spanOfKey([...path, name]),
      );
    }
    case 'type': {
      const expected = String(error.params.type);
      if (error.data === null && path.length === 2 && path[0] === 'stages')
        return diagnostic(
          'schema',
          `${where} is empty`,
          source.spanOfKey(path),
          'add `cmd: <shell command>` or `module: stages/<name>.ts`',
        );
      const hint =
        expected === 'boolean' && typeof error.data === 'string' && /^(yes|no|on|off|y|n)$/i.test(error.data)
          ? `YAML 1.2 reads "${error.data}" as text; write true or false`
          : undefined;
      return diagnostic('schema', `${where} must be ${typeName(expected)}`, source.spanOfValue(path), hint);
    }

    case 'minProperties':
      return diagnostic('schema', `${where} must declare at least one stage`, source.spanOfKey(path));
    case 'pattern':
      if (error.params.pattern === '\\S')
        return diagnostic('schema', `${where} must not be empty`, source.spanOfValue(path));
      if (path.at(-1) === 'mem')
        return diagnostic(
          'schema',
          `${where} "${String(error.data)}" is not a memory size`,
          source.spanOfValue(path),
          'write megabytes as a number (500) or Slurm units (4G, 500M)',
        );
      if (path.at(-1) === 'token_env')
        return diagnostic(
          'schema',
          `${where} "${String(error.data)}" is not an environment variable name`,
          source.spanOfValue(path),
          'name the variable that holds the token (e.g. PIPELINE_REMOTE_TOKEN), never the token itself',
        );
      if (path.at(-1) === 'time')
        return diagnostic(
          'schema',
          `${where} "${String(error.data)}" is not a time limit`,
          source.spanOfValue(path),
          'write minutes as a number (90) or Slurm forms (1:30:00, 2-00:00:00)',
        );
      return diagnostic(
        'schema',
        `${where} "${String(error.data)}" is not a dotted param key`,
        source.spanOfValue(path),
        'write keys like `train.lr`',
      );
    default:
      return diagnostic('schema', `${where} ${error.message ?? 'is invalid'}`, source.spanOfValue(path));
  }
}

/** `/stages/train/deps/0` → ['stages', 'train', 'deps', 0]. */
function parsePointer(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Human wording of a path: `deps[0] of stage "train"`, `"params"`, `the file`. */
function describePath(path: PathSegment[]): string {
  if (path.length === 0) return 'the file';
  if (path[0] === 'stages' && path.length >= 2) {
    const stage = `stage "${String(path[1])}"`;
    if (path.length === 2) return stage;
    const field = path
      .slice(2)
      .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`))
      .join('');
    return `"${field}" of ${stage}`;
  }
  return `"${path.map(String).join('.')}"`;
}

function typeName(type: string): string {
  switch (type) {
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    default:
      return `of type ${type}`;
  }
}

function dedupe(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.span?.line}:${d.span?.col}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
