// PolicyStore: the verifier's named policies, Keylime's runtime policies
// (`/allowlists/{name}`) and measured-boot policies (`/mbpolicies/{name}`).
//
// Promises, for every implementation:
// - Thread-safe; one key per policy (Redis: `attestd:policy:{<kind>:<name>}`).
// - Create and Replace are atomic with their existence check: of two
//   concurrent Creates of one name exactly one succeeds.
// - Texts are stored and returned byte for byte (never re-serialized).
// - kUnavailable means the store could not be reached.
// - Policy bodies by digest (PutBody/GetBody): one copy of a runtime policy
//   however many agents use it (Redis: `attestd:policy-body:{<digest>}`);
//   bodies are immutable, so PutBody of a digest already stored is a no-op.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd {

enum class PolicyKind { kRuntime, kMeasuredBoot };

// "runtime" or "mb".
const char* PolicyKindName(PolicyKind kind);

struct NamedPolicy {
  std::string name;
  std::string tpm_policy;  // runtime policies only: JSON text, may be empty
  std::string body;        // runtime_policy (as sent, base64) or mb_policy (JSON text)
  std::string digest;      // hex SHA-256 of body when the writer set it (runtime policies)
};

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;
  // kConflict if the name exists.
  virtual Status Create(PolicyKind kind, const NamedPolicy& policy) = 0;
  // kNotFound if the name does not exist.
  virtual Status Replace(PolicyKind kind, const NamedPolicy& policy) = 0;
  // kNotFound if unknown.
  virtual Result<NamedPolicy> Get(PolicyKind kind, std::string_view name) = 0;
  // kNotFound if unknown.
  virtual Status Delete(PolicyKind kind, std::string_view name) = 0;
  // Names, sorted.
  virtual Result<std::vector<std::string>> List(PolicyKind kind) = 0;

  // Stores `body` under `digest` (the caller's hash of it) unless present.
  virtual Status PutBody(std::string_view digest, std::string_view body) = 0;
  // kNotFound if no body has this digest.
  virtual Result<std::string> GetBody(std::string_view digest) = 0;
  // A named policy's `digest` alone, without reading its body; empty when
  // its writer set none. kNotFound if unknown.
  virtual Result<std::string> GetDigest(PolicyKind kind, std::string_view name) = 0;
};

}  // namespace attestd
