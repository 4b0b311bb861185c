import { spawnLocal } from '../stage-process.ts';
import type { Executor } from './executor.ts';

/** Today's behaviour: each stage (or shard) is a child process in its own process group; `--jobs` bounds the shards too. */
export const localExecutor: Executor = {
  name: 'local',
  run: (job) => spawnLocal(job),
  shardConcurrency: (jobs, shards) => Math.max(1, Math.min(jobs, shards)),
};
