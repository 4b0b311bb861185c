/** `pipeline status [STAGE…]`: each stage up to date, stale or restorable, and why. */
import { join } from 'node:path';
import { queuedSlurmJobs, recordedSlurmJobs, slurmJobEnded } from '../../execution/executors/slurm.ts';
import { activeRun } from '../../execution/run-lock.ts';
import { formatBytes, listStageCaches, totalBytes } from '../../cache/stage-caches.ts';
import { assessStages } from '../../execution/assess-stages.ts';
import { describeReason, describeReasons } from '../../logging/reason-text.ts';
import { parseOptions } from '../options.ts';
import { openProjectWithRemote, remoteOptions, remoteOptionsHelp } from '../remote-options.ts';

const usage = `Usage: pipeline status [STAGE…] [options]

Shows each stage (the named ones and their upstream; all when none are named)
as up-to-date, stale (would run) or restorable (would come back from the run
cache, or from the remote cache: "restorable (remote)"), with the reasons.
Changes nothing except the hash cache under .pipeline/.

${remoteOptionsHelp}`;

export default async function status(argv: string[]): Promise<number> {
  const options = parseOptions(argv, { usage, allowPositionals: true, options: remoteOptions });
  if (!options.ok) return options.exitCode;
  const session = await openProjectWithRemote(options);
  if (typeof session === 'number') return session;
  const { workspace, graph, selected } = session;
  const running = activeRun(join(workspace.dotDir, 'run.lock'));
  if (running)
    process.stderr.write(
      `note: a pipeline run is in progress (PID ${running.pid} on ${running.hostname}, started ${running.started}); stages it is working on may show as stale\n`,
    );
  const clusterJobs = running
    ? queuedSlurmJobs(recordedSlurmJobs(join(workspace.dotDir, 'tmp'))).filter((job) => !slurmJobEnded(job.state))
    : [];
  const statuses = await assessStages(workspace, graph, selected, new Set());
  if (options.json) {
    // A stage the run in progress has on the cluster also lists its jobs (one per shard).
    const jobsOf = (stage: string) =>
      clusterJobs
        .filter((job) => job.stage === stage)
        .map((job) => ({ id: job.jobId, state: job.state, name: job.name }));
    const json = statuses.map(({ stage, state, reasons, remote }) => ({
      stage,
      state,
      ...(remote ? { remote: true } : {}),
      reasons: reasons.map(describeReason),
      ...(jobsOf(stage).length > 0 ? { jobs: jobsOf(stage) } : {}),
    }));
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return 0;
  }
  if (clusterJobs.length > 0) {
    process.stdout.write(`Slurm jobs of the run in progress:\n`);
    for (const job of clusterJobs) process.stdout.write(`  job ${job.jobId}  ${job.state.padEnd(10)}  ${job.name}\n`);
  }
  const width = Math.max(0, ...statuses.map((s) => s.stage.length));
  const stateOf = (s: (typeof statuses)[number]): string => (s.remote ? `${s.state} (remote)` : s.state);
  const stateWidth = Math.max(...statuses.map((s) => stateOf(s).length));
  for (const s of statuses) {
    const why = s.reasons.length > 0 ? `  (${describeReasons(s.reasons)})` : '';
    process.stdout.write(`${s.stage.padEnd(width)}  ${stateOf(s).padEnd(stateWidth)}${why}\n`);
  }
  const pending = statuses.filter((s) => s.state !== 'up-to-date');
  if (pending.length === 0) process.stdout.write('everything is up to date\n');
  else {
    const file = typeof options.values.file === 'string' ? ['-f', options.values.file] : [];
    const command = ['pipeline', 'run', ...file, ...options.positionals, ...options.set.flatMap((kv) => ['--set', kv])]
      .map(shellQuote)
      .join(' ');
    process.stdout.write(
      `${pending.length} stage${pending.length === 1 ? '' : 's'} out of date: run \`${command}\` to update ${pending.length === 1 ? 'it' : 'them'}\n`,
    );
  }
  const caches = [
    `run cache ${formatBytes(totalBytes([...workspace.runCache.listRuns(), ...workspace.runCache.listObjects()]))}`,
    ...listStageCaches(workspace.dotDir)
      .filter((c) => c.files.length > 0)
      .map((c) => `stage cache ${c.stage} ${formatBytes(totalBytes(c.files))}`),
  ];
  process.stdout.write(`stores: ${caches.join(', ')} (\`pipeline gc\` to reclaim)\n`);
  return 0;
}

/** An argument as a POSIX shell reads it back: bare when safe, else in single quotes. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
