#include "service/keylime/policy_service.h"

#include "common/base64.h"
#include "service/keylime/agent_evidence.h"
#include "service/keylime/keylime_rules.h"
#include "verifiers/tpm/pcr_policy.h"

namespace attestd {

PolicyService::PolicyService(std::shared_ptr<PolicyStore> policies,
                             std::shared_ptr<AgentStore> agents, std::shared_ptr<LogAppraiser> logs)
    : policies_(std::move(policies)),
      agents_(std::move(agents)),
      logs_(logs ? std::move(logs) : std::make_shared<LogAppraiser>(policies_)) {}

Status PolicyService::Validate(std::string_view runtime_policy_b64, std::string_view ima_keys,
                               std::string_view mb_policy) {
  if (!runtime_policy_b64.empty()) {
    auto decoded = Base64DecodeStd(runtime_policy_b64);
    if (!decoded) return InvalidArgument("runtime_policy is not base64");
    LogPolicies p;
    p.runtime_policy = std::move(*decoded);
    // Cached under the identity enrolled agents will refer to it by.
    p.runtime_policy_ref = PolicyDigest(runtime_policy_b64);
    p.ima_keys = std::string(ima_keys);
    if (Status st = logs_->ValidateRuntimePolicy(p); !st.ok()) return st;
  } else if (Status st = LogAppraiser::ValidateKeys(ima_keys); !st.ok()) {
    return st;  // a named policy: the keys alone
  }
  return LogAppraiser::ValidateMbPolicy(mb_policy);
}

Status PolicyService::Put(PolicyKind kind, const NamedPolicy& policy, bool replace) {
  if (!keylime::ValidName(policy.name)) {
    return InvalidArgument("a policy name must be 1 to 255 of [A-Za-z0-9._-]");
  }
  if (policy.body.empty()) {
    return InvalidArgument(kind == PolicyKind::kRuntime ? "runtime_policy is required"
                                                        : "mb_policy is required");
  }
  if (kind == PolicyKind::kRuntime && !policy.tpm_policy.empty()) {
    if (Status st = tpm::ValidateTpmPolicy(policy.tpm_policy); !st.ok()) return st;
  }
  Status valid =
      kind == PolicyKind::kRuntime ? Validate(policy.body, "", "") : Validate("", "", policy.body);
  if (!valid.ok()) return valid;
  NamedPolicy stored = policy;
  if (kind == PolicyKind::kRuntime) {
    // The body by digest too, so agents enrolled by name refer to it
    // without reading it (StoreByDigest never copies a named body).
    stored.digest = PolicyDigest(stored.body);
    if (Status st = policies_->PutBody(stored.digest, stored.body); !st.ok()) return st;
  }
  return replace ? policies_->Replace(kind, stored) : policies_->Create(kind, stored);
}

Result<NamedPolicy> PolicyService::Get(PolicyKind kind, std::string_view name) {
  if (!keylime::ValidName(name)) return NotFound("no policy with this name");
  return policies_->Get(kind, name);
}

Status PolicyService::Delete(PolicyKind kind, std::string_view name) {
  if (!keylime::ValidName(name)) return NotFound("no policy with this name");
  if (auto p = policies_->Get(kind, name); !p.ok()) return p.status();
  // An admin operation: reading every agent is acceptable here.
  auto ids = agents_->List();
  if (!ids.ok()) return ids.status();
  for (const std::string& id : *ids) {
    auto agent = agents_->Get(id);
    if (!agent.ok()) continue;  // deleted meanwhile
    const std::string& used =
        kind == PolicyKind::kRuntime ? agent->runtime_policy_name : agent->mb_policy_name;
    if (used == name) return Conflict("the policy is in use by agent " + id);
  }
  return policies_->Delete(kind, name);
}

Result<std::vector<std::string>> PolicyService::List(PolicyKind kind) {
  return policies_->List(kind);
}

Result<PolicyService::Created> PolicyService::Bind(VerifierAgent& a) {
  Created created;
  struct Ref {
    PolicyKind kind;
    std::string* name;
    std::string* body;
  };
  for (Ref ref : {Ref{PolicyKind::kRuntime, &a.runtime_policy_name, &a.runtime_policy},
                  Ref{PolicyKind::kMeasuredBoot, &a.mb_policy_name, &a.mb_policy}}) {
    if (ref.name->empty()) continue;
    if (ref.body->empty() && ref.kind == PolicyKind::kRuntime) {
      // By digest when the named policy has one: its body is not read.
      auto digest = policies_->GetDigest(ref.kind, *ref.name);
      if (!digest.ok()) return digest.status();
      if (!digest->empty()) {
        *ref.body = kPolicyRefPrefix + *digest;
        continue;
      }
    }
    if (ref.body->empty()) {
      auto named = policies_->Get(ref.kind, *ref.name);
      if (!named.ok()) return named.status();
      *ref.body = named->body;
      continue;
    }
    NamedPolicy p{*ref.name, ref.kind == PolicyKind::kRuntime ? a.tpm_policy : "", *ref.body, ""};
    if (ref.kind == PolicyKind::kRuntime) {
      p.digest = PolicyDigest(p.body);
      if (Status st = policies_->PutBody(p.digest, p.body); !st.ok()) {
        Unbind(created);
        return st;
      }
    }
    if (Status st = policies_->Create(ref.kind, p); !st.ok()) {
      Unbind(created);
      return st;
    }
    created.emplace_back(ref.kind, *ref.name);
  }
  return created;
}

Status PolicyService::StoreByDigest(VerifierAgent& a) {
  if (a.runtime_policy.empty() || a.runtime_policy.rfind(kPolicyRefPrefix, 0) == 0) {
    return Status::Ok();
  }
  std::string digest = PolicyDigest(a.runtime_policy);
  if (digest.empty()) return Internal("could not hash the runtime policy");
  if (Status st = policies_->PutBody(digest, a.runtime_policy); !st.ok()) return st;
  a.runtime_policy = kPolicyRefPrefix + digest;
  return Status::Ok();
}

void PolicyService::Unbind(const Created& created) {
  // Best effort: a policy left behind is visible and deletable by the tenant.
  for (const auto& [kind, name] : created) (void)policies_->Delete(kind, name);
}

}  // namespace attestd
