#!/usr/bin/env bash
# Builds attestd if needed and runs it. Arguments go to attestd, with one
# convenience: `--store redis` means redis://127.0.0.1:6379/0, and when the
# Redis named by --store is not reachable, a local redis-server is started
# with its data under build/redis-data (and stopped when attestd exits).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
if [ ! -x build/attestd ] || [ -n "$(find server api store verifiers common CMakeLists.txt -newer build/attestd -print -quit 2>/dev/null)" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target attestd
fi

args=()
store=""
while [ $# -gt 0 ]; do
  case "$1" in
    --store) store="$2"; shift 2 ;;
    --store=*) store="${1#--store=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "$store" = "redis" ] && store="redis://127.0.0.1:6379/0"

redis_pid=""
if [[ "$store" == redis://* ]]; then
  hostport="${store#redis://}"; hostport="${hostport%%/*}"
  host="${hostport%%:*}"; port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=6379
  if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
    if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ]; then
      echo "run.sh: Redis at $host:$port is not reachable" >&2
      exit 1
    fi
    mkdir -p build/redis-data
    echo "run.sh: starting redis-server on 127.0.0.1:$port (data in build/redis-data)"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/build/redis-data" \
      --appendonly yes --daemonize no >build/redis-data/redis.log 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
fi
[ -n "$store" ] && args+=(--store "$store")

if [ -n "$redis_pid" ]; then
  # Keep this shell to stop our redis-server after attestd exits.
  trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null' EXIT
  trap 'kill -TERM "$attestd_pid" 2>/dev/null' INT TERM
  build/attestd "${args[@]}" &
  attestd_pid=$!
  wait "$attestd_pid" || wait "$attestd_pid"
else
  exec build/attestd "${args[@]}"
fi
