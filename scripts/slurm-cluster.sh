#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm executor's tests and benchmark.
#   scripts/slurm-cluster.sh up       install slurm-wlm + munge when absent, start munged, slurmctld, slurmd; wait for the node
#   scripts/slurm-cluster.sh down     stop the daemons this script started
#   scripts/slurm-cluster.sh status   sinfo and squeue
# Idempotent: `up` skips what is installed or running. Needs root; no systemd (daemons run in the background).
set -euo pipefail

STATE_DIR=/var/lib/slurm-pipeline
CONF=/etc/slurm/slurm.conf

log() { printf 'slurm-cluster: %s\n' "$*" >&2; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return
  fi
  log "installing slurm-wlm and munge from apt"
  local started=$SECONDS
  local apt='apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null'
  bash -c "$apt"
  log "installed in $((SECONDS - started)) s"
}

# The pid of a running daemon: its pid file names a live process that IS that daemon (a pid file left by a
# killed daemon can name a pid reused since; checking /proc/PID/comm keeps us from trusting or killing that).
daemon_pid() {
  local name=$1 pidfile pid
  case "$name" in
    munged) pidfile=/run/munge/munged.pid ;;
    *) pidfile=/run/slurm/$name.pid ;;
  esac
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  ! grep -qs '^State:[[:space:]]*Z' "/proc/$pid/status" || return 1 # killed, not yet reaped
  echo "$pid"
}

running() { daemon_pid "$1" >/dev/null; }

start_munge() {
  if running munged; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged
}

write_conf() {
  local host node
  host=$(hostname -s)
  # `slurmd -C` prints this machine's NodeName=… CPUs=… RealMemory=… line; keep the hardware fields, name it after the host.
  node=$(slurmd -C | head -n 1 | sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e 's/ UpTime=.*//')
  mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/d" /var/log/slurm /run/slurm
  chown -R slurm:slurm "$STATE_DIR" /var/log/slurm /run/slurm
  cat >"$CONF.new" <<EOF
# Written by scripts/slurm-cluster.sh: a one-node test cluster.
ClusterName=pipeline-test
SlurmctldHost=$host
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
# Cores only: jobs without --mem do not each claim the whole node's memory.
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# Finished jobs stay visible to squeue for 10 minutes (the executor reads their end state there).
MinJobAge=600
# Time limits bite at once and kills are quick: tests of TIMEOUT and cancel stay short.
OverTimeLimit=0
KillWait=2
SlurmdTimeout=30
SlurmctldTimeout=30
InactiveLimit=0
Waittime=0
$node State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  mv "$CONF.new" "$CONF"
}

wait_idle() {
  local host
  host=$(hostname -s)
  for _ in $(seq 1 60); do
    local state
    state=$(timeout 5 sinfo --noheader --nodes="$host" --format=%T 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle | mixed | allocated) log "node $host is $state"; return 0 ;;
      down* | drain*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  log "the node never came up; see /var/log/slurm/*.log"
  sinfo >&2 || true
  return 1
}

up() {
  local started=$SECONDS
  install_packages
  start_munge
  if ! running slurmctld || ! running slurmd; then
    write_conf
    if ! running slurmctld; then log "starting slurmctld"; /usr/sbin/slurmctld; fi
    if ! running slurmd; then log "starting slurmd"; /usr/sbin/slurmd; fi
  fi
  wait_idle
  log "up in $((SECONDS - started)) s"
}

stop_daemon() {
  local pid
  if pid=$(daemon_pid "$1") && kill "$pid" 2>/dev/null; then log "stopped $1"; fi
}

down() {
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
}

status() {
  if ! command -v sinfo >/dev/null; then echo "slurm is not installed"; return 1; fi
  sinfo
  squeue --states=all
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
