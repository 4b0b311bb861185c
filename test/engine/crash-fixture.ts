/**
 * The crash-consistency test's project: small and quick, but with what a kill
 * can tear apart: command and module stages, several outs per stage, files and
 * folders of many small files (so a kill often lands while outs are written,
 * moved aside or committed), a stage with `cache: false` (it always runs again),
 * and two stages that can run at once (-j 2). Every out depends on the `v`
 * param, so a run with another `v` replaces every out.
 */
export const CRASH_FILES: Record<string, string> = {
  'pipeline.yaml': `params:
  v: 1
stages:
  gen:
    cmd: sh stages/gen.sh \${params.v}
    outs: [out/gen.txt, out/many]
  shape:
    module: stages/shape.ts
    deps: [out/gen.txt, out/many]
    params: [v]
    outs: [out/shape.json, out/parts]
  join:
    cmd: cat out/shape.json out/many/f7.txt out/parts/p3.txt > out/join.txt
    deps: [out/shape.json, out/many, out/parts]
    outs: [out/join.txt]
  fresh:
    cmd: sh stages/fresh.sh \${params.v}
    cache: false
    outs: [out/fresh]
`,
  'stages/gen.sh': `set -e
mkdir -p out/many/sub
printf 'gen v=%s\\n' "$1" > out/gen.txt
i=0
while [ $i -lt 40 ]; do
  i=$((i + 1))
  printf '%s %s\\n' "$1" "$i" > out/many/f$i.txt
done
printf 'deep %s\\n' "$1" > out/many/sub/deep.txt
`,
  'stages/fresh.sh': `set -e
mkdir -p out/fresh
for name in a b c d e f g h; do printf '%s %s\\n' "$name" "$1" > out/fresh/$name.txt; done
`,
  'stages/shape.ts': `import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx: { params: Record<string, unknown>; deps: readonly string[]; outs: readonly string[] }) {
    const head = readFileSync(ctx.deps[0], 'utf8').trim();
    const files = readdirSync(ctx.deps[1]).sort();
    writeFileSync(ctx.outs[0], JSON.stringify({ head, files: files.length, v: ctx.params.v }) + '\\n');
    mkdirSync(ctx.outs[1], { recursive: true });
    for (let i = 1; i <= 30; i++) writeFileSync(join(ctx.outs[1], 'p' + i + '.txt'), head + ' part ' + i + '\\n');
  },
};
`,
};

/** The values of `v` the test moves between. */
export const CRASH_VALUES = [1, 2, 3];
