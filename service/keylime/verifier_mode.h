// The verifier's operating mode, as Keylime's `mode` in verifier.conf: in
// pull mode the verifier contacts every enrolled agent for its quotes; in
// push mode agents open their attestations themselves (v3 API). It is a
// property of the verifier, not of an agent's enrolment: the tenant always
// sends the agent's contact address, whatever the mode.
#pragma once

#include <optional>
#include <string_view>

namespace attestd {

enum class VerifierMode { kPull, kPush };

// "pull" or "push"; anything else is nullopt.
std::optional<VerifierMode> ParseVerifierMode(std::string_view text);
const char* VerifierModeName(VerifierMode mode);

}  // namespace attestd
