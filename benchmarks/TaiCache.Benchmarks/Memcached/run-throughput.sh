#!/usr/bin/env bash
# 50 concurrent callers against ONE memcached: memcslap (libmemcached's C load tool) before and after TaiCache's
# MemcachedThroughputBenchmarks, all against the same server in the same run. Prints ops/s for each.
# Usage: benchmarks/TaiCache.Benchmarks/Memcached/run-throughput.sh   (from the repository root)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
USER_ARGS=()
[ "$(id -u)" = "0" ] && USER_ARGS=(-u root)
memcached -p "$PORT" -l 127.0.0.1 -U 0 -m 256 -t 4 "${USER_ARGS[@]}" &
MC_PID=$!
trap 'kill $MC_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done

OUT="$(mktemp -d)"
slap() { # $1 = get|set, $2 = label
  memcslap --servers=127.0.0.1:"$PORT" --concurrency=50 --execute-number=2000 --test="$1" > "$OUT/$2.txt" 2>&1
  local secs keys
  keys=$(grep -E "Time to $1 .* keys by" "$OUT/$2.txt" | awk '{print $4}')
  secs=$(grep -E "Time to $1 .* keys by" "$OUT/$2.txt" | awk '{print $(NF-1)}')
  python3 -c "print(f'memcslap $1 ($2): {int($keys/$secs):,} ops/s  ($keys ops in $secs s)')"
}
item_size() {
  python3 - "$PORT" <<'PY'
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"stats\r\n"); d=b""
while not d.endswith(b"END\r\n"): d+=s.recv(65536)
st=dict(l.split()[1:3] for l in d.decode().splitlines() if l.startswith("STAT"))
print(f"server: {st['version']}, {st['threads']} threads, {st['curr_items']} items, avg {int(st['bytes'])//max(1,int(st['curr_items']))} bytes/item (incl. item header)")
PY
}

slap set before; slap get before; item_size
cd "$ROOT"
TAICACHE_MEMCACHED="127.0.0.1:$PORT" dotnet run -c Release --project benchmarks/TaiCache.Benchmarks -- \
  --filter '*MemcachedThroughputBenchmarks*' --job short --warmupCount 2 --iterationCount 5 --exporters markdown 2>&1 | tee "$OUT/taicache.txt" | grep -E "^\|" || true
python3 - "$OUT/taicache.txt" <<'PY'
import re,sys
for line in open(sys.argv[1]):
    m=re.match(r"\|\s*'?(50 callers [\w ,]+?)'?\s*\|\s*([\d.,]+) (ns|us|μs)", line)
    if m:
        v=float(m.group(2).replace(",","")); ns = v*1000 if m.group(3)!="ns" else v
        print(f"TaiCache {m.group(1)}: {int(1e9/ns):,} ops/s  (mean {ns:.0f} ns/op)")
PY
slap set after; slap get after; item_size
