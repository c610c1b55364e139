#!/usr/bin/env bash
# Installs every build, test and run dependency of attestd from Debian 12
# packages. Idempotent: packages already present are not fetched again, and
# `apt-get update` runs at most once per invocation (and only when something
# is missing), so re-running it on a prepared machine takes a second.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libpistache-dev libhiredis-dev libsimdjson-dev libtss2-dev libssl-dev
  libboost-dev libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev
  libjwt-dev redis-server redis-tools swtpm swtpm-tools tpm2-tools wrk
  python3 openssl libre2-dev ima-evm-utils clang-format
)
# Fuzzing and sanitizer builds use clang's runtime; optional for the test run.
OPTIONAL=(clang libclang-rt-14-dev)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
opt_missing=()
for p in "${OPTIONAL[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || opt_missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ ${#opt_missing[@]} -eq 0 ]; then
  echo "setup: all dependencies present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#opt_missing[@]} -gt 0 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${opt_missing[@]}" >/dev/null || \
    echo "setup: optional packages not installed: ${opt_missing[*]} (fuzzing unavailable)"
fi
# Debian's redis-server package starts a system instance; attestd's tests and
# run script start their own on free ports, so the system one is left alone.
echo "setup: done"
