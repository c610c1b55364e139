// The Keylime-compatible verifier's services, built together: each one
// concern, sharing the stores.
#pragma once

#include <memory>
#include <string>

#include "service/keylime/agent_service.h"
#include "service/keylime/attestation_service.h"
#include "service/keylime/log_appraisal.h"
#include "service/keylime/policy_service.h"
#include "service/keylime/pop_service.h"
#include "service/keylime/pull_service.h"
#include "service/keylime/verifier_mode.h"
#include "service/keylime/verify_service.h"
#include "service/session_service.h"
#include "store/stores.h"
#include "verifiers/registry.h"

namespace attestd {

struct KeylimeOptions {
  std::string verifier_id = "default";
  // Keylime's `mode`: decides push or pull for every enrolled agent.
  VerifierMode mode = VerifierMode::kPull;
  AttestationOptions attestation;
  PopOptions pop;
  // Shared with the agent evidence verifier; null: one of their own.
  std::shared_ptr<LogAppraiser> logs;
};

struct KeylimeServices {
  // Runtime and measured-boot policies, compiled once per process.
  std::shared_ptr<LogAppraiser> logs;
  std::shared_ptr<PolicyService> policies;
  std::shared_ptr<AgentService> agents;
  std::shared_ptr<VerifyService> verify;
  std::shared_ptr<PopService> pop;
  std::shared_ptr<AttestationService> attestations;
  // Pull model: set by the wiring when the verifier polls agents (it needs
  // the api layer's AgentClient); null otherwise.
  std::shared_ptr<PullService> pull;
  KeylimeOptions options;
};

// `sessions` carries push attestations (the attestation service becomes its
// finished hook); `registry` appraises the stateless checks.
KeylimeServices MakeKeylimeServices(const Stores& stores, std::shared_ptr<SessionService> sessions,
                                    std::shared_ptr<const Registry> registry,
                                    KeylimeOptions options = {});

}  // namespace attestd
