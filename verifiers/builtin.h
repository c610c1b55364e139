// The factory table: every production verifier is registered here, one line
// each. Adding a verifier touches its own folder plus one line in
// builtin.cc, and it receives one factory context.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/status.h"
#include "verifiers/registry.h"

namespace attestd {

class AttesterDirectory;
class Metrics;

// What a verifier may use from the rest of the process (as Envoy's
// extension factories receive one context). Each verifier keeps its trust
// material behind its own store interface; a new verifier that needs a new
// store adds a member here and the wiring fills it.
struct VerifierContext {
  // Attesters' AKs, PCR reference values and clock baselines (TPM).
  std::shared_ptr<AttesterDirectory> attesters;
  // Wall clock in epoch milliseconds.
  std::function<int64_t()> now_ms;
  // Null: the process's GlobalMetrics().
  Metrics* metrics = nullptr;
};

using VerifierFactory = std::shared_ptr<const Verifier> (*)(const VerifierContext& context);

Status RegisterBuiltinVerifiers(Registry& registry, const VerifierContext& context);

}  // namespace attestd
