/** A sweep's lists of values (from `--set key=a,b,c` or a `sweeps:` entry) → the grid of variants it runs. */

export interface SweepVariant {
  /** `v1`, `v2`, … in grid order. */
  name: string;
  /** The swept params of this variant: dotted key → value as YAML text. */
  values: Array<[string, string]>;
}

export interface SweepGrid {
  /** Keys given one value: applied to every variant. */
  fixed: Array<[string, string]>;
  /** Keys given several values, in the order given. */
  swept: Array<[string, string[]]>;
  variants: SweepVariant[];
}

/** Split on commas outside brackets and quotes, so `[1, 2],[3, 4]` is two values. */
export function splitValues(text: string): string[] {
  const values: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let current = '';
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[' || char === '{') depth++;
    else if (char === ']' || char === '}') depth--;
    else if (char === ',' && depth === 0) {
      values.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  values.push(current.trim());
  return values;
}

/** A param and the values a sweep tries for it, each as YAML text. */
export type SweepEntry = [key: string, values: string[]];

export type GridResult = { ok: true; grid: SweepGrid } | { ok: false; error: string };

/** `--set key=a,b,c` texts → entries; a key given twice is an error. */
export function parseSetLists(
  sets: readonly string[],
): { ok: true; entries: SweepEntry[] } | { ok: false; error: string } {
  const entries: SweepEntry[] = [];
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) return { ok: false, error: `--set "${set}": expected key=value or key=v1,v2,…` };
    const key = set.slice(0, eq).trim();
    if (entries.some(([seen]) => seen === key))
      return { ok: false, error: `--set ${key} is given twice; list its values in one --set: ${key}=a,b` };
    const values = splitValues(set.slice(eq + 1));
    if (values.some((v) => v === ''))
      return { ok: false, error: `--set ${key}: empty value in "${set.slice(eq + 1)}"` };
    if (new Set(values).size !== values.length) return { ok: false, error: `--set ${key}: a value is listed twice` };
    entries.push([key, values]);
  }
  return { ok: true, entries };
}

/** Every combination of the entries' values, in the order given; one-valued entries are fixed. */
export function sweepGrid(entries: readonly SweepEntry[]): GridResult {
  const fixed: Array<[string, string]> = [];
  const swept: Array<[string, string[]]> = [];
  for (const [key, values] of entries) {
    if (values.length === 1) fixed.push([key, values[0]]);
    else swept.push([key, values]);
  }
  if (swept.length === 0)
    return { ok: false, error: 'nothing to sweep: give at least one --set key=v1,v2,… with several values' };
  let combos: Array<Array<[string, string]>> = [[]];
  for (const [key, values] of swept)
    combos = combos.flatMap((combo) => values.map((value): Array<[string, string]> => [...combo, [key, value]]));
  return { ok: true, grid: { fixed, swept, variants: combos.map((values, i) => ({ name: `v${i + 1}`, values })) } };
}
