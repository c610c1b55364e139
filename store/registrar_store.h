// RegistrarStore: the Keylime-compatible registrar's agents, by agent_id.
//
// Promises, for every implementation:
// - Thread-safe. One key per agent (Redis: `attestd:registrar:{<agent_id>}`,
//   the id as hash tag), so every operation touches one key and works on a
//   Redis cluster.
// - Register, Activate and DeleteIfChallenge are atomic: of concurrent calls
//   on one agent, each sees what the previous one left. A registration never
//   exists half-written.
// - kUnavailable means the store could not be reached (retry later).
// - The challenge key is stored only until activation and is never part of
//   what List returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd {

struct RegistrarAgent {
  std::string agent_id;
  std::string aik_tpm;    // TPM2B_PUBLIC bytes
  std::string ek_tpm;     // TPM2B_PUBLIC bytes (derived from ekcert when not sent)
  std::string ekcert;     // DER; empty when the agent has none ("emulator")
  std::string mtls_cert;  // PEM, "disabled", or empty (null)
  std::string ip;         // empty: not sent
  int port = 0;           // 0: not sent
  int64_t regcount = 0;
  bool active = false;
  std::string challenge_key;  // base64(challenge) until activation, then empty

  // Same TPM identity: AK, EK and EK certificate.
  bool SameIdentity(const RegistrarAgent& other) const {
    return aik_tpm == other.aik_tpm && ek_tpm == other.ek_tpm && ekcert == other.ekcert;
  }
};

class RegistrarStore {
 public:
  virtual ~RegistrarStore() = default;

  // Creates the agent (regcount 1) or, when it exists with the same
  // identity, replaces it with `agent`: regcount + 1, inactive, the new
  // challenge key. kPermissionDenied when it exists with another identity
  // (nothing changes). `agent.regcount` and `agent.active` are ignored.
  // Returns the stored agent.
  virtual Result<RegistrarAgent> Register(const RegistrarAgent& agent) = 0;

  // kNotFound if unknown.
  virtual Result<RegistrarAgent> Get(std::string_view agent_id) = 0;

  // Marks the agent active and drops its challenge key, if its challenge key
  // is still `challenge_key`. kNotFound if unknown; kConflict if the
  // challenge changed (a re-registration came in between) or none is left.
  virtual Status Activate(std::string_view agent_id, std::string_view challenge_key) = 0;

  // Deletes the agent if its challenge key is still `challenge_key` (a failed
  // activation must not delete a newer registration). kNotFound if unknown,
  // kConflict if the challenge changed.
  virtual Status DeleteIfChallenge(std::string_view agent_id, std::string_view challenge_key) = 0;

  // kNotFound if unknown.
  virtual Status Delete(std::string_view agent_id) = 0;

  // The ids of active agents, sorted.
  virtual Result<std::vector<std::string>> ListActive() = 0;
};

}  // namespace attestd
