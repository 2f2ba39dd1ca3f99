#!/usr/bin/env bash
# The hit-ratio suite in one go, for comparing two builds of the policy:
#   dotnet build benchmarks/TaiCache.HitRatio -c Release -o /tmp/hr-a     (one commit; then another into /tmp/hr-b)
#   bash benchmarks/TaiCache.HitRatio/suite.sh /tmp/hr-a > a.txt; bash benchmarks/TaiCache.HitRatio/suite.sh /tmp/hr-b > b.txt
# Prints "trace size TaiCache LRU" per line. Traces: OLTP and P3 from the ARC paper (N. Megiddo and D. S. Modha, FAST
# 2003), looked up in TAICACHE_TRACES (default ../shared/traces beside the checkout); the rest are generated.
set -euo pipefail
build=${1:?usage: suite.sh BUILD_DIR}
traces=${TAICACHE_TRACES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/traces}
run() { dotnet "$build/TaiCache.HitRatio.dll" "$@" 2>&1 | awk -v t="$(basename -- "$1")" -F'|' '/^\| +[0-9]/ {gsub(/ /,"",$2); gsub(/ /,"",$3); gsub(/ /,"",$4); print t, $2, $3, $4}'; }
run "$traces/OLTP.lis.zst" 1000 4000 16000
run "$traces/P3.lis.zst" 8192 32768 131072
run --synthetic 1000 10000 50000
run --drift 1000 5000 20000 50000
run --loop:1500 1000
run --loop:12000 10000
# The LRU stack model (re-requests at depth [0.9c, 1.0c)), generated for one size each: 20% new keys at 1,000 and
# 10,000, then 5% and 50% at 2,000. The name carries the capacity and share, so the lines stay apart.
for s in 1000:0.2 10000:0.2 2000:0.05 2000:0.5; do run --stack:"$s" "${s%%:*}" | sed "s/^[^ ]*/stack:$s/"; done
for w in ${WORKLOADS:-zipf-0.6 zipf-1.2 slide scans loop-mix}; do run --workload:"$w" 1000 5000 20000; done
