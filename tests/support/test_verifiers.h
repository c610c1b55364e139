// Verifiers for testing the session engine, which is verifier-agnostic.
// (The TPM verifier's own tests use real swtpm quotes.)
#pragma once

#include <memory>

#include "verifiers/registry.h"

namespace attestd::testing {

// Cheap (sync): valid when the evidence equals the session nonce; the
// evidence "unavailable" makes Appraise return kUnavailable.
inline constexpr char kEchoType[] = "application/vnd.attestd.test-echo";
// Expensive (async): like echo, after sleeping 300 ms.
inline constexpr char kSlowType[] = "application/vnd.attestd.test-slow";

std::shared_ptr<Registry> MakeTestRegistry();

}  // namespace attestd::testing
