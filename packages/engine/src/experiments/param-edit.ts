/**
 * Write param values into pipeline.yaml text, changing nothing but the values:
 * each value's characters are replaced where the YAML parser says they are,
 * so comments, order, quoting elsewhere and flow mappings stay as written.
 */
import { isScalar, parseDocument } from 'yaml';

export type EditResult = { ok: true; text: string } | { ok: false; error: string };

/** `assignments`: dotted param key → the value as YAML text (as given to --set, e.g. `3e-4`). */
export function setParamValues(text: string, assignments: ReadonlyArray<[string, string]>): EditResult {
  const doc = parseDocument(text, { keepSourceTokens: true });
  const edits: Array<{ start: number; end: number; value: string }> = [];
  for (const [key, value] of assignments) {
    const node = doc.getIn(['params', ...key.split('.')], true);
    if (!isScalar(node) || !node.range)
      return {
        ok: false,
        error: `param ${key} is not a single value written in pipeline.yaml; cannot write ${value} into it`,
      };
    if (/[\n#]|^\s|\s$/.test(value))
      return {
        ok: false,
        error: `value "${value}" for ${key} cannot be written in place (multi-line, comment or edge spaces)`,
      };
    edits.push({ start: node.range[0], end: node.range[1], value: inlineValue(value) });
  }
  let edited = text;
  for (const edit of edits.sort((a, b) => b.start - a.start))
    edited = edited.slice(0, edit.start) + edit.value + edited.slice(edit.end);
  return { ok: true, text: edited };
}

/** A value as it may stand after `key: ` (also inside `{ … }`): quoted when a plain scalar would read differently. */
function inlineValue(value: string): string {
  return /[,{}[\]:&*!|>'"%@`]/.test(value) && !/^[-+]?[\d.]+(e[-+]?\d+)?$/i.test(value) ? JSON.stringify(value) : value;
}
