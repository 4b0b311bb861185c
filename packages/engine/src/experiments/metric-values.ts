/**
 * Metric names and values: every number in a stage's declared metrics JSON,
 * flattened to `stage.key` (`predict.log_loss`, `predict.confusion.tp`).
 * A stage with several metrics files prefixes each file's stem:
 * `train.metrics.val_loss`.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { ResolvedStage } from '../config/pipeline.ts';

export type MetricValues = Record<string, number>;

/** The numbers in a parsed JSON value, keyed by dotted path (strings and booleans are not metrics). */
export function numericLeaves(value: unknown, prefix: string, into: MetricValues = {}): MetricValues {
  if (typeof value === 'number' && Number.isFinite(value)) into[prefix] = value;
  else if (Array.isArray(value)) value.forEach((item, i) => numericLeaves(item, `${prefix}.${i}`, into));
  else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) numericLeaves(item, `${prefix}.${key}`, into);
  return into;
}

/** The name prefix of one metrics file of a stage. */
export function metricPrefix(stage: ResolvedStage, file: string): string {
  return stage.metrics.length > 1 ? `${stage.name}.${basename(file, extname(file))}` : stage.name;
}

/**
 * Read the metric values of every stage that declares metrics; `read` returns
 * a file's text or undefined when it is absent (a stage that never ran).
 */
export function collectMetrics(
  stages: Iterable<ResolvedStage>,
  read: (stage: ResolvedStage, file: string) => string | undefined,
): MetricValues {
  const values: MetricValues = {};
  for (const stage of stages)
    for (const file of stage.metrics) {
      const text = read(stage, file);
      if (text === undefined) continue;
      try {
        numericLeaves(JSON.parse(text), metricPrefix(stage, file), values);
      } catch {
        // Not JSON (a half-written or foreign file): it has no metric values to report.
      }
    }
  return values;
}

export function readTextIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Params as flat dotted keys: a subtree param (`augment`) becomes its leaves (`augment.zoom_range`). */
export function flattenParams(
  params: Record<string, unknown>,
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  const walk = (value: unknown, key: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0)
      for (const [k, v] of Object.entries(value)) walk(v, `${key}.${k}`);
    else into[key] = value;
  };
  for (const [key, value] of Object.entries(params)) walk(value, key);
  return into;
}
