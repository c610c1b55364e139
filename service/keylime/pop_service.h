// PopService: proof of possession for push-model agents (v3 /sessions): a
// challenge, the agent's TPM2_Certify of its AK by itself over it, and the
// bearer token that authorizes its attestations (no HTTP, no API JSON).
//
// Promises:
// - The challenge is 16 bytes from the CSPRNG; a new one replaces an
//   unanswered one; each is answered at most once.
// - The token is 32 random bytes, returned once, stored only as its
//   SHA-256 and compared in constant time; it lives token_ttl_s (the
//   attestation service extends it for each passed attestation).
// - Neither challenges nor tokens are ever logged.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/agent_store.h"

namespace attestd {

struct PopOptions {
  int64_t challenge_ttl_s = 300;  // how long a challenge may be answered
  int64_t token_ttl_s = 3600;     // how long a bearer token lives
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

class PopService {
 public:
  PopService(std::shared_ptr<AgentStore> agents, PopOptions options = {});

  // kNotFound unknown agent; kPermissionDenied not a push agent.
  Result<PopChallenge> Begin(std::string_view agent_id);
  // kNotFound unknown agent or session (or expired, or already answered);
  // kUnauthenticated when the proof does not hold.
  Result<BearerToken> Complete(std::string_view session_id, std::string_view agent_id,
                               std::string_view message, std::string_view signature);
  // OK when `token` is the agent's unexpired bearer token. kNotFound unknown
  // agent and kPermissionDenied not a push agent (checked first), else
  // kUnauthenticated.
  Status Authorize(std::string_view agent_id, std::string_view token);

  const PopOptions& options() const { return options_; }

 private:
  Result<VerifierAgent> Get(std::string_view agent_id);

  std::shared_ptr<AgentStore> agents_;
  PopOptions options_;
};

}  // namespace attestd
