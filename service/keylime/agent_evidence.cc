// An enrolled agent's quote and logs, appraised as one registry step.
#include "service/keylime/agent_evidence.h"

#include <charconv>

#include "common/base64.h"
#include "common/length_prefixed.h"
#include "common/log.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd {

namespace {

constexpr std::string_view kMagic = "KAE1";
constexpr size_t kFields = 6;

}  // namespace

std::string EncodeAgentEvidence(const AgentEvidence& e) {
  std::string out(kMagic);
  PutLengthPrefixed(out, tpm::EncodeQuoteParts(e.quote));
  PutLengthPrefixed(out, e.logs.ima_list ? "1" : "0");
  PutLengthPrefixed(out, e.logs.ima_list.value_or(""));
  PutLengthPrefixed(out, std::to_string(e.logs.ima_first_entry));
  PutLengthPrefixed(out, e.logs.boot_log ? "1" : "0");
  PutLengthPrefixed(out, e.logs.boot_log.value_or(""));
  return out;
}

Result<AgentEvidence> ParseAgentEvidence(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return InvalidArgument("not agent evidence");
  bytes.remove_prefix(kMagic.size());
  std::string_view f[kFields];
  for (std::string_view& field : f) {
    if (!TakeLengthPrefixed(bytes, &field)) return InvalidArgument("truncated agent evidence");
  }
  if (!bytes.empty()) return InvalidArgument("trailing bytes after the agent evidence");
  auto parts = tpm::ParseQuotePartsEvidence(f[0]);
  if (!parts.ok()) return parts.status();
  AgentEvidence e;
  e.quote.agent_id = std::move(parts->agent_id);
  e.quote.attest = std::move(parts->attest);
  e.quote.signature = std::move(parts->signature);
  e.quote.pcrblob = parts->pcrblob.value_or("");
  e.quote.hash_alg = std::move(parts->hash_alg);
  if (f[1] != "0" && f[1] != "1") return InvalidArgument("bad IMA list flag");
  if (f[1] == "1") e.logs.ima_list = std::string(f[2]);
  auto [end, ec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), e.logs.ima_first_entry);
  if (ec != std::errc() || end != f[3].data() + f[3].size()) {
    return InvalidArgument("bad IMA first entry");
  }
  if (f[4] != "0" && f[4] != "1") return InvalidArgument("bad boot log flag");
  if (f[4] == "1") e.logs.boot_log = std::string(f[5]);
  return e;
}

LogPolicies PoliciesOf(const VerifierAgent& agent) {
  LogPolicies p;
  if (agent.runtime_policy.rfind(kPolicyRefPrefix, 0) == 0) {
    p.runtime_policy_ref = agent.runtime_policy.substr(sizeof(kPolicyRefPrefix) - 1);
  } else if (!agent.runtime_policy.empty()) {
    p.runtime_policy = Base64DecodeStd(agent.runtime_policy).value_or(agent.runtime_policy);
  }
  p.ima_keys = agent.ima_sign_verification_keys;
  p.mb_policy = agent.mb_policy;
  return p;
}

bool QuoteAuthenticated(const Appraisal& a) {
  for (const Failure& f : a.failures) {
    if (f.type.rfind("quote_validation.", 0) == 0 || f.type.rfind("identity.", 0) == 0) {
      return false;
    }
  }
  return true;
}

AgentEvidenceVerifier::AgentEvidenceVerifier(const Verifier* quotes,
                                             std::shared_ptr<AgentStore> agents,
                                             std::shared_ptr<PolicyStore> policies,
                                             std::shared_ptr<LogAppraiser> logs)
    : quotes_(quotes),
      agents_(std::move(agents)),
      policies_(std::move(policies)),
      logs_(std::move(logs)) {}

Status AgentEvidenceVerifier::ResolveNamed(const VerifierAgent& agent, LogPolicies* p) const {
  if (!policies_) return Status::Ok();
  if (!agent.runtime_policy_name.empty()) {
    auto digest = policies_->GetDigest(PolicyKind::kRuntime, agent.runtime_policy_name);
    if (!digest.ok()) return digest.status();
    if (!digest->empty()) {
      p->runtime_policy.clear();
      p->runtime_policy_ref = *digest;
    }
  }
  if (!agent.mb_policy_name.empty()) {
    auto named = policies_->Get(PolicyKind::kMeasuredBoot, agent.mb_policy_name);
    if (!named.ok()) return named.status();
    p->mb_policy = std::move(named->body);
  }
  return Status::Ok();
}

Result<Appraisal> AgentEvidenceVerifier::Appraise(const AppraisalRequest& request) const {
  auto evidence = ParseAgentEvidence(request.evidence);
  if (!evidence.ok()) return tpm::UnparsableEvidence(evidence.status().message());
  std::string parts = tpm::EncodeQuoteParts(evidence->quote);
  AppraisalRequest quote_request{tpm::kQuotePartsType, parts, request.nonce, request.given};
  auto appraisal = quotes_->Appraise(quote_request);
  if (!appraisal.ok() || !QuoteAuthenticated(*appraisal)) return appraisal;
  const std::string& agent_id = evidence->quote.agent_id;
  auto agent = agents_->Get(agent_id);
  if (!agent.ok()) {
    if (agent.status().code() != StatusCode::kNotFound) return agent.status();
    AddFailure(*appraisal, "identity.unknown_attester", "the agent is not enrolled");
    return appraisal;
  }
  LogPolicies policies = PoliciesOf(*agent);
  if (Status st = ResolveNamed(*agent, &policies); !st.ok()) {
    if (st.code() != StatusCode::kNotFound) return st;
    // Deleted meanwhile (only possible between two processes' checks):
    // the copy enrolled with the agent stands.
  }
  ima::ImaState state;
  if (!agent->ima_state.empty()) {
    auto parsed = ima::ParseImaState(agent->ima_state);
    // A state this build cannot read: start over from the list's start.
    if (parsed.ok()) state = std::move(*parsed);
  }
  const std::string before = agent->ima_state;
  if (Status st = logs_->Appraise(*appraisal, policies, evidence->logs, &state); !st.ok()) {
    AddFailure(*appraisal, "appraisal.policy", st.message());
    return appraisal;
  }
  if (!policies.has_runtime_policy()) return appraisal;
  std::string after = ima::SerializeImaState(state);
  if (after == before) return appraisal;
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    a.ima_state = after;
    return Status::Ok();
  });
  if (!updated.ok()) {
    // The verdict stands; the next attestation appraises the whole list.
    LogWarn("verifier: could not keep an agent's IMA state",
            {{"agent_id", agent_id}, {"error", updated.status().message()}});
  }
  return appraisal;
}

Status RegisterAgentEvidenceVerifier(Registry& registry, std::shared_ptr<AgentStore> agents,
                                     std::shared_ptr<PolicyStore> policies,
                                     std::shared_ptr<LogAppraiser> logs) {
  const Verifier* quotes = registry.Find(tpm::kQuotePartsType);
  if (!quotes) return Internal("no verifier for TPM quote parts is registered");
  return registry.Register(std::make_shared<AgentEvidenceVerifier>(
      quotes, std::move(agents), std::move(policies), std::move(logs)));
}

Result<Appraisal> AppraiseAgentEvidence(const Registry& registry, const AgentEvidence& evidence,
                                        std::string_view nonce) {
  const Verifier* v = registry.Find(kAgentEvidenceType);
  if (!v) return Internal("the agent evidence verifier is not registered");
  std::string bytes = EncodeAgentEvidence(evidence);
  return v->Appraise(AppraisalRequest{kAgentEvidenceType, bytes, nonce, nullptr});
}

}  // namespace attestd
