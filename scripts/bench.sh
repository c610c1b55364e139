#!/usr/bin/env bash
# HTTP benchmark: attestd (Redis store) against a minimal Pistache server
# built in the same run, both driven by wrk on loopback with the same
# threads and connections. Prints ratios, p99 latency and attestd's RSS
# before and after 100k+ sessions (sessions live in Redis: RSS must stay flat).
# Then scripts/bench_tls.sh: TLS handshake rate against `openssl s_server`,
# and latency with idle connections held open (skip with --no-tls).
# With Redis: whole TPM flows (newSession + quote POST) with p99, Redis round
# trips and CPU per flow; and verify/evidence (Keylime vector B, mTLS
# keep-alive, tests/bench/verify_evidence_load) CPU per request against
# tpm_verify_bench's appraisal of the same quote.
#   scripts/bench.sh [--duration SECONDS] [--connections N] [--store memory|redis] [--no-tls]
#   scripts/bench.sh --pull AGENTS [--instances 1|2] [--duration SECONDS]
#                    [--pull-threads T] [--sim-threads T]
#     pull mode instead: AGENTS simulated Keylime pull agents
#     (tests/bench/pull_sim.cc, a process of its own: each agent its own
#     address and software AK, a real quote signed per poll) polled every
#     2 s by one or two attestd instances (tests/bench/pull_bench.cc); exits
#     3 when an agent fell behind.
# ATTESTD_BIN=path measures another attestd binary (e.g. an older build).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
conns=32
store_kind=redis
tls_bench=1
pull_agents=0
instances=1
pull_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pull) pull_agents="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    --pull-threads|--sim-threads) pull_opts+=("$1" "$2"); shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --store) store_kind="$2"; shift 2 ;;
    --no-tls) tls_bench=0; shift ;;
    *) echo "usage: $0 [--duration S] [--connections N] [--store memory|redis] [--no-tls] | --pull N [--instances 1|2] [--duration S] [--pull-threads T] [--sim-threads T]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh >/dev/null
if [ "$pull_agents" -gt 0 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTESTD_BENCH=ON >/dev/null
  cmake --build build -j"$(nproc)" --target pull_bench pull_sim >/dev/null
  exec build/tests/pull_bench --agents "$pull_agents" --instances "$instances" \
    --seconds "$duration" --interval 2 "${pull_opts[@]}"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTESTD_BENCH=ON >/dev/null
cmake --build build -j"$(nproc)" --target attestd pistache_baseline tpm_verify_bench \
  verify_evidence_load >/dev/null
attestd_bin=${ATTESTD_BIN:-build/attestd}

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
  rpid=$!
  pids+=($rpid)
  wait_port "$rport"
  store="redis://127.0.0.1:$rport/0"
fi

aport=$(free_port)
"$attestd_bin" --listen "127.0.0.1:$aport" --store "$store" --threads "$attestd_threads" --workers 1 \
  --log-level warn --registrar-listen none --registrar-admin-listen none --verifier-listen none >"$work/attestd.log" 2>&1 &
apid=$!
pids+=($apid)
# The same attestd without metrics, to measure what recording them costs.
mport=$(free_port)
"$attestd_bin" --listen "127.0.0.1:$mport" --store "$store" --threads "$attestd_threads" --workers 1 \
  --log-level warn --metrics false --registrar-listen none --registrar-admin-listen none --verifier-listen none \
  >"$work/attestd-nometrics.log" 2>&1 &
pids+=($!)
bport=$(free_port)
build/tests/pistache_baseline "$bport" "$threads" &
bpid=$!
pids+=($bpid)
wait_port "$aport"
wait_port "$bport"
wait_port "$mport"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
LUA

# CPU time (user + system, clock ticks) a process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk URL LUA [PID] → "requests_per_second p99_ms total_requests cpu_us_per_request"
# The server's CPU time per request (PID) is steadier than requests/s when
# other work shares the cores.
run_wrk() {
  local out c0=0 c1=0
  [ -n "${3:-}" ] && c0=$(cpu_ticks "$3")
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency ${2:+-s "$2"} "$1")
  [ -n "${3:-}" ] && c1=$(cpu_ticks "$3")
  local rps p99 total cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: non-2xx answers from $1" >&2; grep Non-2xx <<<"$out" >&2; fi
  cpu=$(awk -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" -v n="$total" 'BEGIN {printf "%.1f", c / t * 1e6 / n}')
  echo "$rps $p99 $total $cpu"
}

# Warm up both, then note attestd's RSS before the sessions pile up.
wrk -t1 -c4 -d1s -s "$work/post.lua" "http://127.0.0.1:$aport/challenge-response/v1/newSession" >/dev/null
wrk -t1 -c4 -d1s -s "$work/post.lua" "http://127.0.0.1:$bport/challenge-response/v1/newSession" >/dev/null
rss_before=$(rss_kb "$apid")

read -r a_rps a_p99 a_total a_cpu < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua" "$apid")
read -r b_rps b_p99 _ b_cpu < <(run_wrk "http://127.0.0.1:$bport/challenge-response/v1/newSession" "$work/post.lua" "$bpid")
sessions=$a_total
# Make sure at least 100k sessions exist before reading RSS again.
while [ "$sessions" -lt 100000 ]; do
  read -r _ _ more _ < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua")
  sessions=$((sessions + more))
done
rss_after=$(rss_kb "$apid")

loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$aport/challenge-response/v1/newSession" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
read -r ag_rps ag_p99 _ ag_cpu < <(run_wrk "http://127.0.0.1:$aport$loc" "" "$apid")
read -r bg_rps bg_p99 _ bg_cpu < <(run_wrk "http://127.0.0.1:$bport$loc" "" "$bpid")

# Metrics overhead: alternate with/without twice so drift hits both alike.
on_total=0; off_total=0
for _ in 1 2; do
  read -r r _ _ < <(run_wrk "http://127.0.0.1:$aport/challenge-response/v1/newSession" "$work/post.lua")
  on_total=$(awk -v a="$on_total" -v b="$r" 'BEGIN {print a + b}')
  read -r r _ _ < <(run_wrk "http://127.0.0.1:$mport/challenge-response/v1/newSession" "$work/post.lua")
  off_total=$(awk -v a="$off_total" -v b="$r" 'BEGIN {print a + b}')
done

# End to end with a real quote: newSession (the nonce chosen by the client,
# so one swtpm quote made before the run serves every session) then POST of
# the evidence to that session. wrk alternates the two on each connection;
# a session counts when its evidence answer is a 200. The quote is the same
# each time, so after the first session its appraisal reports a clock
# rollback (a replay): every check still runs, signature included.
e2e_line=""
if [ "$store_kind" = redis ]; then
  nonce_b64=YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4   # "abcdefghijklmnopqrstuvwx": no + / =
  nonce_hex=6162636465666768696a6b6c6d6e6f707172737475767778
  bash scripts/tpm-fixtures.sh start "$work/tpm" >/dev/null
  quote=$(bash scripts/tpm-fixtures.sh quote "$work/tpm" rsa "$nonce_hex" "sha256:0,1,2,3,4,5,6,7,10" "$work/tpm/q" | tail -1)
  bash scripts/tpm-fixtures.sh stop "$work/tpm" >/dev/null
  redis-cli -p "$rport" -x HSET 'attestd:attester:{bench-agent}' ak_tpm <"$work/tpm/ak-rsa.pub" >/dev/null
  redis-cli -p "$rport" HSET 'attestd:attester:{bench-agent}' tpm_policy "" trusted 1 >/dev/null
  printf '{"agent_id":"bench-agent","quote":"%s","hash_alg":"sha256"}' "$quote" >"$work/evidence.json"
  cat >"$work/e2e.lua" <<LUA
local evidence = io.open("$work/evidence.json"):read("*a")
local pending = {}
local threads = {}
completed = 0
function setup(thread) table.insert(threads, thread) end
function request()
  local loc = table.remove(pending)
  if loc then
    return wrk.format("POST", loc, {["Content-Type"] = "application/vnd.attestd.tpm2-quote+json"}, evidence)
  end
  return wrk.format("POST", "/challenge-response/v1/newSession?nonce=$nonce_b64")
end
function response(status, headers, body)
  if status == 201 then table.insert(pending, headers["Location"])
  elseif status == 200 then completed = completed + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("completed") end
  io.write(string.format("E2E %.0f\n", n / (summary.duration / 1e6)))
end
LUA
  # Redis commands per flow: INFO commandstats before and after. attestd
  # sends only EVALSHA on this path; the other commands counted are those
  # its Lua scripts run inside Redis (no round trip of their own).
  redis_calls() {
    redis-cli -p "$rport" INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v only="${1:-}" '
      /^cmdstat_/ && $1 != "cmdstat_info" && (only == "" || $1 == "cmdstat_" only) {n += $3}
      END {print n + 0}'
  }
  evalsha0=$(redis_calls evalsha)
  all0=$(redis_calls)
  ac0=$(cpu_ticks "$apid")
  rc0=$(cpu_ticks "$rpid")
  e2e_out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$work/e2e.lua" "http://127.0.0.1:$aport")
  ac1=$(cpu_ticks "$apid")
  rc1=$(cpu_ticks "$rpid")
  evalsha1=$(redis_calls evalsha)
  all1=$(redis_calls)
  e2e_sps=$(awk '/^E2E/ {print $2}' <<<"$e2e_out")
  e2e_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$e2e_out")
  e2e_p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$e2e_out")
  e2e_flows=$(awk -v s="$e2e_sps" -v d="$duration" 'BEGIN {printf "%.0f", s * d}')
  e2e_line=$(awk -v s="$e2e_sps" -v r="$e2e_rps" -v b="$b_rps" -v p="$e2e_p99" 'BEGIN {printf "TPM flows with Redis (newSession + POST quote, RSA-2048, 9 PCRs): %.0f flows/s, %.0f requests/s = %.2f of pistache newSession %.0f rps; p99 %s ms", s, r, r / b, b, p}')
  e2e_line+=$'\n'$(awk -v e0="$evalsha0" -v e1="$evalsha1" -v a0="$all0" -v a1="$all1" -v n="$e2e_flows" 'BEGIN {printf "  Redis round trips per flow: %.2f (EVALSHA; newSession 1 + evidence 2); commands incl. those inside scripts: %.1f", (e1 - e0) / n, (a1 - a0) / n}')
  e2e_line+=$'\n'$(awk -v a="$((ac1 - ac0))" -v r="$((rc1 - rc0))" -v t="$(getconf CLK_TCK)" -v n="$e2e_flows" 'BEGIN {printf "  CPU per flow: attestd %.0f us, redis-server %.0f us (wrk uses the rest of the 2 cores)", a / t * 1e6 / n, r / t * 1e6 / n}')
fi

# Keylime's verify/evidence (vector B) over mTLS keep-alive: attestd's CPU
# time per request against tpm_verify_bench's appraisal of the same quote.
vport=$(free_port)
"$attestd_bin" --listen "127.0.0.1:$(free_port)" --verifier-listen "127.0.0.1:$vport" \
  --threads "$attestd_threads" --workers 1 --log-level warn --data-dir "$work/vdata" \
  --registrar-listen none --registrar-admin-listen none >"$work/attestd-verifier.log" 2>&1 &
vpid=$!
pids+=($vpid)
wait_port "$vport"
tls="$work/vdata/tls"
build/tests/verify_evidence_load "$vport" "$tls/ca.crt" "$tls/client.crt" "$tls/client.key" 4 1 >/dev/null
vc0=$(cpu_ticks "$vpid")
v_out=$(build/tests/verify_evidence_load "$vport" "$tls/ca.crt" "$tls/client.crt" "$tls/client.key" 8 "$duration")
vc1=$(cpu_ticks "$vpid")
v_requests=$(awk '{print $2}' <<<"$v_out")
v_rps=$(awk '{print $6}' <<<"$v_out")
v_p99=$(awk '{print $10}' <<<"$v_out")
v_cpu=$(awk -v c=$((vc1 - vc0)) -v t="$(getconf CLK_TCK)" -v n="$v_requests" 'BEGIN {printf "%.1f", c / t * 1e6 / n}')
appraisal_ns=$(build/tests/tpm_verify_bench --benchmark_filter='^VectorBGivenAppraisal$' \
  --benchmark_format=csv 2>/dev/null | awk -F, '/VectorBGivenAppraisal/ {print $4}')
verify_line=$(awk -v c="$v_cpu" -v a="$appraisal_ns" -v r="$v_rps" -v p="$v_p99" 'BEGIN {printf "verify/evidence (vector B, mTLS keep-alive, 8 connections): %.0f rps, p99 %s ms, attestd CPU %.1f us/request; appraisal alone (tpm_verify_bench) %.1f us CPU; ratio %.2f", r, p, c, a / 1000, c / (a / 1000)}')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "attestd bench: store=$store_kind, $threads HTTP threads each, wrk -t2 -c$conns -d${duration}s, $(nproc) cores"
printf "%-18s %11s %12s %6s %14s %15s %11s %12s %9s\n" route attestd_rps pistache_rps ratio attestd_p99_ms pistache_p99_ms attestd_cpu pistache_cpu cpu_ratio
printf "%-18s %11.0f %12.0f %6s %14s %15s %9sus %10sus %9s\n" "POST newSession" "$a_rps" "$b_rps" "$(ratio "$a_rps" "$b_rps")" "$a_p99" "$b_p99" "$a_cpu" "$b_cpu" "$(ratio "$b_cpu" "$a_cpu")"
printf "%-18s %11.0f %12.0f %6s %14s %15s %9sus %10sus %9s\n" "GET session/{id}" "$ag_rps" "$bg_rps" "$(ratio "$ag_rps" "$bg_rps")" "$ag_p99" "$bg_p99" "$ag_cpu" "$bg_cpu" "$(ratio "$bg_cpu" "$ag_cpu")"
echo "(cpu: server CPU time per request; cpu_ratio = pistache's / attestd's, steadier than rps on a shared machine)"
awk -v on="$on_total" -v off="$off_total" 'BEGIN {printf "metrics overhead on newSession: %.1f%% (%.0f rps with, %.0f without)\n", (1 - on / off) * 100, on / 2, off / 2}'
echo "attestd RSS: ${rss_before} kB before, ${rss_after} kB after ${sessions} sessions"
[ -n "$e2e_line" ] && echo "$e2e_line"
echo "$verify_line"
if [ "$tls_bench" = 1 ]; then
  bash scripts/bench_tls.sh --duration "$duration" --attestd "$attestd_bin"
fi
exit 0
