// LogAppraiser: Keylime's runtime (IMA) and measured-boot appraisal of an
// agent's logs, after its quote was verified (no HTTP, no API JSON).
//
// Promises:
// - Validate* refuse what attestd cannot evaluate with kInvalidArgument
//   naming the field ("runtime_policy: ima.dm_policy: ...",
//   "mb_policy: refstate.kernels[0]...: missing"), so enrolment answers 400
//   instead of an agent failing every attestation later.
// - A runtime policy is compiled once per process and identity: compiled
//   policies are cached by the SHA-256 of their text and keys (bounded,
//   least recently used dropped), shared by every agent and every thread.
// - Appraise adds to a quote's Appraisal, never removes: failures typed
//   `ima.*` / `measured_boot.*` with the Keylime event ids of verifiers/ima
//   and verifiers/uefi, claims `ima` and `measured_boot`, and the EAR trust
//   vector's executables / configuration / hardware claims. The PCR values
//   compared are the quote's own claims (`pcrs`), so only a verified quote's
//   values are ever believed.
// - A policy that needs a log the evidence does not carry fails
//   (ima.missing_list, measured_boot.missing_log); nothing passes silently.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/appraisal.h"
#include "common/status.h"
#include "store/policy_store.h"
#include "verifiers/ima/ima_appraisal.h"
#include "verifiers/ima/ima_policy.h"

namespace attestd {

// What an agent is appraised against (texts as the tenant sent them).
struct LogPolicies {
  // A Keylime runtime policy (JSON), a legacy JSON allowlist ({"hashes":
  // ...}) or "<digest> <path>" lines; decoded (not base64). Empty: none.
  std::string runtime_policy;
  // The hex SHA-256 a runtime policy body (base64, as sent) is stored
  // under in the PolicyStore (what enrolled agents hold): the identity the
  // compiled policy is cached under, and where the text is read from when
  // runtime_policy is empty.
  std::string runtime_policy_ref;
  // A legacy exclude list (one regex a line), for a legacy allowlist.
  std::string exclude_list;
  // Keylime's ima_sign_verification_keys: an IMA keyring's JSON
  // ({"keyids": [...], "pubkeys": ["<base64 DER>"]}, what keylime_tenant
  // --sign_verification_key sends), a JSON list of keys (PEM or base64
  // DER), or empty / "null" / "[]".
  std::string ima_keys;
  // The measured-boot reference state (JSON). Empty: none.
  std::string mb_policy;

  bool has_runtime_policy() const;
};

// The logs that came with a quote.
struct AgentLogs {
  std::optional<std::string> ima_list;  // ascii_runtime_measurements text
  uint64_t ima_first_entry = 0;         // index of ima_list's first entry
  std::optional<std::string> boot_log;  // binary_bios_measurements bytes
};

// Hex SHA-256 of a policy body: its identity in PolicyStore::PutBody.
std::string PolicyDigest(std::string_view body);

class LogAppraiser {
 public:
  // `bodies`: where runtime policies referred to by digest are read (may
  // be null when none are). `cache_capacity`: compiled runtime policies
  // kept (at least 1).
  explicit LogAppraiser(std::shared_ptr<PolicyStore> bodies = nullptr, size_t cache_capacity = 16);

  // The runtime policy (and keys) compile; kInvalidArgument naming
  // `field` otherwise.
  Status ValidateRuntimePolicy(const LogPolicies& p, std::string_view field = "runtime_policy");
  // Keylime's ima_sign_verification_keys (see LogPolicies) load.
  static Status ValidateKeys(std::string_view ima_keys);
  // The refstate parses and can be evaluated.
  static Status ValidateMbPolicy(std::string_view json, std::string_view field = "mb_policy");

  // The compiled policy for `p`, from the cache or compiled now (a body
  // referred to by digest is read from the store only then).
  Result<ima::PolicyPtr> Compiled(const LogPolicies& p);

  // Appraises `logs` against `policies` and the PCRs `appraisal.claims`
  // holds, adding what it finds to `appraisal`. `ima_state`: the agent's
  // state from its last appraisal, replaced with the one to keep; null for
  // a stateless check. An error only when the policy does not compile
  // (validated at enrolment, so: changed meanwhile) or OpenSSL fails.
  Status Appraise(Appraisal& appraisal, const LogPolicies& policies, const AgentLogs& logs,
                  ima::ImaState* ima_state);

  size_t cached_policies() const;

 private:
  void AppraiseIma(Appraisal& appraisal, const ima::CompiledPolicy& policy, const AgentLogs& logs,
                   ima::ImaState* state) const;
  Status AppraiseBoot(Appraisal& appraisal, const LogPolicies& policies,
                      const AgentLogs& logs) const;

  std::shared_ptr<PolicyStore> bodies_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, ima::PolicyPtr>> lru_;  // most recent first
  std::unordered_map<std::string, decltype(lru_)::iterator> by_digest_;
};

}  // namespace attestd
