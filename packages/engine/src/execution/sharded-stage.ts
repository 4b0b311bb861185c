import { mkdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Progress } from '../contract.ts';
import type { ModuleRunSpec } from './module-runner.ts';
import type { ProcessOutcome, StageProcessOptions } from './stage-process.ts';
import type { StageFailure } from './stage-failure.ts';
import { runModule } from './stage-process.ts';

/**
 * A sharded module stage (`shards: N`): N shard processes (local children or
 * cluster jobs, `concurrency` at once), each writing its own temp outs under
 * `<work>/shard-<i>/`, then one merge process that writes the stage's temp
 * outs from them. The first failing shard stops the others; the stage then
 * fails naming that shard and its log. Shard logs sit beside the stage log
 * (`<run-id>.shard-<i>.log`); the merge writes the stage log itself.
 */
export async function runShardedModule(
  spec: Omit<ModuleRunSpec, 'doneFile' | 'progressFile' | 'resultFile'>,
  workDir: string,
  options: StageProcessOptions,
  count: number,
  concurrency: number,
): Promise<ProcessOutcome> {
  const stopShards = new AbortController();
  const signal = AbortSignal.any([options.signal, stopShards.signal]);
  const shardOuts: string[][] = [];
  const progress: Progress[] = [];
  let failure: { index: number; failure: StageFailure; logFile: string } | undefined;
  let next = 0;
  const reportProgress = (): void => {
    const started = progress.filter(Boolean);
    options.onProgress({
      done: started.reduce((sum, p) => sum + p.done, 0),
      total: started.reduce((sum, p) => sum + p.total, 0),
      message: `${started.length}/${count} shards reporting`,
    });
  };
  const worker = async (): Promise<void> => {
    while (next < count && !signal.aborted) {
      const index = next++;
      const dir = join(workDir, `shard-${index}`);
      const outs = spec.outs.map((out, j) => join(dir, `out-${j}`, basename(out)));
      for (const path of outs) mkdirSync(dirname(path), { recursive: true });
      shardOuts[index] = outs;
      const logFile = options.logFile.replace(/(\.log)?$/, `.shard-${index}.log`);
      const outcome = await runModule({ ...spec, outs, shard: { index, count } }, dir, {
        ...options,
        signal,
        logFile,
        part: `shard-${index}`,
        recordGroupIn: dir,
        onProgress: (p) => {
          progress[index] = p;
          reportProgress();
        },
      });
      if (!outcome.ok && !failure && !options.signal.aborted) {
        failure = { index, failure: outcome.failure, logFile };
        stopShards.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  if (options.signal.aborted) return { ok: false, failure: { kind: 'interrupted' } };
  if (failure)
    return {
      ok: false,
      failure: {
        kind: 'shard',
        index: failure.index,
        count,
        failure: failure.failure,
        log: relative(options.root, failure.logFile),
      },
    };
  const mergeDir = join(workDir, 'merge');
  return runModule({ ...spec, mergeShardOuts: shardOuts }, mergeDir, {
    ...options,
    part: 'merge',
    recordGroupIn: mergeDir,
  });
}
