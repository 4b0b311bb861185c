#!/usr/bin/env bash
# What the test suite needs on the machine, each step idempotent (about a second when all is there):
# Mesa 25's software Vulkan driver (WebGPU tests), a one-node Slurm cluster (Slurm executor tests),
# headless Chromium (comparison page test), nginx-light (remote cache tests' HTTP cache server). Installing needs root
# and Debian's apt. `npm test` does not run it (it skips what the machine lacks and says so); `.ci/run` runs it first,
# then the tests in strict mode.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "test-machine: installs system packages and starts daemons, so it needs root: sudo $0" >&2
  exit 1
fi
cd "$(dirname "$0")"
bash ./install-vulkan.sh
bash ./slurm-cluster.sh up
bash ./install-chromium.sh
bash ./cache-server.sh install
