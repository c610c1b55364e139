// AttestationService: Keylime push-model (v3) attestation on top of the
// session engine (no HTTP, no API JSON). Pull mode comes next, here.
//
// Promises:
// - An attestation is a challenge-response session underneath: the 128-bit
//   challenge is the session nonce, the session names its agent, and the
//   evidence is a Submit of tpm::kQuotePartsType bytes through the work
//   queue, so any attestd process sharing the store may appraise it.
// - The session's outcome updates the agent (through the session engine's
//   finished hook, and again when attestations are read, so an outcome
//   another process recorded is not lost): stage, evaluation, failures,
//   attestation_status, counters, timestamps; a pass extends the agent's
//   bearer token.
// - Capabilities are negotiated as Keylime's TPM engine does: the agent's
//   accept lists intersected with the offer, in the agent's order; the
//   enrolled AK compared as a key (with or without its size prefix); a
//   scheme that suits the key's algorithm; a hash whose bank holds the PCRs
//   the policy needs; the key's allowable lists, when given, restrict both.
// - The evidence is kAgentEvidenceType (agent_evidence.h): the quote and
//   the IMA / UEFI logs the agent sent, appraised in one worker step
//   against its runtime and measured-boot policies (failures ima.* and
//   measured_boot.*), its IMA state kept in the agent record. An agent with
//   a runtime policy is asked to quote PCR 10 too, one with a measured-boot
//   policy PCRs 0-9 and 14 (as Keylime adds them to the mask).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "service/session_service.h"
#include "store/agent_store.h"

namespace attestd {

struct AttestationOptions {
  // Seconds between the starts of two attestations of an agent (Keylime's
  // quote_interval); reported as attestation_period.
  int64_t quote_interval_s = 2;
  // A passed attestation keeps the agent's bearer token alive this long.
  int64_t token_ttl_s = 3600;
};

// A push agent's offer (v3 capabilities of its tpm_quote evidence).
struct TpmCapabilities {
  std::string component_version;
  std::vector<std::string> signature_schemes;
  std::vector<std::string> hash_algorithms;
  std::map<std::string, std::vector<int>> available_subjects;  // bank → PCRs
  std::vector<CertificationKey> certification_keys;
};

// What a push agent sends back (raw bytes).
struct QuoteSubmission {
  std::string message;       // TPMS_ATTEST
  std::string signature;     // TPMT_SIGNATURE
  std::string subject_data;  // tpm2-tools pcrblob
  bool has_ima_log = false;
  bool has_uefi_log = false;
  // The logs' contents when sent: the IMA list (text) from entry
  // `ima_offset` on, the UEFI event log (binary).
  std::optional<std::string> ima_log;
  uint64_t ima_offset = 0;
  std::optional<std::string> uefi_log;
};

class AttestationService {
 public:
  // Registers itself as `sessions`' finished hook.
  AttestationService(std::shared_ptr<AgentStore> agents, std::shared_ptr<SessionService> sessions,
                     AttestationOptions options = {});

  // kNotFound unknown agent; kPermissionDenied not a push agent or stopped;
  // kConflict while one is open; kResourceExhausted before quote_interval
  // passed (*retry_after_s then says how long to wait); kInvalidArgument
  // when nothing in the offer fits (no common hash or scheme, PCRs the
  // policy needs not offered, the enrolled AK not offered).
  Result<PushAttestation> Begin(std::string_view agent_id, const TpmCapabilities& caps,
                                int64_t* retry_after_s);
  // `index` nullopt: the latest. kNotFound unknown agent or attestation;
  // kPermissionDenied when the challenge expired or evidence was already
  // received.
  Result<PushAttestation> Submit(std::string_view agent_id, std::optional<int64_t> index,
                                 const QuoteSubmission& submission);
  // Newest last. kNotFound unknown agent.
  Result<std::vector<PushAttestation>> List(std::string_view agent_id);
  // kNotFound unknown agent or attestation (none yet, or forgotten).
  Result<PushAttestation> Get(std::string_view agent_id, std::optional<int64_t> index);
  // Seconds until the agent may start its next attestation (0: now).
  int64_t SecondsToNextAttestation(std::string_view agent_id);
  // Keylime's maximum_attestation_interval: a push agent that sent no quote
  // for this long (since enrolment when it never did) is TIMEOUT; 5 times
  // quote_interval, as Keylime's push agent monitor. 0: never times out.
  int64_t MaximumAttestationIntervalS() const;
  // The attestation_status to report at `now_ms`: the recorded one, or
  // TIMEOUT for a push agent past the maximum interval whose last verdict
  // was not a failure (Keylime keeps FAIL rather than downgrade it).
  std::string AttestationStatus(const VerifierAgent& agent, int64_t now_ms) const;
  // The agent, after recording the finished sessions of its evaluating
  // attestations (one read, and one atomic update when any finished).
  // kNotFound unknown agent.
  Result<VerifierAgent> Reconciled(std::string_view agent_id);

  const AttestationOptions& options() const { return options_; }

 private:
  Result<VerifierAgent> Agent(std::string_view agent_id);
  // The session engine's hook: records a push attestation's outcome.
  void OnSessionFinished(const Session& session);
  // Applies a finished session to the attestation it belongs to; false when
  // it belongs to none of the agent's.
  bool ApplyOutcome(VerifierAgent& agent, const Session& session) const;

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<SessionService> sessions_;
  AttestationOptions options_;
};

}  // namespace attestd
