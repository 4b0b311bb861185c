/**
 * What some tests need from the machine beyond Node and the repo: a Slurm cluster, a software Vulkan driver
 * (Mesa's lavapipe) for WebGPU, headless Chromium, nginx (the remote cache tests' HTTP cache server). Each is detected here, once per test file. Where one is
 * absent its tests are skipped with the reason (listed again at the end of `npm test`, test/skip-summary.ts),
 * so `npm test` needs no root, no apt, no Debian. `scripts/test-machine.sh` (root) installs them all.
 *
 * Under PIPELINE_TEST_REQUIRE_MACHINE=1 (set by `.ci/run` after it ran scripts/test-machine.sh) nothing is
 * skipped: a missing capability throws, failing the test file, so CI always drives the real thing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chromiumBinary } from '../scripts/headless-chromium.ts';
import { takeInventory } from '../stages/lib/inference/device.ts';

export const REQUIRE_MACHINE = 'PIPELINE_TEST_REQUIRE_MACHINE';
const SETUP = 'run `sudo scripts/test-machine.sh`';

/** `{ skip }` for node:test: false where the machine has it, else "skipped: no … — run …"; throws instead under PIPELINE_TEST_REQUIRE_MACHINE=1. */
function requirement(missing: string | undefined): string | false {
  if (missing === undefined) return false;
  const reason = `no ${missing} — ${SETUP}`;
  if (process.env[REQUIRE_MACHINE] === '1') throw new Error(`${REQUIRE_MACHINE}=1, but this machine has ${reason}`);
  return reason;
}

/** A Slurm cluster that answers, with a node up: `sinfo` reaches slurmctld. */
export function slurmCluster(): string | false {
  const sinfo = spawnSync('sinfo', ['--noheader', '--format=%T'], { encoding: 'utf8', timeout: 20_000 });
  if (sinfo.error) return requirement('Slurm cluster (sinfo is not installed)');
  if (sinfo.status !== 0)
    return requirement(`Slurm cluster (sinfo: ${sinfo.stderr.trim().split('\n')[0] || `exit ${sinfo.status}`})`);
  const states = sinfo.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!states.some((s) => /^(idle|mixed|allocated|completing)/.test(s)))
    return requirement(`Slurm cluster (no node up: ${states.join(', ') || 'no nodes'})`);
  return requirement(undefined);
}

/**
 * Mesa's lavapipe recent enough for Dawn (Mesa ≥ 25, whose lavapipe is Vulkan 1.4; Mesa 22's lacks a feature
 * Dawn needs). Returns its ICD file too, for the tests that point Vulkan at it alone.
 */
export function lavapipe(): { skip: string | false; icd?: string } {
  const software = takeInventory().icds.filter((icd) => icd.software);
  const recent = software.find((icd) => vulkan14(icd.file));
  if (recent) return { skip: requirement(undefined), icd: recent.file };
  const found =
    software.length === 0 ? 'none found' : `found only Vulkan < 1.4: ${software.map((icd) => icd.file).join(', ')}`;
  return { skip: requirement(`software Vulkan driver for WebGPU (lavapipe from Mesa ≥ 25; ${found})`) };
}

/** Whether an ICD file declares Vulkan 1.4 or later. */
function vulkan14(icdFile: string): boolean {
  try {
    const [major = 0, minor = 0] = String(JSON.parse(readFileSync(icdFile, 'utf8')).ICD.api_version)
      .split('.')
      .map(Number);
    return major > 1 || (major === 1 && minor >= 4);
  } catch {
    return false;
  }
}

/** Headless Chromium (`chromium` or `chromium-browser` on PATH). */
export function chromium(): { skip: string | false; binary?: string } {
  const binary = chromiumBinary();
  return binary
    ? { skip: requirement(undefined), binary }
    : { skip: requirement('Chromium (chromium is not on PATH)') };
}

/** nginx, which the remote cache tests start as a WebDAV HTTP cache server on a loopback port (test/remote/cache-server.ts). */
export function nginx(): string | false {
  const found = ['/usr/sbin/nginx', '/usr/bin/nginx'].some((file) => existsSync(file));
  return requirement(found ? undefined : "nginx for the HTTP cache server (Debian's nginx-light)");
}
