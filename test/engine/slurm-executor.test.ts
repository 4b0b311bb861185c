/**
 * The Slurm executor against a real slurmctld/slurmd (start one with
 * `bash scripts/slurm-cluster.sh up`; CI does). Jobs that must stay running
 * wait on stage gates (test/stage-gate.ts) instead of sleeping; the TIMEOUT
 * case moves its job's end time to now (`scontrol update EndTime=now`) instead
 * of waiting out Slurm's smallest time limit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { listRuns, runFigures } from '../../packages/engine/src/experiments/run-record.ts';
import { slurmCluster } from '../machine.ts';
import { gatedProject, Project } from './project-fixture.ts';
import { SHARDED_FILES } from './sharded-fixture.ts';

const skip = slurmCluster();
/** CPUs of the (first) node: what each Ctrl-C job asks for, so that only one fits at a time. */
const jobCpus = !skip
  ? Number(spawnSync('sinfo', ['--noheader', '--format=%c'], { encoding: 'utf8' }).stdout.trim().split('\n')[0])
  : 1;
/** A gate no test releases: its job runs until cancelled or timed out (far past any wait of these tests). */
const HELD_S = 900;
const pick = (values: Record<string, number>, keys: string[]) =>
  Object.fromEntries(keys.map((key) => [key, values[key]]));

/** Slurm's state of each job id (jobs Slurm no longer knows are absent). */
function jobStates(ids: string[]): Map<string, string> {
  const out = spawnSync('squeue', ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, '--format=%i|%T'], {
    encoding: 'utf8',
  }).stdout;
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.trim().split('|') as [string, string]),
  );
}

/** The jobs a project's runs submitted, from the engine's own record. */
function submittedJobs(project: Project): { jobId: string; name: string; stage: string }[] {
  const tmp = project.path('.pipeline/tmp');
  let runs: string[];
  try {
    runs = readdirSync(tmp);
  } catch {
    return [];
  }
  return runs.flatMap((run) => {
    try {
      return readFileSync(join(tmp, run, 'slurm-jobs.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    } catch {
      return [];
    }
  });
}

/** A failed test must not leave jobs holding the node's CPUs for the next ones. */
function cancelAll(project: Project): void {
  const ids = submittedJobs(project).map((j) => j.jobId);
  if (ids.length > 0) spawnSync('scancel', ids, { stdio: 'ignore' });
}

/** Resolve once `check()` is true, polling Slurm; a bound far past any scheduling delay fails the test instead of hanging it. */
async function until(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  for (let waited = 0; !check(); waited += 300) {
    if (waited > timeoutMs) throw new Error(`waited ${timeoutMs / 1000} s for ${what}; giving up`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe('the slurm executor', { skip }, () => {
  test('runs a pipeline (cmd, module and sharded module stages) to the same outs and lock as the local executor', async () => {
    const local = new Project(SHARDED_FILES);
    const slurm = new Project(SHARDED_FILES);
    try {
      const l = await local.run('run', '-j', '2');
      assert.equal(l.code, 0, l.stderr);
      const s = await slurm.run('run', '--executor', 'slurm');
      assert.equal(s.code, 0, s.stdout + s.stderr);
      for (const file of [
        'out/input.txt',
        'out/whole/lines.txt',
        'out/whole/count.json',
        'out/sharded/lines.txt',
        'out/sharded/count.json',
      ])
        assert.equal(slurm.read(file), local.read(file), file);
      assert.equal(slurm.read('pipeline.lock'), local.read('pipeline.lock'));
      // Sharded equals unsharded, byte for byte.
      assert.equal(local.read('out/sharded/lines.txt'), local.read('out/whole/lines.txt'));
      assert.equal(local.read('out/sharded/count.json'), '{"lines":50}');
      // Every stage, shard and merge was its own job, named after the run (each log names its job).
      const logs = ['make', 'whole', 'sharded'].flatMap((stage) =>
        readdirSync(slurm.path(`.pipeline/logs/${stage}`)).map((file) => slurm.read(`.pipeline/logs/${stage}/${file}`)),
      );
      const names = logs.map((log) => /^# Slurm job \d+ \(pipeline\.[\d-]+\.(\S+)\)$/m.exec(log)?.[1]).sort();
      assert.deepEqual(names, [
        'make',
        'sharded.merge',
        'sharded.shard-0',
        'sharded.shard-1',
        'sharded.shard-2',
        'whole',
      ]);
      assert.match(
        logs.find((log) => log.includes('.sharded.shard-1)'))!,
        /did 17 lines as shard 2\/3/,
      );
      // What a stage reports (ctx.report) reaches the run record from a cluster job too; a sharded stage's is its merge's.
      for (const project of [local, slurm])
        assert.deepEqual(
          pick(runFigures(listRuns(project.path('.pipeline')).at(-1)!), [
            'whole.lines',
            'sharded.lines',
            'sharded.shards',
          ]),
          { 'whole.lines': 50, 'sharded.lines': 50, 'sharded.shards': 3 },
        );
      // Resources never enter the fingerprint: run locally again, nothing to do.
      const again = await slurm.run('run');
      assert.match(again.stdout, /0 ran, 3 skipped/);
    } finally {
      local.remove();
      slurm.remove();
    }
  });

  test('a failing job fails its stage with the exit code, job id and log; outs and lock stay as they were', async () => {
    const project = new Project({
      'pipeline.yaml': `executor: { poll_seconds: 1 }
params: { v: 1, code: 0 }
stages:
  x:
    cmd: mkdir -p out && echo \${params.v} > out/x.txt && exit \${params.code}
    outs: [out/x.txt]
`,
    });
    try {
      assert.equal((await project.run('run', '--executor', 'slurm')).code, 0);
      const lock = project.read('pipeline.lock');
      const failed = await project.run('run', '--executor', 'slurm', '--set', 'v=2', '--set', 'code=3');
      assert.equal(failed.code, 1);
      assert.match(
        failed.stdout,
        /✖ x\s+failed \(exit 3 \(Slurm job \d+ FAILED\)\) — log: \.pipeline\/logs\/x\/[\d-]+\.log/,
      );
      assert.equal(project.read('out/x.txt'), '1\n');
      assert.equal(project.read('pipeline.lock'), lock);
    } finally {
      project.remove();
    }
  });

  test('a failure cancels the other jobs of the run (no --keep-going)', async () => {
    // bad fails only once long runs: the failure must cancel a running job.
    const { project, gates } = gatedProject(
      (g) => `executor: { poll_seconds: 1 }
stages:
  bad:
    cmd: ${g.cmd('bad', { until: 'long' })} && exit 4
    outs: [bad.txt]
  long:
    cmd: mkdir -p out && ${g.cmd('long', { limitS: HELD_S })} && touch out/long.txt
    outs: [out/long.txt]
`,
    );
    try {
      const started = project.start(['run', '--executor', 'slurm']);
      await gates.waitStarted('long');
      await until(() => submittedJobs(project).length === 2, 'both jobs to be recorded');
      const ids = submittedJobs(project).map((j) => j.jobId);
      const result = await started.done;
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /✖ bad\s+failed \(exit 4 \(Slurm job \d+ FAILED\)\)/);
      assert.match(result.stdout, /✖ long\s+failed \(cancelled: stage bad failed\)/);
      assert.deepEqual([...jobStates(ids).values()].sort(), ['CANCELLED', 'FAILED']);
    } finally {
      cancelAll(project);
      project.remove();
    }
  });

  test('Ctrl-C cancels the queued and the running jobs of the run; pipeline status lists them first', async () => {
    const { project } = gatedProject(
      (g) => `executor: { poll_seconds: 1 }
stages:
${[1, 2, 3].map((n) => `  p${n}:\n    cmd: mkdir -p out && ${g.cmd(`p${n}`, { limitS: HELD_S })} && touch out/p${n}.txt\n    outs: [out/p${n}.txt]\n    resources: { cpus: ${jobCpus} }\n`).join('')}`,
    );
    try {
      const started = project.start(['run', '--executor', 'slurm']);
      // Each asks for all of the node's CPUs: one runs (held at its gate), two wait in the queue.
      const states = () => [...jobStates(submittedJobs(project).map((j) => j.jobId)).values()];
      await until(
        () => states().length === 3 && states().includes('RUNNING') && states().includes('PENDING'),
        'one running and queued jobs',
      );
      const ids = submittedJobs(project).map((j) => j.jobId);
      const status = await project.run('status');
      assert.match(
        status.stdout,
        /Slurm jobs of the run in progress:\n( {2}job \d+ {2}(RUNNING|PENDING)\s+pipeline\.[\d-]+\.p\d\n){3}/,
      );
      const json = JSON.parse((await project.run('status', '--json')).stdout) as {
        stage: string;
        jobs?: { id: string; state: string }[];
      }[];
      assert.deepEqual(
        json
          .map((s) => s.jobs?.map((j) => j.id))
          .flat()
          .sort(),
        [...ids].sort(),
        "status --json names each stage's job",
      );
      started.child.kill('SIGINT');
      const result = await started.done;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.deepEqual([...jobStates(ids).values()], ['CANCELLED', 'CANCELLED', 'CANCELLED']);
      assert.equal(project.exists('pipeline.lock'), false);
    } finally {
      cancelAll(project);
      project.remove();
    }
  });

  test('a submitting CLI killed with SIGKILL: the next run cancels its jobs and puts the old outs back', async () => {
    // The job runs gates/<param gate>.sh: "open" passes at once, "held" waits until cancelled.
    const { project, gates } = gatedProject(
      () => `executor: { poll_seconds: 1 }
params: { v: 1, gate: open }
stages:
  w:
    cmd: mkdir -p out && echo \${params.v} > out/w.txt && sh gates/\${params.gate}.sh
    outs: [out/w.txt]
`,
    );
    project.write('gates/open.sh', 'true\n');
    project.write('gates/held.sh', `${gates.cmd('held', { limitS: HELD_S })}\n`);
    try {
      assert.equal((await project.run('run', '--executor', 'slurm')).code, 0);
      const lock = project.read('pipeline.lock');
      const started = project.start(['run', '--executor', 'slurm', '--set', 'v=2', '--set', 'gate=held']);
      await gates.waitStarted('held');
      assert.equal(project.read('out/w.txt'), '2\n');
      started.child.kill('SIGKILL');
      await started.done;
      const job = submittedJobs(project).at(-1); // only the killed run's record is left
      assert.equal(jobStates([job!.jobId]).get(job!.jobId), 'RUNNING', 'the job outlives the submitting CLI');

      const next = await project.run('run');
      assert.equal(next.code, 0, next.stderr);
      assert.match(
        next.stdout,
        new RegExp(`note: cancelled Slurm job ${job!.jobId} \\(w\\) left by an interrupted run`),
      );
      assert.match(next.stdout, /note: put back previous outs left aside by an interrupted run: out\/w\.txt/);
      assert.match(next.stdout, /w\s+skipped \(up to date\)/);
      assert.equal(jobStates([job!.jobId]).get(job!.jobId), 'CANCELLED');
      assert.equal(project.read('out/w.txt'), '1\n');
      assert.equal(project.read('pipeline.lock'), lock);
    } finally {
      cancelAll(project);
      project.remove();
    }
  });

  test('a job past its time limit ends as TIMEOUT, named on the stage line', async () => {
    const { project, gates } = gatedProject(
      (g) => `executor: { poll_seconds: 1 }
stages:
  slow:
    cmd: mkdir -p out && ${g.cmd('slow', { limitS: HELD_S })} && touch out/slow.txt
    outs: [out/slow.txt]
    resources: { time: 1, cpus: 1 }
`,
    );
    try {
      const run = project.run('run', '--executor', 'slurm');
      await gates.waitStarted('slow');
      await until(() => submittedJobs(project).length === 1, 'the job to be recorded');
      // Past its time limit now, not in a minute: slurmctld ends it as TIMEOUT at its next check (every 30 s).
      // Only an operator may move a job's end time; anyone else waits out the minute.
      spawnSync('scontrol', ['update', `JobId=${submittedJobs(project)[0].jobId}`, 'EndTime=now'], { stdio: 'ignore' });
      const result = await run;
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /✖ slow\s+failed \(Slurm job \d+ TIMEOUT \(time limit 00:01:00\)\) — log: /);
      assert.equal(project.exists('out/slow.txt'), false);
      assert.equal(project.exists('pipeline.lock'), false);
    } finally {
      cancelAll(project);
      project.remove();
    }
  });
});
