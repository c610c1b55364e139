// AgentService: the Keylime-compatible verifier's domain (no HTTP, no API
// JSON): agent enrolment and status, named policies, the stateless verify
// checks, and push-model (v3) attestation on top of SessionService.
//
// Promises:
// - Enrol validates everything before storing anything: tpm_policy (a JSON
//   object of PCR 0..23 → list of hex digests, all of one bank's length,
//   plus an optional hex `mask`), ak_tpm (an AK that parses and is a
//   restricted signing key), accept_tpm_*_algs (Keylime's names, none
//   empty), referenced named policies (kNotFound when missing). Invalid
//   input is kInvalidArgument naming the field; a known agent is kConflict.
// - Trust: an enrolled agent is written to the attester directory (its AK,
//   its tpm_policy, trusted), so any session naming the agent is appraised
//   with them; Delete withdraws it, handing back to an active registrar
//   registration if there is one (its AK, no reference values).
// - A named policy in use by an agent cannot be deleted (kConflict).
// - Verify checks never touch the directory or an agent's clock baseline:
//   they appraise with a directory of their own holding only the AK (and
//   the given tpm_policy), through the same TPM quote verifier sessions use.
// - Push attestation is a challenge-response session underneath: the 128-bit
//   challenge is the session nonce, the evidence is a Submit through the
//   work queue, and the session's outcome updates the agent (through the
//   session engine's finished hook, and again when attestations are read,
//   so an outcome another process recorded is not lost).
// - Runtime (IMA) and measured-boot appraisal do not exist yet: evidence or
//   policies that need them never pass silently; they add the failures
//   `runtime_policy.appraiser_unavailable` / `measured_boot.appraiser_unavailable`.
// - Secrets (challenges) are never logged.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "service/session_service.h"
#include "store/agent_store.h"
#include "store/attester_directory.h"
#include "store/policy_store.h"
#include "store/registrar_store.h"
#include "verifiers/appraisal.h"

namespace attestd {

struct AgentServiceOptions {
  std::string verifier_id = "default";
  // Push model: seconds between the starts of two attestations of an agent
  // (Keylime's quote_interval); reported as attestation_period.
  int64_t quote_interval_s = 2;
  // Proof of possession: how long a challenge may be answered, and how long
  // a bearer token lives (extended by each passed attestation).
  int64_t pop_challenge_ttl_s = 300;
  int64_t token_ttl_s = 3600;
};

// A proof-of-possession challenge (POST /v3/sessions).
struct PopChallenge {
  std::string session_id;
  std::string challenge;  // raw bytes
  int64_t expires_at_ms = 0;
};

struct BearerToken {
  std::string token;
  int64_t expires_at_ms = 0;
};

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

// A push agent's offer (v3 capabilities of its tpm_quote evidence).
struct TpmCapabilities {
  std::string component_version;
  std::vector<std::string> signature_schemes;
  std::vector<std::string> hash_algorithms;
  std::map<std::string, std::vector<int>> available_subjects;  // bank → PCRs
  struct Key {
    std::string public_tpm2b;  // TPM2B_PUBLIC bytes
    std::string json;          // the offer as sent, echoed back when chosen
  };
  std::vector<Key> certification_keys;
};

// What a push agent sends back (raw bytes).
struct QuoteSubmission {
  std::string message;       // TPMS_ATTEST
  std::string signature;     // TPMT_SIGNATURE
  std::string subject_data;  // tpm2-tools pcrblob
  bool has_ima_log = false;
  bool has_uefi_log = false;
};

class AgentService {
 public:
  // `registrar` may be null (no registrar to hand trust back to).
  // Registers itself as `sessions`' finished hook.
  AgentService(std::shared_ptr<AgentStore> agents, std::shared_ptr<PolicyStore> policies,
               std::shared_ptr<AttesterDirectory> directory, std::shared_ptr<RegistrarStore> registrar,
               std::shared_ptr<SessionService> sessions, AgentServiceOptions options = {});

  // --- agents (v2.x) ---
  // `agent` as decoded from the wire; state, counters and timestamps are
  // set here. A runtime/mb policy given inline with a name that does not
  // exist yet becomes a named policy (kConflict when the name exists).
  Result<VerifierAgent> Enrol(VerifierAgent agent);
  Result<VerifierAgent> Get(std::string_view agent_id);
  // Get, after recording push attestations whose sessions finished (the
  // tenant's status view).
  Result<VerifierAgent> Current(std::string_view agent_id);
  Result<std::vector<std::string>> List();
  Status Delete(std::string_view agent_id);
  Status Reactivate(std::string_view agent_id);
  Status Stop(std::string_view agent_id);  // operational_state 10 (TENANT_FAILED)

  // --- named policies ---
  // `replace`: PUT (kNotFound if absent) instead of POST (kConflict if present).
  Status PutPolicy(PolicyKind kind, const NamedPolicy& policy, bool replace);
  Result<NamedPolicy> GetPolicy(PolicyKind kind, std::string_view name);
  // kConflict while an agent uses it.
  Status DeletePolicy(PolicyKind kind, std::string_view name);
  Result<std::vector<std::string>> ListPolicies(PolicyKind kind);

  // --- verify (stateless) ---
  // kNotFound for an unknown agent. The quote is checked with the agent's
  // AK only: no PCR policy, no clock history. A nonce that does not match
  // as text is tried base64-decoded (as Keylime's checkquote does).
  Result<Appraisal> VerifyIdentity(const IdentityCheck& check);
  // kInvalidArgument for an AK or tpm_policy that is not acceptable.
  Result<Appraisal> VerifyEvidence(const EvidenceCheck& check);

  // --- proof of possession (v3 sessions) ---
  // kNotFound unknown agent; kPermissionDenied not a push agent. A new
  // challenge replaces an unanswered one.
  Result<PopChallenge> BeginProofOfPossession(std::string_view agent_id);
  // The agent's TPM2_Certify of its AK by itself over the challenge.
  // kNotFound unknown agent or session (or expired, or already answered);
  // kUnauthenticated when the proof does not hold. The token is returned
  // once; only its hash is stored.
  Result<BearerToken> CompleteProofOfPossession(std::string_view session_id, std::string_view agent_id,
                                                std::string_view message, std::string_view signature);
  // OK when `token` is the agent's unexpired bearer token. kNotFound unknown
  // agent and kPermissionDenied not a push agent (the contract's codes for
  // the attestation routes, checked first), else kUnauthenticated.
  Status Authorize(std::string_view agent_id, std::string_view token);

  // --- push attestation (v3) ---
  // kNotFound unknown agent; kPermissionDenied not a push agent or stopped;
  // kConflict while one is open; kResourceExhausted before quote_interval
  // passed (*retry_after_s then says how long to wait); kInvalidArgument
  // when nothing in the offer fits (no common hash or scheme, PCRs the
  // policy needs not offered, the enrolled AK not offered).
  Result<PushAttestation> BeginAttestation(std::string_view agent_id, const TpmCapabilities& caps,
                                           int64_t* retry_after_s);
  // `index` nullopt: the latest. kNotFound unknown agent or attestation;
  // kPermissionDenied when the challenge expired or evidence was already
  // received.
  Result<PushAttestation> SubmitEvidence(std::string_view agent_id, std::optional<int64_t> index,
                                         const QuoteSubmission& submission);
  // Newest last. kNotFound unknown agent.
  Result<std::vector<PushAttestation>> Attestations(std::string_view agent_id);
  // kNotFound unknown agent or attestation (none yet, or forgotten).
  Result<PushAttestation> Attestation(std::string_view agent_id, std::optional<int64_t> index);
  // Seconds until the agent may start its next attestation (0: now).
  int64_t SecondsToNextAttestation(std::string_view agent_id);

  // The address the verifier listener really listens on (tenants send
  // delete and reactivate there).
  void set_verifier_address(std::string ip, int port);
  std::string verifier_ip() const;
  int verifier_port() const;
  const AgentServiceOptions& options() const { return options_; }

  // tpm_policy validation as Enrol does it.
  static Status ValidateTpmPolicy(std::string_view json);
  // Keylime's agent-id and policy-name rule: 1 to 255 of [A-Za-z0-9._-].
  static bool ValidName(std::string_view name);

 private:
  Status Validate(const VerifierAgent& agent) const;
  // Resolves the agent's runtime and mb policy references (creating named
  // policies given inline); returns the names it created.
  Result<std::vector<std::pair<PolicyKind, std::string>>> BindPolicies(VerifierAgent& agent);
  Status SetState(std::string_view agent_id, AgentState state);
  // Records finished sessions of the agent's evaluating attestations.
  void Reconcile(std::string_view agent_id);
  // The session engine's hook: records a push attestation's outcome.
  void OnSessionFinished(const Session& session);
  // Applies a finished session to the attestation it belongs to; false when
  // it belongs to none of the agent's.
  bool ApplyOutcome(VerifierAgent& agent, const Session& session) const;
  // Restores what the registrar alone vouches for, or forgets the agent.
  Status WithdrawTrust(std::string_view agent_id);

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<PolicyStore> policies_;
  std::shared_ptr<AttesterDirectory> directory_;
  std::shared_ptr<RegistrarStore> registrar_;
  std::shared_ptr<SessionService> sessions_;
  AgentServiceOptions options_;
  mutable std::mutex address_mu_;
  std::string verifier_ip_;
  int verifier_port_ = 0;
};

}  // namespace attestd
