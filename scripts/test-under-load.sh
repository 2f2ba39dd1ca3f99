#!/usr/bin/env bash
# Runs scripts/test.sh while N busy loops (default 2) hold the CPUs, RUNS times (default 1), as a loaded CI machine
# would: the way to find the tests that pass on a quiet machine only. Prints each run's closing line and its failures.
#   bash scripts/test-under-load.sh [busy-loops] [runs]
set -uo pipefail
cd "$(dirname "$0")/.."
loops=${1:-2}
runs=${2:-1}
status=0
for run in $(seq 1 "$runs"); do
  pids=()
  for _ in $(seq 1 "$loops"); do
    sh -c 'while :; do :; done' &
    pids+=($!)
  done

  log=$(mktemp)
  bash scripts/test.sh >"$log" 2>&1 || status=1
  kill "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  echo "run $run of $runs, $loops busy loops: $(grep -E '^tests:' "$log" || echo 'no test summary')"
  if grep -qE '^ +Failed [A-Za-z_]' "$log"; then
    grep -E '^ +Failed [A-Za-z_]' "$log" | sort -u
    echo "  full log: $log"
  else
    rm -f "$log"
  fi
done

exit $status
