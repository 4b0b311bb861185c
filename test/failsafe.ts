/**
 * How long a test lets a child process (a whole `pipeline run`, a WebGPU child) run before calling it hung.
 * Only a failsafe, so a hang fails instead of stalling CI: far beyond any run's time on a loaded machine, never
 * a speed claim (those are figures printed by bench/). The whole suite takes about 6 minutes alone on 2 cores.
 */
export const HUNG_AFTER_MS = 30 * 60_000;
