#!/usr/bin/env bash
# Runs every TaiCache test against real servers on loopback.
# Installs redis-server, redis-tools, memcached, openssl, python3, python3-msgpack and python3-lz4 from apt where they
# are missing (the fixtures start the servers themselves on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v memcached >/dev/null 2>&1 || [ -x /usr/bin/memcached ] || missing+=(memcached)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)     # the Redis TLS test makes a self-signed certificate
command -v python3 >/dev/null 2>&1 || missing+=(python3)     # the package check below reads the .nupkg
# The interop test decodes stored values in Python with Debian's msgpack and lz4 modules.
/usr/bin/python3 -c "import msgpack, lz4.block" >/dev/null 2>&1 || missing+=(python3-msgpack python3-lz4)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} ..."
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A system redis/memcached service is not needed: the test fixtures start their own on free ports.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Every project builds, the benchmarks and samples too (dotnet test alone builds only the test projects, so a change to an
# internal API could break a benchmark unnoticed).
dotnet build TaiCache.sln -c Release

log=$(mktemp)
status=0
dotnet test TaiCache.sln -c Release --no-build --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=$?

# One plain closing line for whoever reads the log.
sum() { { grep -oE "^ +$1: +[0-9]+" "$log" || true; } | awk '{s+=$2} END {print s+0}'; }
passed=$(sum Passed); failed=$(sum Failed); skipped=$(sum Skipped)
# The failures again, with their messages, so the last lines of a long log name them.
failures=$(grep -E -A 12 "^ +Failed [A-Za-z_]" "$log" | cut -c1-300 || true)
rm -f "$log"

# The package: built, validated (EnablePackageValidation), and its contents checked.
pack_dir=$(mktemp -d)
if dotnet pack src/TaiCache/TaiCache.csproj -c Release -o "$pack_dir" >"$pack_dir/pack.log" 2>&1; then
  nupkg=$(ls "$pack_dir"/TaiCache.*.nupkg | grep -v snupkg | head -n 1)
  echo "Package contents of $(basename "$nupkg"):"
  python3 -c "import sys,zipfile; [print('  ' + n) for n in zipfile.ZipFile(sys.argv[1]).namelist()]" "$nupkg"
  for want in README.md lib/net10.0/TaiCache.dll lib/net10.0/TaiCache.xml; do
    python3 -c "import sys,zipfile; sys.exit(0 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).namelist() else 1)" "$nupkg" "$want" \
      || { echo "package check: $want missing from the package"; status=1; }
  done
  ls "$pack_dir"/TaiCache.*.snupkg >/dev/null 2>&1 || { echo "package check: symbols package missing"; status=1; }
else
  cat "$pack_dir/pack.log"; echo "package check: dotnet pack failed"; status=1
fi
rm -rf "$pack_dir"

if [ -n "$failures" ]; then
  echo "Failed tests:"
  echo "$failures"
fi
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit $status
