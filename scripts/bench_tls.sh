#!/usr/bin/env bash
# Connection-level benchmark of attestd's HTTP adapter (called by bench.sh,
# or alone after a build):
# 1. TLS handshake rate: a new connection per request (`openssl s_time
#    -new`, two clients at once so both cores work) against attestd's TLS
#    listener, and against `openssl s_server -WWW` on the same key serving
#    the same small answer (the floor). Prints the ratio.
# 2. Latency of a normal request (wrk, p50/p99) without, then with, 100 idle
#    keep-alive connections and 100 silent TCP connections held open.
#   scripts/bench_tls.sh [--duration SECONDS] [--attestd PATH]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
attestd=build/attestd
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --attestd) attestd="$2"; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--attestd PATH]" >&2; exit 2 ;;
  esac
done

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

# One ECDSA P-256 key and certificate for both servers (what attestd generates).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null

tport=$(free_port)
pport=$(free_port)
"$attestd" --listen "127.0.0.1:$tport" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --threads 2 --workers 1 --log-level warn --data-dir "$work/data" --registrar-listen none \
  --registrar-admin-listen none --verifier-listen none >"$work/attestd-tls.log" 2>&1 &
pids+=($!)
"$attestd" --listen "127.0.0.1:$pport" --threads 2 --workers 1 --log-level warn \
  --data-dir "$work/data2" --registrar-listen none --registrar-admin-listen none \
  --verifier-listen none >"$work/attestd.log" 2>&1 &
pids+=($!)
sport=$(free_port)
mkdir -p "$work/www"
printf 'ok' >"$work/www/healthz"
(cd "$work/www" && exec openssl s_server -quiet -WWW -accept "$sport" -cert "$work/cert.pem" \
  -key "$work/key.pem" >/dev/null 2>&1) &
pids+=($!)
wait_port "$tport"
wait_port "$pport"
wait_port "$sport"

# Two `s_time -new` clients at once → connections per second, summed.
# PORT [PAGE]: with PAGE, each connection also fetches it (HTTP/1.0, read
# until the server closes); without, handshake only.
handshake_rate() {
  local port=$1 total=0
  for i in 1 2; do
    openssl s_time -connect "127.0.0.1:$port" -new -time "$duration" ${2:+-www "$2"} \
      -CAfile "$work/cert.pem" >"$work/stime.$i" 2>&1 &
  done
  wait %1 %2 2>/dev/null || true
  for i in 1 2; do
    local n
    n=$(awk '/connections in [0-9.]+s;/ {print $1; exit}' "$work/stime.$i")
    total=$((total + ${n:-0}))
  done
  awk -v t="$total" -v d="$duration" 'BEGIN {printf "%.0f", t / d}'
}

a_hs=$(handshake_rate "$tport" /healthz)
s_hs=$(handshake_rate "$sport" /healthz)
a_hs_only=$(handshake_rate "$tport")
s_hs_only=$(handshake_rate "$sport")

# wrk → "p50_ms p99_ms rps"
latency() {
  wrk -t2 -c32 -d"${duration}s" --latency "$1" | awk '
    function ms(v) { if (v ~ /us$/) {sub(/us/,"",v); return v/1000} if (v ~ /ms$/) {sub(/ms/,"",v); return v} sub(/s/,"",v); return v*1000 }
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} /Requests\/sec/ {rps=$2}
    END {printf "%.3f %.3f %.0f\n", p50, p99, rps}'
}
url="http://127.0.0.1:$pport/healthz"
read -r p50 p99 rps < <(latency "$url")
# 100 idle keep-alive connections (one request each, then silence) and 100
# that never send a byte, held open during the second run.
python3 - "$pport" "$duration" >"$work/idle.log" 2>&1 <<'PY' &
import socket, sys, time
port, duration = int(sys.argv[1]), float(sys.argv[2])
held = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    held.append(s)
for _ in range(100):
    held.append(socket.create_connection(("127.0.0.1", port)))
print("held", len(held), flush=True)
time.sleep(duration + 3)
PY
idle_pid=$!
pids+=($idle_pid)
for _ in $(seq 100); do grep -q held "$work/idle.log" 2>/dev/null && break; sleep 0.05; done
# Silent connections get the header timeout (10 s): stay below it.
idle_duration=$(( duration < 8 ? duration : 8 ))
read -r ip50 ip99 irps < <(duration=$idle_duration latency "$url")

echo
echo "attestd connection bench: $(nproc) cores, ${duration}s runs"
awk -v a="$a_hs" -v s="$s_hs" 'BEGIN {printf "TLS new connection per request (2x s_time -new -www /healthz): attestd %.0f/s, openssl s_server %.0f/s, ratio %.2f\n", a, s, a / s}'
awk -v a="$a_hs_only" -v s="$s_hs_only" 'BEGIN {printf "TLS handshakes only (2x s_time -new): attestd %.0f/s, openssl s_server %.0f/s, ratio %.2f\n", a, s, a / s}'
printf "GET /healthz wrk -t2 -c32: p50 %s ms, p99 %s ms, %s rps\n" "$p50" "$p99" "$rps"
printf "  with 200 idle connections held: p50 %s ms, p99 %s ms, %s rps\n" "$ip50" "$ip99" "$irps"
