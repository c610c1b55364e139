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
// - Runtime (IMA) and measured-boot appraisal (LogAppraiser) follow a quote
//   whose signature and nonce check out: the IMA list against the runtime
//   policy and the quoted PCR 10, the boot log against the mb_policy and
//   the quoted PCRs, statelessly (the whole list every time). A list with
//   no runtime policy is only replayed against PCR 10. A policy that cannot
//   be evaluated is kInvalidArgument naming the field.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/appraisal.h"
#include "common/status.h"
#include "service/keylime/log_appraisal.h"
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
  std::string ak_tpm;          // TPM2B_PUBLIC bytes, or empty when ak_pem is set
  std::string ak_pem;          // a PEM public key (taken as an AK: restricted signing)
  std::string tpm_policy;      // JSON text, empty: none
  std::string runtime_policy;  // JSON text (decoded), empty: none
  std::string mb_policy;       // JSON text, empty: none
  std::optional<std::string> ima_measurement_list;
  std::optional<std::string> mb_log;  // binary (decoded from base64)
};

class VerifyService {
 public:
  // `logs` null: a LogAppraiser of its own.
  VerifyService(std::shared_ptr<AgentStore> agents, std::shared_ptr<const Registry> registry,
                std::shared_ptr<LogAppraiser> logs = nullptr);

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
  std::shared_ptr<LogAppraiser> logs_;
};

}  // namespace attestd
