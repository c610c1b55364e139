#!/usr/bin/env bash
# Verifies an attestd EAR (compact JWS, ES256) with the openssl command line
# and the key attestd publishes, without any JOSE library:
#   scripts/verify-ear.sh EAR_FILE JWK_FILE      (JWK: discovery's ear-verification-key)
# Prints the EAR's claims and "Verified OK", or fails.
set -euo pipefail
ear=$(tr -d '\n' <"$1")
jwk=$(tr -d '\n ' <"$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

b64url_decode() {  # stdin: base64url without padding → raw bytes
  local s
  s=$(tr -- '-_' '+/')
  while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | base64 -d
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$jwk"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }

[ "$(field crv)" = "P-256" ] || { echo "verify-ear.sh: only P-256 (ES256) keys" >&2; exit 2; }
# SubjectPublicKeyInfo for a P-256 point: a fixed DER prefix, then 04 ‖ x ‖ y.
{ printf '\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00\x04'
  field x | b64url_decode
  field y | b64url_decode
} >"$work/pub.der"
openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/pub.pem"

header=${ear%%.*}
rest=${ear#*.}
payload=${rest%%.*}
signature=${rest#*.}
printf '%s.%s' "$header" "$payload" >"$work/signed"
# JWS ECDSA signatures are r ‖ s (32 bytes each); openssl wants DER.
sig_hex=$(printf '%s' "$signature" | b64url_decode | hex)
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${sig_hex:0:64}" "${sig_hex:64:64}" >"$work/sig.cnf"
openssl asn1parse -genconf "$work/sig.cnf" -out "$work/sig.der" >/dev/null

printf '%s' "$payload" | b64url_decode
echo
openssl dgst -sha256 -verify "$work/pub.pem" -signature "$work/sig.der" "$work/signed"
