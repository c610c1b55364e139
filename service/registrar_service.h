// RegistrarService: the Keylime-compatible registrar's domain (no HTTP, no
// JSON): registration with a MakeCredential challenge, activation by the
// agent's proof that its TPM recovered the challenge, and the listing the
// tenant reads.
//
// Promises:
// - Register checks everything before storing anything: the AK is a
//   restricted signing key, the EK is an RSA 2048/3072 or ECC P-256/P-384
//   storage key (from ek_tpm, or derived from the EK certificate when only
//   that was sent), the certificate's key is the EK, and with a cert store
//   the certificate chains to it. Invalid input is kInvalidArgument; a known
//   agent with another AK/EK/EK certificate is kPermissionDenied.
// - The challenge is 32 characters of [A-Za-z0-9] from the CSPRNG; the
//   service keeps only key = base64(challenge), never logs it, and the store
//   drops it at activation.
// - Activate compares the auth_tag in constant time. A wrong tag deletes the
//   registration (kInvalidArgument); an unknown agent is kNotFound.
// - Trust: an activated agent's AK is written to the attester directory as
//   trusted, unless the directory already holds a verifier enrolment (an
//   entry with a tpm_policy), which takes precedence. A re-registration,
//   failed activation or deletion withdraws the trust this service gave
//   (the entry is removed when it still holds this AK and no tpm_policy).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/attester_directory.h"
#include "store/registrar_store.h"
#include "verifiers/tpm/ek.h"

namespace attestd {

struct RegistrarServiceOptions {
  // Null: EK certificates are not chain-checked.
  std::shared_ptr<const tpm::EkCertificateStore> ek_cert_store;
};

// What an agent sends, decoded from the wire (bytes, not base64).
struct Registration {
  std::string agent_id;
  std::string aik_tpm;                // TPM2B_PUBLIC
  std::optional<std::string> ek_tpm;  // TPM2B_PUBLIC
  std::optional<std::string> ekcert;  // DER; nullopt when the TPM has none
  std::string mtls_cert;              // PEM, "disabled" or empty
  std::string ip;
  int port = 0;  // 0: not sent
};

class RegistrarService {
 public:
  RegistrarService(std::shared_ptr<RegistrarStore> store,
                   std::shared_ptr<AttesterDirectory> directory,
                   RegistrarServiceOptions options = {});

  // The credential blob (tpm2-tools layout, raw bytes) for the agent's TPM.
  Result<std::string> Register(const Registration& registration);

  Status Activate(std::string_view agent_id, std::string_view auth_tag);

  // Active agents only.
  Result<std::vector<std::string>> ListActive();
  // kNotFound unless the agent exists and is active.
  Result<RegistrarAgent> GetActive(std::string_view agent_id);
  // kNotFound if unknown.
  Status Delete(std::string_view agent_id);

  // Keylime's agent-id rule: 1 to 255 of [A-Za-z0-9._-].
  static bool ValidAgentId(std::string_view agent_id);

  // Lower-case hex HMAC-SHA384(key = challenge_key as ASCII, msg = agent_id):
  // what the agent sends as auth_tag, with challenge_key = base64(challenge).
  static std::string AuthTag(std::string_view challenge_key, std::string_view agent_id);

  // Test seam: the next registrations use this challenge instead of a random one.
  void set_fixed_challenge_for_test(std::string challenge) {
    fixed_challenge_ = std::move(challenge);
  }

 private:
  Status GrantTrust(const RegistrarAgent& agent);
  void WithdrawTrust(std::string_view agent_id, std::string_view aik_tpm);

  std::shared_ptr<RegistrarStore> store_;
  std::shared_ptr<AttesterDirectory> directory_;
  RegistrarServiceOptions options_;
  std::string fixed_challenge_;
};

}  // namespace attestd
