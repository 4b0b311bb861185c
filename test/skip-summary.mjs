/**
 * A node:test reporter that lists every skipped test with its reason after the run, grouped by reason, so a
 * missing capability (test/machine.ts) or missing shared data reads as one line in the summary, e.g.
 *   skipped 6: no Slurm cluster (sinfo is not installed) — run `sudo scripts/test-machine.sh`
 * `npm test` runs it beside the spec reporter. Plain JavaScript: node loads reporters before tsx's hooks.
 *
 * @param {AsyncIterable<{ type: string, data: { name?: string, skip?: string | boolean } }>} source
 */
export default async function* skipSummary(source) {
  /** @type {Map<string, string[]>} */
  const byReason = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' || event.data.skip === undefined || event.data.skip === false) continue;
    const reason = event.data.skip === true ? '(no reason given)' : event.data.skip;
    byReason.set(reason, [...(byReason.get(reason) ?? []), event.data.name ?? '?']);
  }
  if (byReason.size === 0) return;
  let text = '\n';
  for (const [reason, names] of byReason) {
    text += `skipped ${names.length}: ${reason}\n`;
    for (const name of names) text += `  - ${name}\n`;
  }
  yield text;
}
