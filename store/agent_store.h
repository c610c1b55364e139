// AgentStore: the Keylime-compatible verifier's agents, by agent_id, with
// the push attestations each one made recently.
//
// Promises, for every implementation:
// - Thread-safe. One key per agent (Redis: `attestd:agent:{<agent_id>}`, the
//   id as hash tag), so every operation touches one key and works on a Redis
//   cluster.
// - Update is an atomic read-modify-write: of concurrent updates of one
//   agent, each sees what the previous one left (compare-and-set on a
//   revision, retried when another writer came in between). A record never
//   exists half-written.
// - kUnavailable means the store could not be reached (retry later).
// - The record is stored as given: what a tenant enrolled is returned
//   faithfully (texts such as tpm_policy and metadata are kept byte for
//   byte, never parsed here).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/appraisal.h"
#include "common/status.h"

namespace attestd {

// Keylime's operational_state values.
enum class AgentState : int {
  kRegistered = 0,
  kStart = 1,
  kSaved = 2,
  kGetQuote = 3,
  kGetQuoteRetry = 4,
  kProvideV = 5,
  kProvideVRetry = 6,
  kFailed = 7,
  kTerminated = 8,
  kInvalidQuote = 9,
  kTenantFailed = 10,
};

// The key an agent offered to certify its quotes with (v3 capabilities),
// kept typed so the chosen one can be named back to it.
struct CertificationKey {
  std::string key_class = "asymmetric";
  std::string key_algorithm;      // "rsa" | "ecc"
  int64_t key_size = 0;           // bits
  std::string server_identifier;  // e.g. "ak"
  std::string local_identifier;   // e.g. "att_local_identifier"
  std::string public_tpm2b;       // TPM2B_PUBLIC bytes
  std::vector<std::string> allowable_hash_algorithms;
  std::vector<std::string> allowable_signature_schemes;
  bool operator==(const CertificationKey&) const = default;
};

// One push-model attestation (v3): the challenge is the nonce of session
// `session_id`; the evidence went through that session.
struct PushAttestation {
  int64_t index = 0;
  std::string session_id;
  std::string stage =
      "awaiting_evidence";  // awaiting_evidence | evaluating_evidence | verification_complete
  std::string evaluation = "pending";  // pending | pass | fail
  std::string failure_reason;          // empty unless fail: a short reason for the operator
  std::vector<Failure> failures;       // of the appraisal
  // Parameters chosen from the agent's capabilities.
  std::string hash_algorithm;          // "sha256"; also the bank of the PCRs
  std::string signature_scheme;        // "rsassa" | "rsapss" | "ecdsa"
  std::vector<int> selected_pcrs;      // of bank hash_algorithm
  CertificationKey certification_key;  // the AK, as the agent offered it
  std::string challenge;               // base64 of the session nonce
  int64_t capabilities_received_at_ms = 0;
  int64_t challenges_expire_at_ms = 0;
  int64_t evidence_received_at_ms = 0;
  int64_t verification_completed_at_ms = 0;
};

// Pull model: what the verifier's polling keeps between two polls.
struct PullProgress {
  std::string public_key;    // the agent's PEM key, from its last full quote
  bool v_delivered = false;  // V reached the agent for this public_key
  int64_t retries = 0;       // unanswered requests since the last answer
  std::string verifier_id;   // the instance that polled it last (its lease holder)
};

struct VerifierAgent {
  std::string agent_id;
  AgentState operational_state = AgentState::kGetQuote;
  bool push_model = true;  // the verifier was in push mode at enrolment: the agent calls us
  std::string v;           // Keylime's V key half, as sent (base64)
  std::string ip;          // cloudagent_ip; empty in push mode
  int port = 0;            // cloudagent_port; 0 in push mode
  std::string tpm_policy;  // JSON text
  std::string ak_tpm;      // TPM2B_PUBLIC bytes
  std::string mtls_cert;
  // As sent (base64 of the policy), or, once enrolled, "sha256:<hex>": the
  // body's digest in PolicyStore::GetBody (one copy for every agent).
  // Empty: none.
  std::string runtime_policy;
  std::string runtime_policy_name;
  std::string mb_policy;  // JSON text, empty: none
  std::string mb_policy_name;
  std::string metadata = "{}";  // JSON text
  std::string ima_sign_verification_keys;
  std::string revocation_key;
  std::vector<std::string> accept_tpm_hash_algs;
  std::vector<std::string> accept_tpm_encryption_algs;
  std::vector<std::string> accept_tpm_signing_algs;
  std::string supported_version;
  // What the last quote used (empty until one arrived).
  std::string hash_alg, enc_alg, sign_alg;
  std::optional<int> severity_level;
  std::string last_event_id;
  int64_t attestation_count = 0;
  int64_t last_received_quote_s = 0;           // epoch seconds; 0: never
  int64_t last_successful_attestation_s = 0;   // epoch seconds; 0: never
  std::string attestation_status = "PENDING";  // PASS | FAIL | PENDING | TIMEOUT
  int64_t created_at_ms = 0;
  // Push model: the open proof-of-possession session (v3 /sessions) and the
  // bearer token it issued, kept hashed.
  std::string pop_session_id;
  std::string pop_challenge;  // raw bytes
  int64_t pop_expires_at_ms = 0;
  std::string token_hash;  // hex SHA-256 of the token; empty: none issued
  int64_t token_expires_at_ms = 0;
  // Runtime (IMA) appraisal's state for the next attestation (entries
  // appraised, running PCR 10, boot marker), as ima::SerializeImaState
  // writes it; empty: none yet.
  std::string ima_state;
  // Push model: the most recent attestations, oldest first (bounded).
  int64_t next_attestation_index = 0;
  std::vector<PushAttestation> attestations;
  PullProgress pull;
};

// How many attestations an agent record keeps.
inline constexpr size_t kKeptAttestations = 16;

// The record as one text and back (the Redis store's encoding).
std::string EncodeAgent(const VerifierAgent& agent);
Result<VerifierAgent> DecodeAgent(std::string_view json);

class AgentStore {
 public:
  virtual ~AgentStore() = default;

  // kConflict if the agent exists.
  virtual Status Create(const VerifierAgent& agent) = 0;

  // kNotFound if unknown.
  virtual Result<VerifierAgent> Get(std::string_view agent_id) = 0;

  // Reads the agent, lets `mutate` change it and writes it back atomically;
  // a non-OK status from `mutate` aborts without writing and is returned.
  // `mutate` may run more than once (on a concurrent change) and must not
  // change agent_id. kNotFound if unknown. Returns the stored record.
  virtual Result<VerifierAgent> Update(std::string_view agent_id,
                                       const std::function<Status(VerifierAgent&)>& mutate) = 0;

  // kNotFound if unknown.
  virtual Status Delete(std::string_view agent_id) = 0;

  // Every agent id, sorted.
  virtual Result<std::vector<std::string>> List() = 0;
};

}  // namespace attestd
