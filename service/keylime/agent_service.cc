#include "service/keylime/agent_service.h"

#include "common/log.h"
#include "common/time_util.h"
#include "service/keylime/keylime_rules.h"
#include "verifiers/tpm/pcr_policy.h"

namespace attestd {

AgentService::AgentService(std::shared_ptr<AgentStore> agents,
                           std::shared_ptr<PolicyService> policies,
                           std::shared_ptr<AttesterDirectory> directory,
                           std::shared_ptr<RegistrarStore> registrar, VerifierMode mode)
    : agents_(std::move(agents)),
      policies_(std::move(policies)),
      directory_(std::move(directory)),
      registrar_(std::move(registrar)),
      mode_(mode) {}

Status AgentService::Validate(const VerifierAgent& a) const {
  if (!keylime::ValidName(a.agent_id)) {
    return InvalidArgument("agent id must be 1 to 255 of [A-Za-z0-9._-]");
  }
  if (a.tpm_policy.empty()) return InvalidArgument("tpm_policy is required");
  if (Status st = tpm::ValidateTpmPolicy(a.tpm_policy); !st.ok()) return st;
  if (Status st = keylime::ValidateAk(a.ak_tpm, "ak_tpm"); !st.ok()) return st;
  if (Status st = keylime::ValidateAlgs("hash", a.accept_tpm_hash_algs); !st.ok()) return st;
  if (Status st = keylime::ValidateAlgs("encryption", a.accept_tpm_encryption_algs); !st.ok()) {
    return st;
  }
  if (Status st = keylime::ValidateAlgs("signing", a.accept_tpm_signing_algs); !st.ok()) return st;
  for (const std::string* name : {&a.runtime_policy_name, &a.mb_policy_name}) {
    if (!name->empty() && !keylime::ValidName(*name)) {
      return InvalidArgument("a policy name must be 1 to 255 of [A-Za-z0-9._-]");
    }
  }
  // Refused now rather than failing every attestation later.
  return policies_->Validate(a.runtime_policy, a.ima_sign_verification_keys, a.mb_policy);
}

Result<VerifierAgent> AgentService::Enrol(VerifierAgent agent) {
  if (Status st = Validate(agent); !st.ok()) return st;
  agent.push_model = mode_ == VerifierMode::kPush;
  agent.operational_state = agent.push_model ? AgentState::kGetQuote : AgentState::kStart;
  agent.attestation_status = "PENDING";
  agent.attestation_count = 0;
  agent.created_at_ms = NowMillis();
  auto created = policies_->Bind(agent);
  if (!created.ok()) return created.status();
  if (Status st = policies_->StoreByDigest(agent); !st.ok()) {
    policies_->Unbind(*created);
    return st;
  }
  if (Status st = agents_->Create(agent); !st.ok()) {
    policies_->Unbind(*created);
    return st;
  }
  // After the record, so a second enrolment of a known agent (kConflict)
  // never replaces the first one's AK or policy.
  Attester attester{agent.ak_tpm, agent.tpm_policy, true, std::nullopt};
  if (Status st = directory_->Put(agent.agent_id, attester); !st.ok()) {
    (void)agents_->Delete(agent.agent_id);
    policies_->Unbind(*created);
    return st;
  }
  LogInfo("verifier: agent enrolled",
          {{"agent_id", agent.agent_id}, {"push", agent.push_model ? "yes" : "no"}});
  if (!agent.push_model && on_activated_) on_activated_(agent.agent_id);
  return agent;
}

Result<VerifierAgent> AgentService::Get(std::string_view agent_id) {
  if (!keylime::ValidName(agent_id)) return NotFound("unknown agent");
  return agents_->Get(agent_id);
}

Result<std::vector<std::string>> AgentService::List() { return agents_->List(); }

Status AgentService::Delete(std::string_view agent_id) {
  if (!keylime::ValidName(agent_id)) return NotFound("unknown agent");
  if (Status st = agents_->Delete(agent_id); !st.ok()) return st;
  LogInfo("verifier: agent deleted", {{"agent_id", std::string(agent_id)}});
  return WithdrawTrust(agent_id);
}

Status AgentService::WithdrawTrust(std::string_view agent_id) {
  if (registrar_) {
    auto registered = registrar_->Get(agent_id);
    if (registered.ok() && registered->active) {
      return directory_->Put(agent_id, Attester{registered->aik_tpm, "", true, std::nullopt});
    }
    if (!registered.ok() && registered.status().code() != StatusCode::kNotFound) {
      return registered.status();
    }
  }
  return directory_->Remove(agent_id);
}

Status AgentService::SetState(std::string_view agent_id, AgentState state) {
  if (!keylime::ValidName(agent_id)) return NotFound("unknown agent");
  auto updated = agents_->Update(agent_id, [state](VerifierAgent& a) {
    a.operational_state = state;
    return Status::Ok();
  });
  return updated.status();
}

Status AgentService::Reactivate(std::string_view agent_id) {
  auto agent = Get(agent_id);
  if (!agent.ok()) return agent.status();
  Status st = SetState(agent_id, agent->push_model ? AgentState::kGetQuote : AgentState::kStart);
  if (st.ok() && !agent->push_model && on_activated_) on_activated_(std::string(agent_id));
  return st;
}

Status AgentService::Stop(std::string_view agent_id) {
  return SetState(agent_id, AgentState::kTenantFailed);
}

}  // namespace attestd
