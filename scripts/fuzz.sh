#!/usr/bin/env bash
# Fuzzes the TPM evidence, IMA and UEFI event log parsers and the HTTP request path with libFuzzer (clang, ASan + UBSan).
# Not part of CI. Builds in its own directory (build-fuzz, or
# $FUZZ_BUILD_DIR) with -DATTESTD_FUZZ=ON and runs each target for
# $FUZZ_SECONDS (default 60) from seed corpora made of the Keylime vectors
# and fresh swtpm quotes (scripts/tpm-fixtures.sh).
#
#   scripts/fuzz.sh                 # all targets, 60 s each
#   FUZZ_SECONDS=10 scripts/fuzz.sh pcrblob_fuzz
#
# Targets: pcrblob_fuzz (the pcrblob parser), quote_string_fuzz (the
# Keylime quote string, its structures and the whole appraisal),
# enacttrust_fuzz (the EnactTrust framing and the whole appraisal),
# ima_log_fuzz (the IMA measurement list through the whole appraisal),
# ima_policy_fuzz (runtime policy and legacy allowlist compilation, the
# stored IMA state).
# eventlog_fuzz (the UEFI event log parser, decoders, replay and Keylime's
# example measured-boot policy; seeds: tests/data/eventlogs).
# http_request_fuzz (the HTTP request path of every listener: Beast's
# parser as the listeners configure it, header checks, chunked framing,
# refusals; seeds: requests written below).
# agent_evidence_fuzz (the internal framing of an agent's quote and logs).
# agent_answer_fuzz (a pull agent's /version and quote answers).
# push_documents_fuzz (the verifier's v3 push documents: PoP sessions,
# capabilities, evidence, through the real routes).
# Crashes land in $build/fuzz-work/artifacts; the exit code is non-zero if
# any target found one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_BUILD_JOBS:-2}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pcrblob_fuzz quote_string_fuzz enacttrust_fuzz ima_log_fuzz ima_policy_fuzz eventlog_fuzz http_request_fuzz agent_evidence_fuzz push_documents_fuzz agent_answer_fuzz)
vectors="$root/tests/data/keylime"

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found" >&2; exit 1; }

san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DATTESTD_FUZZ=ON -DATTESTD_BENCH=OFF \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

work="$build/fuzz-work"
mkdir -p "$work/artifacts"

# Seeds: the vectors, and quotes from a swtpm of our own (stopped by PID).
needs_tpm=0
for t in "${targets[@]}"; do
  case "$t" in pcrblob_fuzz|quote_string_fuzz|enacttrust_fuzz) needs_tpm=1 ;; esac
done
if [ "$needs_tpm" = 1 ] && [ ! -f "$work/fixtures/q-rsa.quote" ]; then
  rm -rf "$work/fixtures"
  "$root/scripts/tpm-fixtures.sh" all "$work/fixtures" >/dev/null
fi
node=$(printf '\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff' | od -An -tx1 | tr -d ' \n')
enact() {  # attest sig out
  local n
  n=$(stat -c %s "$1")
  { printf '%s' "$node" | xxd -r -p; printf "\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"; cat "$1" "$2"; } > "$3"
}
seed() {
  local t=$1 d="$work/corpus-$1"
  mkdir -p "$d"
  case "$t" in
    pcrblob_fuzz)
      cp "$vectors/A_tpm_util_test_checkquote/quote_pcrblob.bin" "$d/a"
      cp "$vectors/B_test-data_files_emulator/quotepcr.out" "$d/b"
      tr -d '\n' < "$vectors/C_rust-keylime_test-quote_parse_only/keylime_quote_string.txt" |
        cut -d: -f3 | base64 -d > "$d/c"
      for f in "$work"/fixtures/q-*.pcrs; do cp "$f" "$d/$(basename "$f")"; done ;;
    quote_string_fuzz)
      for v in A_tpm_util_test_checkquote B_test-data_files_emulator C_rust-keylime_test-quote_parse_only; do
        tr -d '\n' < "$vectors/$v/keylime_quote_string.txt" > "$d/${v%%_*}"
      done
      for f in "$work"/fixtures/q-*.quote; do cp "$f" "$d/$(basename "$f")"; done ;;
    enacttrust_fuzz)
      enact "$vectors/B_test-data_files_emulator/quote.out" "$vectors/B_test-data_files_emulator/quotesig.out" "$d/b"
      for q in rsa rsapss ecc rsa-sha1; do
        enact "$work/fixtures/q-$q.attest" "$work/fixtures/q-$q.sig" "$d/q-$q"
      done ;;
    ima_log_fuzz)
      local z40 h64
      z40=$(printf '0%.0s' $(seq 40)); h64=$(printf 'ab%.0s' $(seq 32))
      printf '10 %s ima-ng sha256:%s boot_aggregate\n10 %s ima-sig sha256:%s /bin/ls 030204aabbccdd0002abcd\n' \
        "$z40" "$h64" "${h64:0:40}" "$h64" > "$d/ng-sig"
      printf '10 %s ima-buf sha256:%s .ima 3082\n10 %s ima %s /init\n' \
        "${h64:0:40}" "$h64" "${h64:0:40}" "${h64:0:40}" > "$d/buf-legacy"
      printf '10 %s ima-modsig sha256:%s /m  sha256:%s 3082\n' \
        "${h64:0:40}" "$h64" "$h64" > "$d/modsig"
      printf '10 %s ima-ngv2 ima:sha256:%s /v2\n10 %s evm-sig sha256:%s /e  security.ima 0a000000 0302 0 1000 33261\n' \
        "${h64:0:40}" "$h64" "${h64:0:40}" "$h64" > "$d/v2-evm" ;;
    ima_policy_fuzz)
      local h64
      h64=$(printf 'ab%.0s' $(seq 32))
      printf '{"meta": {"version": 1}, "digests": {"/bin/ls": ["%s"]}, "excludes": ["/tmp/.*"], "keyrings": {".ima": ["%s"]}, "ima": {"ignored_keyrings": ["*"], "log_hash_alg": "sha256", "dm_policy": null}, "ima-buf": {}, "verification-keys": ""}' \
        "$h64" "$h64" > "$d/policy"
      printf '%s  /bin/ls\n%s  %%keyring:.ima\n/tmp/.*\n' "$h64" "$h64" > "$d/allowlist"
      printf '{"hashes": {"/bin/ls": ["%s"]}}' "$h64" > "$d/json-allowlist"
      printf '{"next_entry":3,"bank":"sha256","pcr10":"%s","boot_id":"","boot_marker":7,"progress":[1,2],"learned_keys":[]}' \
        "$h64" > "$d/state" ;;
    eventlog_fuzz)
      cp "$root"/tests/data/eventlogs/*.bin "$d/" ;;
    http_request_fuzz)
      printf 'POST /challenge-response/v1/newSession?nonceSize=32 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n' > "$d/get"
      printf 'POST /v2.1/agents/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}' > "$d/length"
      printf 'POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"a"\r\n3\r\n:1}\r\n0\r\nX-Trailer: t\r\n\r\n' > "$d/chunked"
      printf 'POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc\r\n0\r\n\r\n' > "$d/huge-chunk"
      printf 'GET /a%%20b?x=%%41&y HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n' > "$d/query" ;;
    agent_evidence_fuzz)
      # The magic alone: libFuzzer grows the six length-prefixed fields.
      printf 'KAE1' > "$d/magic" ;;
    agent_answer_fuzz)
      printf '{"code":200,"status":"Success","results":{"supported_version":"2.2"}}' > "$d/version"
      printf '{"code":200,"status":"Success","results":{"quote":"rAAAA:AAAA:AAAA","hash_alg":"sha256","enc_alg":"rsa","sign_alg":"rsassa","pubkey":"","boottime":1}}' > "$d/quote" ;;
    push_documents_fuzz)  # first byte: 0 POST sessions, 1 PATCH session, 2 capabilities, 3 evidence
      local ak
      ak=$(base64 -w0 "$vectors/B_test-data_files_emulator/ak.pub")
      printf '\x00{"data":{"type":"session","attributes":{"agent_id":"fuzz-agent","authentication_supported":[{"authentication_class":"pop","authentication_type":"tpm_pop"}]}}}' > "$d/session"
      printf '\x01{"data":{"type":"session","id":"x","attributes":{"agent_id":"fuzz-agent","authentication_provided":[{"authentication_class":"pop","authentication_type":"tpm_pop","data":{"message":"AAAA","signature":"AAAA"}}]}}}' > "$d/proof"
      printf '\x02{"data":{"type":"attestation","attributes":{"evidence_supported":[{"evidence_class":"certification","evidence_type":"tpm_quote","capabilities":{"component_version":"2.0","hash_algorithms":["sha256"],"signature_schemes":["rsassa"],"available_subjects":{"sha256":[15]},"certification_keys":[{"key_class":"asymmetric","key_algorithm":"rsa","key_size":2048,"server_identifier":"ak","local_identifier":"l","public":"%s","allowable_hash_algorithms":["sha256"],"allowable_signature_schemes":["rsassa"]}]}}],"system_info":{"boot_time":"2026-12-06T12:00:00Z"}}}}' "$ak" > "$d/capabilities"
      printf '\x03{"data":{"type":"attestation","attributes":{"evidence_collected":[{"evidence_class":"certification","evidence_type":"tpm_quote","data":{"message":"AAAA","signature":"AAAA","subject_data":"AAAA"}}]}}}' > "$d/evidence" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  seed "$t"
  echo "== $t: ${seconds}s, $(ls "$work/corpus-$t" | wc -l) files in corpus"
  # $FUZZ_MAX_LEN caps input size (default: the largest seed). For
  # eventlog_fuzz, 4096 runs ~2.5x faster but reaches less code (whole logs
  # are needed to reach the kernel checks of the policy).
  extra=()
  [ -n "${FUZZ_MAX_LEN:-}" ] && extra=(-max_len="$FUZZ_MAX_LEN")
  if ! "$build/tests/$t" "$work/corpus-$t" -max_total_time="$seconds" -print_final_stats=1 "${extra[@]}" \
      -artifact_prefix="$work/artifacts/$t-" -close_fd_mask=3 2> "$work/$t.log"; then
    echo "!! $t found a crash: see $work/$t.log and $work/artifacts/"
    status=1
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+ *DONE" "$work/$t.log" || true
  grep -E "cov: [0-9]+" "$work/$t.log" | tail -1 || true
done
exit $status
