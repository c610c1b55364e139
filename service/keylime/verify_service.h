// VerifyService: Keylime's stateless checks, GET /verify/identity and
// POST /verify/evidence (no HTTP, no API JSON).
//
// Promises:
// - A check goes through the verifier registry like every other appraisal,
//   under trust the caller gives (tpm::kQuotePartsType with a given
//   attester): it never reads or writes the attester directory or an
//   agent's clock baseline.
// - A nonce that does not match as text is tried base64-decoded (as
//   Keylime's checkquote does).
// - Runtime (IMA) and measured-boot appraisal do not exist yet: a request
//   that needs them never passes silently; it carries the failures
//   `runtime_policy.appraiser_unavailable` / `measured_boot.appraiser_unavailable`.
#pragma once

#include <memory>
#include <string>

#include "common/appraisal.h"
#include "common/status.h"
#include "store/agent_store.h"
#include "store/attester_directory.h"
#include "verifiers/registry.h"

namespace attestd {

// GET /verify/identity.
struct IdentityCheck {
  std::string agent_id;
  std::string quote;     // Keylime "r<b64>:<b64>:<b64>"
  std::string nonce;     // as sent (text)
  std::string hash_alg;  // may be empty
};

// POST /verify/evidence, type "tpm".
struct EvidenceCheck {
  std::string quote;
  std::string nonce;
  std::string hash_alg;
  std::string ak_tpm;      // TPM2B_PUBLIC bytes, or empty when ak_pem is set
  std::string ak_pem;      // a PEM public key (taken as an AK: restricted signing)
  std::string tpm_policy;  // JSON text, empty: none
  bool has_runtime_policy = false;
  bool has_mb_policy = false;
  bool has_ima_measurement_list = false;
  bool has_mb_log = false;
};

class VerifyService {
 public:
  VerifyService(std::shared_ptr<AgentStore> agents, std::shared_ptr<const Registry> registry);

  // kNotFound for an unknown agent. The quote is checked with the agent's
  // AK only: no PCR policy, no clock history.
  Result<Appraisal> VerifyIdentity(const IdentityCheck& check);
  // kInvalidArgument for an AK or tpm_policy that is not acceptable.
  Result<Appraisal> VerifyEvidence(const EvidenceCheck& check);

 private:
  Result<Appraisal> AppraiseQuote(const std::string& quote, const std::string& nonce,
                                  const std::string& hash_alg, const std::string& ak_tpm,
                                  const std::string& tpm_policy) const;
  Result<Appraisal> Attempt(const std::string& evidence, std::string_view nonce,
                            std::string_view alternate_nonce, const Attester& given) const;

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<const Registry> registry_;
};

}  // namespace attestd
