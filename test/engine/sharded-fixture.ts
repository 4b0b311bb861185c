/**
 * A pipeline with a cmd stage and the same module stage twice, whole and in
 * 3 shards (`stages/lines.ts` upper-cases the lines of its dep; a shard does
 * its contiguous slice, merge concatenates the slices in order).
 */
export const SHARDED_FILES = {
  'pipeline.yaml': `executor:
  poll_seconds: 1
stages:
  make:
    cmd: mkdir -p out && seq 1 50 | sed 's/^/line /' > out/input.txt
    outs: [out/input.txt]
  whole:
    module: stages/lines.ts
    deps: [out/input.txt]
    outs: [out/whole]
  sharded:
    module: stages/lines.ts
    deps: [out/input.txt]
    outs: [out/sharded]
    shards: 3
    resources: { cpus: 1, time: 5 }
`,
  // Upper-cases the lines of its dep; a shard does its contiguous slice, merge concatenates the slices in order.
  'stages/lines.ts': `import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctx = any;
export default {
  async run(ctx: Ctx) {
    const lines = readFileSync(ctx.deps[0]!, 'utf8').split('\\n').filter(Boolean);
    const { index, count } = ctx.shard ?? { index: 0, count: 1 };
    if (existsSync(join(ctx.root, \`fail-shard-\${index}\`))) throw new Error(\`shard \${index} told to fail\`);
    const per = Math.ceil(lines.length / count);
    const mine = lines.slice(index * per, (index + 1) * per);
    mkdirSync(ctx.outs[0]!, { recursive: true });
    writeFileSync(join(ctx.outs[0]!, 'lines.txt'), mine.map((line) => line.toUpperCase() + '\\n').join(''));
    writeFileSync(join(ctx.outs[0]!, 'count.json'), JSON.stringify({ lines: mine.length }));
    ctx.log(\`did \${mine.length} lines as shard \${index + 1}/\${count}\`);
    ctx.report({ lines: mine.length });
  },
  async merge(ctx: Ctx, shardOuts: string[][]) {
    mkdirSync(ctx.outs[0]!, { recursive: true });
    let text = '';
    let lines = 0;
    for (const [dir] of shardOuts) {
      text += readFileSync(join(dir!, 'lines.txt'), 'utf8');
      lines += JSON.parse(readFileSync(join(dir!, 'count.json'), 'utf8')).lines;
    }
    writeFileSync(join(ctx.outs[0]!, 'lines.txt'), text);
    writeFileSync(join(ctx.outs[0]!, 'count.json'), JSON.stringify({ lines }));
    ctx.report({ lines, shards: shardOuts.length });
  },
};
`,
};
