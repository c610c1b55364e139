// An enrolled Keylime agent's evidence as one registry step: the quote
// (tpm::kQuotePartsType, appraised by the TPM quote verifier, trusting the
// attester directory) and the logs that came with it, appraised against the
// agent's runtime and measured-boot policies with its IMA state carried
// over in the agent store. Push (v3) and pull attestations both submit it,
// so IMA and UEFI appraisal run in the same pipeline (work queue, any
// process) as the quote.
//
// Promises:
// - kAgentEvidenceType is internal: never accepted from the network.
// - ParseAgentEvidence accepts any byte string (fuzzed); only what
//   EncodeAgentEvidence wrote parses.
// - The logs are appraised only when the quote passed its signature,
//   nonce and PCR digest checks (a PCR value of an unauthenticated quote is
//   worth nothing); the IMA state is replaced in the agent record with what
//   this appraisal leaves (an atomic update), so any instance continues it.
// - An agent enrolled with a named policy is appraised against that name's
//   current version (as Keylime's agents refer to their policy's row): a
//   PUT of /allowlists/{name} or /mbpolicies/{name} applies from the next
//   attestation on (entries already appraised are not appraised again).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "service/keylime/log_appraisal.h"
#include "store/agent_store.h"
#include "store/policy_store.h"
#include "verifiers/registry.h"
#include "verifiers/tpm/evidence.h"

namespace attestd {

inline constexpr char kAgentEvidenceType[] = "application/vnd.attestd.keylime-agent-evidence";

struct AgentEvidence {
  tpm::QuotePartsEvidence quote;  // its agent_id names the agent
  AgentLogs logs;
};

// A length-prefixed framing (no base64, no JSON).
std::string EncodeAgentEvidence(const AgentEvidence& e);
// kInvalidArgument unless EncodeAgentEvidence wrote it.
Result<AgentEvidence> ParseAgentEvidence(std::string_view bytes);

// What an agent record's runtime_policy holds once its body is stored by
// digest: this prefix and the body's hex SHA-256.
inline constexpr char kPolicyRefPrefix[] = "sha256:";

// The policies an enrolled agent is appraised against, from its record
// (runtime_policy is base64 there, or a kPolicyRefPrefix reference).
LogPolicies PoliciesOf(const VerifierAgent& agent);

// The TPM quote's kind of Appraisal whose `quote_validation.*`,
// `identity.*` or `clock.*` failures mean no PCR value is believed.
bool QuoteAuthenticated(const Appraisal& a);

class AgentEvidenceVerifier final : public Verifier {
 public:
  // `quotes`: the verifier of tpm::kQuotePartsType (owned by the registry
  // this one is registered in, which outlives it).
  AgentEvidenceVerifier(const Verifier* quotes, std::shared_ptr<AgentStore> agents,
                        std::shared_ptr<PolicyStore> policies, std::shared_ptr<LogAppraiser> logs);

  std::vector<std::string> MediaTypes() const override { return {}; }
  std::vector<std::string> InternalMediaTypes() const override { return {kAgentEvidenceType}; }
  // False: a first IMA appraisal of a long list, or a 20 MiB policy's
  // compilation, is worth a worker.
  bool IsCheap() const override { return false; }
  using Verifier::Appraise;
  Result<Appraisal> Appraise(const AppraisalRequest& request) const override;

 private:
  // The agent's named policies as they are now (kNotFound: deleted).
  Status ResolveNamed(const VerifierAgent& agent, LogPolicies* p) const;

  const Verifier* quotes_;
  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<PolicyStore> policies_;
  std::shared_ptr<LogAppraiser> logs_;
};

// Registers an AgentEvidenceVerifier in `registry` (which must already
// hold the TPM quote verifier). Call before the registry is shared with
// threads.
Status RegisterAgentEvidenceVerifier(Registry& registry, std::shared_ptr<AgentStore> agents,
                                     std::shared_ptr<PolicyStore> policies,
                                     std::shared_ptr<LogAppraiser> logs);

// For pull mode: appraises one quote with its logs for enrolled agent
// `evidence.quote.agent_id` through `registry`, as a push attestation's
// worker does (same failures, same IMA state).
Result<Appraisal> AppraiseAgentEvidence(const Registry& registry, const AgentEvidence& evidence,
                                        std::string_view nonce);

}  // namespace attestd
