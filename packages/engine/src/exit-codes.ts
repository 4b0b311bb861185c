/**
 * Exit statuses of a module stage's process (module-runner.ts) that mean more
 * than "failed", named once here so the runner, the local executor and the
 * Slurm executor agree on them.
 */

/** run() threw. When it threw a user error, the runner also left the error's message in its result file. */
export const EXIT_STAGE_FAILED = 1;

/** The module is not a stage: no `run` in its default export, or no `merge` for a sharded stage. */
export const EXIT_NOT_A_STAGE = 2;

/** Node's own status when the top-level await never settles: the stage's run() returned a promise that never settles. */
export const EXIT_NEVER_SETTLED = 13;
