/**
 * Fault injection for the crash-consistency test (test/engine/crash-consistency.test.ts).
 * Wherever the engine's state on disk passes through an intermediate step (a
 * temp file written but not renamed, an out moved aside, a lock entry recorded
 * before the commit), it calls crashPoint(label). With PIPELINE_CRASH_AT=N in
 * its environment the process kills itself with SIGKILL at the N-th point it
 * reaches: no cleanup runs, exactly as under a kill from outside, but at a
 * moment a timer would rarely hit. PIPELINE_CRASH_LOG names a file that gets
 * each label reached, one a line. Neither set (always, outside that test): a
 * call is one comparison.
 */
import { appendFileSync } from 'node:fs';

const crashAt = Number(process.env.PIPELINE_CRASH_AT ?? '') || 0;
const crashLog = process.env.PIPELINE_CRASH_LOG || undefined;
let reached = 0;

export function crashPoint(label: string): void {
  if (crashAt === 0 && crashLog === undefined) return;
  reached++;
  if (crashLog !== undefined) appendFileSync(crashLog, `${label}\n`);
  if (reached === crashAt) process.kill(process.pid, 'SIGKILL');
}
