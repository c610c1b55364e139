#include "service/keylime/verify_service.h"

#include "common/base64.h"
#include "service/keylime/agent_evidence.h"
#include "service/keylime/keylime_rules.h"
#include "store/attester_directory.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcr_policy.h"

namespace attestd {

namespace {

// With an IMA list but no runtime policy: every file passes, so only the
// list's replay against PCR 10 counts.
constexpr char kReplayOnlyPolicy[] = R"({"meta": {"version": 1}, "excludes": [".*"]})";
// The agent id the stateless evidence names (trust is given, not looked up).
constexpr char kVerifyId[] = "verify";

}  // namespace

VerifyService::VerifyService(std::shared_ptr<AgentStore> agents,
                             std::shared_ptr<const Registry> registry,
                             std::shared_ptr<LogAppraiser> logs)
    : agents_(std::move(agents)),
      registry_(std::move(registry)),
      logs_(logs ? std::move(logs) : std::make_shared<LogAppraiser>()) {}

Result<Appraisal> VerifyService::Attempt(const std::string& evidence, std::string_view nonce,
                                         std::string_view alternate_nonce,
                                         const Attester& given) const {
  const Verifier* verifier = registry_->Find(tpm::kQuotePartsType);
  if (!verifier) return Internal("no verifier for TPM quotes is registered");
  AppraisalRequest request{tpm::kQuotePartsType, evidence, nonce, &given};
  request.alternate_nonce = alternate_nonce;
  return verifier->Appraise(request);
}

Result<Appraisal> VerifyService::AppraiseQuote(const std::string& quote, const std::string& nonce,
                                               const std::string& hash_alg,
                                               const std::string& ak_tpm,
                                               const std::string& tpm_policy) const {
  tpm::QuotePartsEvidence parts;
  parts.agent_id = kVerifyId;
  parts.keylime_quote = quote;
  if (!hash_alg.empty()) parts.hash_alg = hash_alg;
  std::string evidence = tpm::EncodeQuoteParts(parts);
  Attester given{ak_tpm, tpm_policy, true, std::nullopt};
  // The nonce as text, or base64-decoded, in one appraisal (one signature
  // verification) rather than one appraisal each.
  std::optional<std::string> decoded = Base64DecodeStd(nonce);
  return Attempt(evidence, nonce, decoded ? std::string_view(*decoded) : std::string_view(), given);
}

Result<Appraisal> VerifyService::VerifyIdentity(const IdentityCheck& check) {
  if (!keylime::ValidName(check.agent_id)) return NotFound("unknown agent");
  auto agent = agents_->Get(check.agent_id);
  if (!agent.ok()) return agent.status();
  return AppraiseQuote(check.quote, check.nonce, check.hash_alg, agent->ak_tpm, "");
}

Result<Appraisal> VerifyService::VerifyEvidence(const EvidenceCheck& request) {
  EvidenceCheck check = request;
  if (!check.ak_pem.empty()) {
    // A PEM key carries no TPM attributes: the caller vouches for it being
    // an AK, as it vouches for the key itself in this stateless check.
    auto tpm2b = tpm::Tpm2bPublicFromPem(check.ak_pem, tpm::kAkRequiredAttributes, TPM2_ALG_NULL,
                                         TPM2_ALG_NULL);
    if (!tpm2b.ok()) return InvalidArgument("tpm_ak: " + tpm2b.status().message());
    check.ak_tpm = std::move(*tpm2b);
  }
  if (Status st = keylime::ValidateAk(check.ak_tpm, "tpm_ak"); !st.ok()) return st;
  if (!check.tpm_policy.empty()) {
    if (Status st = tpm::ValidateTpmPolicy(check.tpm_policy); !st.ok()) return st;
  }
  LogPolicies policies;
  policies.runtime_policy = check.runtime_policy;
  policies.mb_policy = check.mb_policy;
  if (policies.runtime_policy.empty() && check.ima_measurement_list) {
    policies.runtime_policy = kReplayOnlyPolicy;
  }
  if (Status st = logs_->ValidateRuntimePolicy(policies); !st.ok()) return st;
  if (Status st = LogAppraiser::ValidateMbPolicy(policies.mb_policy); !st.ok()) return st;
  auto appraisal =
      AppraiseQuote(check.quote, check.nonce, check.hash_alg, check.ak_tpm, check.tpm_policy);
  if (!appraisal.ok() || !QuoteAuthenticated(*appraisal)) return appraisal;
  AgentLogs logs;
  logs.ima_list = check.ima_measurement_list;
  logs.boot_log = check.mb_log;
  if (Status st = logs_->Appraise(*appraisal, policies, logs, nullptr); !st.ok()) return st;
  return appraisal;
}

}  // namespace attestd
