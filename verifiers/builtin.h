// The factory table: every production verifier is registered here, one line
// each. Adding a verifier touches its own folder plus one line in builtin.cc.
#pragma once

#include <memory>

#include "common/status.h"
#include "verifiers/registry.h"

namespace attestd {

class AttesterDirectory;

// What verifiers may need from the rest of the process.
struct VerifierDeps {
  std::shared_ptr<AttesterDirectory> attesters;
};

Status RegisterBuiltinVerifiers(Registry& registry, const VerifierDeps& deps);

}  // namespace attestd
