#!/usr/bin/env bash
# Installs dependencies, builds attestd and runs the whole test suite (unit
# and integration: real redis-server and swtpm, started by the tests on free
# loopback ports), after checking the tree's formatting.
#
#   scripts/test.sh              the suite (build/), and the format check
#   scripts/test.sh --sanitize   the suite under ASan+UBSan (build-asan/)
#   scripts/test.sh --tsan       the concurrency tests under ThreadSanitizer (build-tsan/)
#   scripts/test.sh --all        all three, one after the other
# With CI=true (as .ci/run is run) the plain command also runs the suite
# under ASan+UBSan: both fit CI's budget; the TSan build does not, so it
# stays a developer's command.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests that run threads against each other: stores' atomic steps,
# the Redis pipeline, shared AK contexts and policies, the HTTP adapter.
TSAN_FILTER='*Concurrent*:*ExactlyOne*:*Concurrently*:*SharedBetweenInstances*:HttpServerTest.*:*PullTest.FirstQuote*:*PullTest.StopReactivate*:TaskPool.*:HttpsPoolTest.*:*PullTest.APcrExtend*:EvidenceOutageTest.*:*TpmEvidenceFlowTest.*'

configure_and_build() {  # dir, cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

run_suite() {
  configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  (cd build && ctest --output-on-failure -j"$(nproc)" --timeout 300)
  bash scripts/format.sh --check
  if command -v docker-compose >/dev/null; then
    docker-compose -f docker-compose.yml config -q && echo "compose: docker-compose.yml is valid"
  fi
}

run_asan() {
  configure_and_build build-asan -DCMAKE_BUILD_TYPE=Debug -DATTESTD_SANITIZE=ON -DATTESTD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    bash -c 'cd build-asan && ctest --output-on-failure -j"$(nproc)" --timeout 600'
}

run_tsan() {
  configure_and_build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTESTD_TSAN=ON \
    -DATTESTD_BENCH=OFF
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
  build-tsan/tests/attestd_unit_tests --gtest_filter="$TSAN_FILTER"
  build-tsan/tests/attestd_integration_tests --gtest_filter="$TSAN_FILTER"
}

bash scripts/setup.sh
case "${1:-}" in
  "")
    run_suite
    if [ "${CI:-}" = true ]; then run_asan; fi
    ;;
  --sanitize) run_asan ;;
  --tsan) run_tsan ;;
  --all) run_suite; run_asan; run_tsan ;;
  *) echo "usage: scripts/test.sh [--sanitize|--tsan|--all]" >&2; exit 2 ;;
esac
