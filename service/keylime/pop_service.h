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
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

struct BearerToken {
  std::string token;
  int64_t expires_at_ms = 0;
};

// What became of an answered challenge (PATCH /v3/sessions/{id}), as
// Keylime reports it: a pass with its token, or a fail.
struct PopOutcome {
  bool pass = false;
  // The proof itself was checked and did not hold (Keylime: 401); a fail
  // without it is an unknown agent or an expired challenge (Keylime: 200).
  bool proof_rejected = false;
  std::string challenge;  // raw bytes; empty when the agent is unknown
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  int64_t response_received_at_ms = 0;
  BearerToken token;  // on a pass
};

class PopService {
 public:
  PopService(std::shared_ptr<AgentStore> agents, PopOptions options = {});

  // kPermissionDenied not a push agent. An unknown agent gets a challenge
  // too, stored nowhere (Keylime checks the agent when the proof comes, so
  // the answer does not tell which agents exist); kInvalidArgument for an
  // id that is not a valid agent id.
  Result<PopChallenge> Begin(std::string_view agent_id);
  // kNotFound when a known agent has no open session with this id (or it
  // was already answered); otherwise an outcome: fail for an unknown agent,
  // an expired challenge or a proof that does not hold (proof_rejected).
  Result<PopOutcome> Complete(std::string_view session_id, std::string_view agent_id,
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
