#!/usr/bin/env bash
# HTTP benchmark: attestd (Redis store) against a minimal Pistache server
# built in the same run, both driven by wrk on loopback with the same
# threads and connections. Prints ratios, p99 latency and attestd's RSS
# before and after 100k+ sessions (sessions live in Redis: RSS must stay flat).
#   scripts/bench.sh [--duration SECONDS] [--connections N] [--store memory|redis]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
conns=32
store_kind=redis
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --store) store_kind="$2"; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--connections N] [--store memory|redis]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target attestd pistache_baseline >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

threads=2
attestd_threads=${ATTESTD_BENCH_THREADS:-$threads}
store=memory
if [ "$store_kind" = redis ]; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$rport"
  store="redis://127.0.0.1:$rport/0"
fi

aport=$(free_port)
build/attestd --listen "127.0.0.1:$aport" --store "$store" --threads "$attestd_threads" --workers 1 \
  --log-level warn --registrar-listen none --registrar-admin-listen none >"$work/attestd.log" 2>&1 &
apid=$!
pids+=($apid)
# The same attestd without metrics, to measure what recording them costs.
mport=$(free_port)
build/attestd --listen "127.0.0.1:$mport" --store "$store" --threads "$attestd_threads" --workers 1 \
  --log-level warn --metrics false --registrar-listen none --registrar-admin-listen none \
  >"$work/attestd-nometrics.log" 2>&1 &
pids+=($!)
bport=$(free_port)
build/tests/pistache_baseline "$bport" "$threads" &
pids+=($!)
wait_port "$aport"
wait_port "$bport"
wait_port "$mport"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
LUA

# wrk URL LUA → "requests_per_second p99_ms total_requests"
run_wrk() {
  local out
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency ${2:+-s "$2"} "$1")
  local rps p99 total
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: non-2xx answers from $1" >&2; grep Non-2xx <<<"$out" >&2; fi
  echo "$rps $p99 $total"
}

# Warm up both, then note attestd's RSS before the sessions pile up.
wrk -t1 -c4 -d1s -s "$work/post.lua" "http://127.0.0.1:$aport/challenge-response/v1/newSession" >/dev/null
wrk -t1 -c4 -d1s -s "$work/post.lua" "http://127.0.0.1:$bport/challenge-response/v1/newSession" >/dev/null
rss_before=$(rss_kb "$apid")

read -r a_rps a_p99 a_total < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua")
read -r b_rps b_p99 _ < <(run_wrk "http://127.0.0.1:$bport/challenge-response/v1/newSession" "$work/post.lua")
sessions=$a_total
# Make sure at least 100k sessions exist before reading RSS again.
while [ "$sessions" -lt 100000 ]; do
  read -r _ _ more < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua")
  sessions=$((sessions + more))
done
rss_after=$(rss_kb "$apid")

loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$aport/challenge-response/v1/newSession" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
read -r ag_rps ag_p99 _ < <(run_wrk "http://127.0.0.1:$aport$loc")
read -r bg_rps bg_p99 _ < <(run_wrk "http://127.0.0.1:$bport$loc")

# Metrics overhead: alternate with/without twice so drift hits both alike.
on_total=0; off_total=0
for _ in 1 2; do
  read -r r _ _ < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua")
  on_total=$(awk -v a="$on_total" -v b="$r" 'BEGIN {print a + b}')
  read -r r _ _ < <(run_wrk "http://127.0.0.1:$mport/challenge-response/v1/newSession" "$work/post.lua")
  off_total=$(awk -v a="$off_total" -v b="$r" 'BEGIN {print a + b}')
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "attestd bench: store=$store_kind, $threads HTTP threads each, wrk -t2 -c$conns -d${duration}s, $(nproc) cores"
printf "%-22s %12s %12s %8s %14s %14s\n" route attestd_rps pistache_rps ratio attestd_p99_ms pistache_p99_ms
printf "%-22s %12.0f %12.0f %8s %14s %14s\n" "POST newSession" "$a_rps" "$b_rps" "$(ratio "$a_rps" "$b_rps")" "$a_p99" "$b_p99"
printf "%-22s %12.0f %12.0f %8s %14s %14s\n" "GET session/{id}" "$ag_rps" "$bg_rps" "$(ratio "$ag_rps" "$bg_rps")" "$ag_p99" "$bg_p99"
awk -v on="$on_total" -v off="$off_total" 'BEGIN {printf "metrics overhead on newSession: %.1f%% (%.0f rps with, %.0f without)\n", (1 - on / off) * 100, on / 2, off / 2}'
echo "attestd RSS: ${rss_before} kB before, ${rss_after} kB after ${sessions} sessions"
