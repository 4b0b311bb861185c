/** Counts the words of its dep and writes the most frequent ones to its out. */
import { readFile, writeFile } from 'node:fs/promises';
import { checkParam, defineStage, StageUserError } from 'pipeline-ml-engine';
import rules from './report.params.ts';

export default defineStage({
  async run(ctx) {
    const top = checkParam('report.top', rules['report.top'], ctx.params['report.top']);
    if (!top.ok) throw new StageUserError(top.message);
    const [wordsFile] = ctx.deps;
    const [reportFile] = ctx.outs;
    const counts = new Map<string, number>();
    for (const word of (await readFile(wordsFile!, 'utf8')).split(/\s+/).filter(Boolean)) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    const ranked = [...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).slice(0, top.value as number);
    ctx.log(`${counts.size} distinct words`);
    await writeFile(reportFile!, `${JSON.stringify(Object.fromEntries(ranked), null, 2)}\n`);
  },
});
