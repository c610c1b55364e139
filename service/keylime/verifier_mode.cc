#include "service/keylime/verifier_mode.h"

namespace attestd {

std::optional<VerifierMode> ParseVerifierMode(std::string_view text) {
  if (text == "pull") return VerifierMode::kPull;
  if (text == "push") return VerifierMode::kPush;
  return std::nullopt;
}

const char* VerifierModeName(VerifierMode mode) {
  return mode == VerifierMode::kPush ? "push" : "pull";
}

}  // namespace attestd
