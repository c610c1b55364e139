// AgentService: the Keylime-compatible verifier's agents, their enrolment,
// state and the trust they give (no HTTP, no API JSON).
//
// Promises:
// - Enrol validates everything before storing anything: tpm_policy
//   (tpm::ValidateTpmPolicy), ak_tpm (an AK that parses and is a restricted
//   signing key), accept_tpm_*_algs (Keylime's names, none empty), policy
//   references (kNotFound when a named policy is missing), and that the
//   runtime and measured-boot policies can be evaluated (PolicyService::
//   Validate). The runtime policy body is then stored once by digest and
//   the record refers to it (PolicyService::StoreByDigest). Invalid input is
//   kInvalidArgument naming the field; a known agent is kConflict. The wire
//   forms (JSON texts, base64) were checked by the api layer.
// - Trust: an enrolled agent is written to the attester directory (its AK,
//   its tpm_policy, trusted), so any session naming the agent is appraised
//   with them; Delete withdraws it, handing back to an active registrar
//   registration if there is one (its AK, no reference values).
// - Secrets are never logged.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "service/keylime/policy_service.h"
#include "service/keylime/verifier_mode.h"
#include "store/agent_store.h"
#include "store/attester_directory.h"
#include "store/registrar_store.h"

namespace attestd {

class AgentService {
 public:
  // `registrar` may be null (no registrar to hand trust back to). `mode`
  // makes every enrolled agent push or pull, whatever contact fields the
  // tenant sent.
  AgentService(std::shared_ptr<AgentStore> agents, std::shared_ptr<PolicyService> policies,
               std::shared_ptr<AttesterDirectory> directory,
               std::shared_ptr<RegistrarStore> registrar, VerifierMode mode = VerifierMode::kPull);

  // `agent` as decoded from the wire; state, counters, timestamps and
  // `push_model` (from the verifier's mode) are set here.
  Result<VerifierAgent> Enrol(VerifierAgent agent);
  // kNotFound for an unknown (or malformed) id.
  Result<VerifierAgent> Get(std::string_view agent_id);
  Result<std::vector<std::string>> List();
  Status Delete(std::string_view agent_id);
  Status Reactivate(std::string_view agent_id);
  Status Stop(std::string_view agent_id);  // operational_state 10 (TENANT_FAILED)

  // Called with a pull agent's id after it was enrolled or reactivated
  // (the pull model schedules its first poll). Set before serving.
  void set_on_activated(std::function<void(const std::string&)> hook) {
    on_activated_ = std::move(hook);
  }

 private:
  Status Validate(const VerifierAgent& agent) const;
  Status SetState(std::string_view agent_id, AgentState state);
  // Restores what the registrar alone vouches for, or forgets the agent.
  Status WithdrawTrust(std::string_view agent_id);

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<PolicyService> policies_;
  std::shared_ptr<AttesterDirectory> directory_;
  std::shared_ptr<RegistrarStore> registrar_;
  VerifierMode mode_;
  std::function<void(const std::string&)> on_activated_;
};

}  // namespace attestd
