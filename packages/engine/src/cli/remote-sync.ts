/**
 * `pipeline push` and `pipeline pull`: sync the runs pipeline.lock names (the
 * named stages and their upstream; every stage when none are named) with the
 * remote cache, like `dvc push/pull`. Pull fills the local run cache; the next
 * `pipeline run` restores the outs from it.
 */
import { formatBytes } from '../cache/stage-caches.ts';
import type { PullResult, PushResult } from '../cache/remote-run-cache.ts';
import { parseOptions } from './options.ts';
import { openProjectWithRemote, remoteOptions, remoteOptionsHelp } from './remote-options.ts';

const usages = {
  push: `Usage: pipeline push [STAGE…] [options]

Uploads to the remote cache the runs pipeline.lock records for the named
stages and their upstream (every stage when none are named): each out's
files, then the run record, so another machine's \`pipeline run\` restores
them instead of running. What the server has already is not sent again.

  --all-runs          every run in the local run cache, not only the lock's
${remoteOptionsHelp}`,
  pull: `Usage: pipeline pull [STAGE…] [options]

Downloads from the remote cache the runs pipeline.lock records for the named
stages and their upstream (every stage when none are named) into the local
run cache, every file checked against its sha256; \`pipeline run\` then
restores the outs from it.

${remoteOptionsHelp}`,
};

export async function syncCommand(direction: 'push' | 'pull', argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage: usages[direction],
    allowPositionals: true,
    options: { ...remoteOptions, ...(direction === 'push' ? { 'all-runs': { type: 'boolean' } } : {}) },
  });
  if (!options.ok) return options.exitCode;
  const session = await openProjectWithRemote(options);
  if (typeof session === 'number') return session;
  const remote = session.workspace.remote;
  if (!remote) {
    process.stderr.write(
      `error: no remote cache: set remote.url in pipeline.yaml, PIPELINE_REMOTE, or pass --remote <url>\n`,
    );
    return 2;
  }
  if (direction === 'push' && !remote.store.writable) {
    process.stderr.write(
      `error: the remote cache ${remote.store.label} is read-only (remote.read_only in pipeline.yaml)\n`,
    );
    return 2;
  }
  const { workspace, selected } = session;
  const runs: { stage: string; fingerprint: string }[] =
    options.values['all-runs'] === true
      ? workspace.runCache
          .listRuns()
          .map(({ fingerprint }) => ({ stage: workspace.runCache.record(fingerprint)?.stage ?? '?', fingerprint }))
      : selected.flatMap((stage) => {
          const entry = workspace.lock.stages[stage];
          return entry ? [{ stage, fingerprint: entry.fingerprint }] : [];
        });
  const results: { stage: string; fingerprint: string; result: PushResult | PullResult }[] = [];
  for (const run of runs) {
    const result = direction === 'push' ? await remote.push(run.fingerprint) : await remote.pull(run.fingerprint);
    results.push({ ...run, result });
    if (!options.json) process.stdout.write(`${run.stage}  ${describe(result)}\n`);
  }
  const { traffic } = remote.store;
  if (options.json)
    process.stdout.write(
      `${JSON.stringify({ remote: remote.store.label, runs: results, bytesUp: traffic.bytesUp, bytesDown: traffic.bytesDown, requests: traffic.requests }, null, 2)}\n`,
    );
  else {
    const moved =
      direction === 'push' ? `${formatBytes(traffic.bytesUp)} up` : `${formatBytes(traffic.bytesDown)} down`;
    const done = results.filter((r) => r.result === 'pushed' || r.result === 'pulled').length;
    process.stdout.write(
      `${direction === 'push' ? 'pushed' : 'pulled'} ${done} of ${results.length} run${results.length === 1 ? '' : 's'} (${moved}, ${traffic.requests} requests) ${direction === 'push' ? 'to' : 'from'} ${remote.store.label}\n`,
    );
    if (direction === 'pull' && done > 0) process.stdout.write('run `pipeline run` to put their outs in place\n');
  }
  if (runs.length === 0)
    process.stderr.write('note: nothing to sync: no stage of the selection is in pipeline.lock (run it first)\n');
  return results.some((r) => r.result === 'failed' || r.result === 'missing') ? 1 : 0;
}

function describe(result: PushResult | PullResult): string {
  switch (result) {
    case 'pushed':
      return 'pushed';
    case 'pulled':
      return 'pulled';
    case 'present':
      return 'already in the local run cache';
    case 'no-record':
      return 'not in the local run cache (never cached, or removed by `pipeline gc`): not pushed';
    case 'missing':
      return 'not on the remote cache';
    case 'failed':
      return 'failed (see the warning above)';
  }
}
