#!/usr/bin/env bash
# TPM 2.0 fixtures from a software TPM (swtpm + tpm2-tools 5.4).
#
# Every command works on one fixture directory DIR that holds the swtpm
# state, its PID and port, the keys and the quotes. swtpm listens on
# 127.0.0.1 only, on free ports, and is stopped by its PID (never by name).
#
#   tpm-fixtures.sh start DIR            start swtpm (state in DIR/state), provision keys
#   tpm-fixtures.sh attach DIR PORT      use a swtpm someone else started on PORT
#                                        (e.g. a C++ test via tests::Spawn), provision keys
#   tpm-fixtures.sh extend DIR PCR BANK HEX
#   tpm-fixtures.sh quote DIR KEY NONCE_HEX PCRS OUT [HASH] [SCHEME]
#        KEY: rsa | rsapss | ecc | rsa-sha1 | unrestricted ; PCRS as tpm2_quote -l
#        ("sha256:0,1,16+sha1:3"); writes OUT.attest OUT.sig OUT.pcrs (raw),
#        OUT.quote (Keylime "r<b64>:<b64>:<b64>") and prints OUT.quote
#   tpm-fixtures.sh checkquote DIR KEY NONCE_HEX OUT [HASH]   tpm2_checkquote's verdict (exit code;
#        for rsapss, openssl's verdict on the signature: tpm2-tools bug #3283)
#   tpm-fixtures.sh stop DIR             stop swtpm by PID
#   tpm-fixtures.sh all DIR              start, extend, a set of quotes (below), stop
#
# Keys (persistent handles, so no transient object outlives a command):
#   DIR/ek.pub         EK (RSA-2048), 0x81010001
#   DIR/ak-rsa.pub     AK RSA-2048, RSASSA/SHA-256, 0x81010010   (TPM2B_PUBLIC)
#   DIR/ak-rsapss.pub  AK RSA-2048, RSAPSS/SHA-256, 0x81010011
#   DIR/ak-ecc.pub     AK ECC P-256, ECDSA/SHA-256, 0x81010012
#   DIR/ak-rsa-sha1.pub AK RSA-2048, RSASSA/SHA-1, 0x81010013
#   DIR/ak-unrestricted.pub  RSA-2048 signing key WITHOUT restricted, 0x81010020
# The AKs are created with tpm2_createak under the EK (restricted signing,
# fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth).
set -euo pipefail

die() { echo "tpm-fixtures: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 start|attach|extend|quote|checkquote|stop|all DIR ..."
cmd=$1
dir=$2
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

declare -A HANDLE=(
  [rsa]=0x81010010 [rsapss]=0x81010011 [ecc]=0x81010012 [rsa-sha1]=0x81010013
  [unrestricted]=0x81010020
)

tcti() {
  [ -f "$dir/port" ] || die "no swtpm for $dir (run start or attach first)"
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(cat "$dir/port")"
}

free_port_pair() {
  # Two consecutive free loopback ports (server and control).
  python3 - <<'PY'
import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p >= 65535: continue
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); print(p); break
    except OSError:
        t.close()
PY
}

# Runs a tpm2-tools command quietly (its stdout is YAML noise), then flushes
# transient objects: swtpm has no resource manager, and 3 slots only.
t() {
  "$@" >/dev/null
  tpm2_flushcontext -t >/dev/null 2>&1 || true
}

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.01
  done
  return 1
}

start_swtpm() {
  [ -f "$dir/swtpm.pid" ] && kill -0 "$(cat "$dir/swtpm.pid")" 2>/dev/null && die "swtpm already running for $dir"
  mkdir -p "$dir/state"
  local port
  port=$(free_port_pair)
  [ -n "$port" ] || die "no free port"
  swtpm socket --tpm2 \
    --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
    --tpmstate "dir=$dir/state" --flags not-need-init,startup-clear \
    --pid "file=$dir/swtpm.pid" --log "file=$dir/swtpm.log" --daemon
  echo "$port" > "$dir/port"
  wait_port "$port" || die "swtpm did not come up on port $port"
}

provision() {
  tcti
  if [ -f "$dir/ak-rsa.pub" ] && tpm2_readpublic -c 0x81010010 >/dev/null 2>&1; then return 0; fi
  t tpm2_createek -c 0x81010001 -G rsa -u "$dir/ek.pub"
  local name key alg hash scheme
  for spec in "rsa rsa sha256 rsassa" "rsapss rsa sha256 rsapss" "ecc ecc sha256 ecdsa" \
              "rsa-sha1 rsa sha1 rsassa"; do
    read -r name alg hash scheme <<<"$spec"
    t tpm2_createak -C 0x81010001 -c "$dir/ak.ctx" -G "$alg" -g "$hash" -s "$scheme" \
      -u "$dir/ak-$name.pub" -n "$dir/ak-$name.name" -r "$dir/ak-$name.priv"
    t tpm2_evictcontrol -C o -c "$dir/ak.ctx" "${HANDLE[$name]}"
    rm -f "$dir/ak.ctx"
  done
  # A signing key that is not restricted: may quote, must not be an AK.
  t tpm2_createprimary -C o -G ecc -c "$dir/srk.ctx"
  t tpm2_create -C "$dir/srk.ctx" -G rsa2048:rsassa-sha256:null \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" \
    -u "$dir/ak-unrestricted.pub" -r "$dir/ak-unrestricted.priv"
  t tpm2_load -C "$dir/srk.ctx" -u "$dir/ak-unrestricted.pub" -r "$dir/ak-unrestricted.priv" \
    -c "$dir/unrestricted.ctx"
  t tpm2_evictcontrol -C o -c "$dir/unrestricted.ctx" "${HANDLE[unrestricted]}"
  rm -f "$dir/srk.ctx" "$dir/unrestricted.ctx"
}

extend() {
  tcti
  [ $# -eq 3 ] || die "usage: extend DIR PCR BANK HEX"
  t tpm2_pcrextend "$1:$2=$3"
}

b64() { base64 -w0 < "$1"; }

quote() {
  tcti
  [ $# -ge 4 ] || die "usage: quote DIR KEY NONCE_HEX PCRS OUT [HASH] [SCHEME]"
  local key=$1 nonce=$2 pcrs=$3 out=$4 hash=${5:-} scheme=${6:-}
  local handle=${HANDLE[$key]:-}
  [ -n "$handle" ] || die "unknown key $key"
  # tpm2_quote asks for RSASSA unless told; the RSAPSS AK makes only RSAPSS.
  [ -z "$scheme" ] && [ "$key" = rsapss ] && scheme=rsapss
  [ -z "$hash" ] && [ "$key" = rsa-sha1 ] && hash=sha1
  local args=(-c "$handle" -l "$pcrs" -q "$nonce" -m "$out.attest" -s "$out.sig" -o "$out.pcrs")
  [ -n "$hash" ] && args+=(-g "$hash")
  [ -n "$scheme" ] && args+=(--scheme "$scheme")
  t tpm2_quote "${args[@]}"
  printf 'r%s:%s:%s' "$(b64 "$out.attest")" "$(b64 "$out.sig")" "$(b64 "$out.pcrs")" > "$out.quote"
  cat "$out.quote"
  echo
}

checkquote() {
  [ $# -ge 3 ] || die "usage: checkquote DIR KEY NONCE_HEX OUT [HASH]"
  local key=$1 nonce=$2 out=$3 hash=${4:-sha256}
  if [ "$key" = rsapss ]; then
    # tpm2_checkquote 5.4 rejects every RSAPSS quote (tpm2-tools issue
    # #3283): check the signature with openssl instead (nonce and digest
    # are left to the caller).
    tpm2_print -t TPM2B_PUBLIC -f pem "$dir/ak-rsapss.pub" > "$out.pem" 2>/dev/null &&
      tail -c 256 "$out.sig" > "$out.rawsig" &&
      openssl dgst "-$hash" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-2 \
        -verify "$out.pem" -signature "$out.rawsig" "$out.attest" >/dev/null 2>&1
    return
  fi
  tpm2_checkquote -u "$dir/ak-$key.pub" -m "$out.attest" -s "$out.sig" -f "$out.pcrs" \
    -g "$hash" -q "$nonce" >/dev/null 2>&1
}

stop() {
  [ -f "$dir/swtpm.pid" ] || return 0
  local pid
  pid=$(cat "$dir/swtpm.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # Orderly TPM2_Shutdown first, else the next start reports clockInfo.safe = 0.
    [ -f "$dir/port" ] && TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(cat "$dir/port")" \
      tpm2_shutdown -c >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/swtpm.pid"
}

case "$cmd" in
  start) start_swtpm; provision ;;
  attach)
    [ $# -eq 1 ] || die "usage: attach DIR PORT"
    echo "$1" > "$dir/port"
    wait_port "$1" || die "nothing listens on port $1"
    provision ;;
  extend) extend "$@" ;;
  quote) quote "$@" ;;
  checkquote) checkquote "$@" ;;
  stop) stop ;;
  all)
    trap stop EXIT
    start_swtpm
    provision
    extend 16 sha256 "$(printf 'a%.0s' $(seq 64))"
    extend 23 sha1 "$(printf 'b%.0s' $(seq 40))"
    n1=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    quote rsa "$n1" "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23+sha1:0,23" "$dir/q-rsa" >/dev/null
    quote rsapss "$n1" "sha256:10,16" "$dir/q-rsapss" >/dev/null
    quote ecc "$n1" "sha256:0,16,23" "$dir/q-ecc" >/dev/null
    quote rsa-sha1 "$n1" "sha1:16,23" "$dir/q-rsa-sha1" sha1 >/dev/null
    echo "$n1" > "$dir/nonce.hex"
    for q in rsa rsapss ecc; do checkquote "$q" "$n1" "$dir/q-$q" || die "tpm2_checkquote rejects q-$q"; done
    checkquote rsa-sha1 "$n1" "$dir/q-rsa-sha1" sha1 || die "tpm2_checkquote rejects q-rsa-sha1"
    echo "fixtures in $dir: nonce.hex, ak-*.pub, q-*.{attest,sig,pcrs,quote}" ;;
  *) die "unknown command $cmd" ;;
esac
