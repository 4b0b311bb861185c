#!/bin/sh
# A step of a test's stage that the test controls (see test/stage-gate.ts).
#   sh stage-gate.sh DIR NAME [UNTIL [LIMIT_S]]
# Records that it started: DIR/NAME.started holds "PID PARENT_PID" (the parent is the stage's shell) and
# "start NAME" is appended to DIR/events. Then waits until the file DIR/UNTIL exists (default NAME.release,
# which the test creates), appends "end NAME" and exits 0. Bounded: after LIMIT_S seconds (default 120) of
# waiting it fails (exit 3) with a message, so a broken engine or test fails instead of hanging.
set -eu
dir=$1
name=$2
until_file=$dir/${3:-$name.release}
limit=${4:-120}
echo "start $name" >>"$dir/events"
echo "$$ $PPID" >"$dir/$name.started.tmp"
mv "$dir/$name.started.tmp" "$dir/$name.started"
polls=0
while [ ! -e "$until_file" ]; do
  polls=$((polls + 1))
  if [ "$polls" -gt $((limit * 20)) ]; then
    echo "stage-gate: $name waited ${limit} s for $until_file; giving up" >&2
    exit 3
  fi
  sleep 0.05
done
echo "end $name" >>"$dir/events"
