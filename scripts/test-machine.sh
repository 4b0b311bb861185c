#!/usr/bin/env bash
# What the test suite needs on the machine, each step idempotent (about a second when all is there):
# Mesa 25's software Vulkan driver (WebGPU tests), a one-node Slurm cluster (Slurm executor tests),
# headless Chromium (comparison page test), nginx-light (remote cache tests' HTTP cache server). Installing needs root and Debian's apt; `npm test` runs this first.
set -euo pipefail
cd "$(dirname "$0")"
bash ./install-vulkan.sh
bash ./slurm-cluster.sh up
bash ./install-chromium.sh
bash ./cache-server.sh install
