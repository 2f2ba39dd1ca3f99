#!/usr/bin/env bash
# Samples one batch-throughput variant with Linux perf and prints where its CPU goes, by component.
# usage: benchmarks/profiling/profile-batch.sh VARIANT [REDIS_ENDPOINT]
#   VARIANT: an index of BatchThroughput's variants (0 raw MGET, 2 RedisCache, 3 lazy-load, 4 read-through into a churning L1)
# Needs perf (apt-get install linux-perf) and a redis-server at REDIS_ENDPOINT (default 127.0.0.1:6390). JIT frames are
# named through the runtime's perf map (DOTNET_PerfMapEnabled); W^X is turned off so perf sees the code where it runs.
set -euo pipefail
variant=${1:?variant index}
endpoint=${2:-127.0.0.1:6390}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../TaiCache.Benchmarks"
dotnet build -c Release >/dev/null
out=$(mktemp -d)
DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 TAICACHE_REDIS=$endpoint TAICACHE_BATCH_ONLY=$variant \
  dotnet bin/Release/net10.0/TaiCache.Benchmarks.dll --batch-throughput 30 1 >"$out/run.log" 2>&1 &
sleep 10 # warmed up and tiered up
pid=$(pgrep -f "TaiCache.Benchmarks.dll --batch-throughput" | head -n 1)
perf record -F 999 -g -p "$pid" -o "$out/perf.data" -- sleep 15 >/dev/null 2>&1
wait
grep '^| [^-v]' "$out/run.log" | cut -d'|' -f2-3,6
perf script -i "$out/perf.data" -F ip,sym 2>/dev/null | python3 "$here/perf_breakdown.py"
rm -rf "$out"
