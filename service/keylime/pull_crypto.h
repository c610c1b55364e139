// The cryptography of Keylime's pull model, as its verifier does it:
// the V key half encrypted to the agent's key, revocation messages signed
// with the tenant's revocation key, and the data PCR that binds the agent's
// key to its quote.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd::keylime {

// The data PCR (Keylime's TPM_DATA_PCR): the agent resets it and extends it
// with the digest of its public key (PEM text) before each quote.
inline constexpr int kDataPcr = 16;

// RSA-OAEP (MGF1-SHA1, SHA-1, no label) of `plaintext` to the RSA public
// key `pubkey_pem` (SubjectPublicKeyInfo PEM). kInvalidArgument when the key
// is not an RSA public key or the plaintext too long for it.
Result<std::string> EncryptToAgent(std::string_view pubkey_pem, std::string_view plaintext);

// Base64 of RSA-PSS (MGF1-SHA256, SHA-256, maximum salt) over `message`
// with the PEM RSA private key `key_pem`. kInvalidArgument for a bad key.
Result<std::string> SignRevocation(std::string_view key_pem, std::string_view message);

// The value the data PCR holds after a reset and one extend with the
// digest of `pubkey_pem`, in bank `hash_alg` ("sha256"…); kInvalidArgument
// for an unknown bank.
Result<std::string> DataPcrValue(std::string_view hash_alg, std::string_view pubkey_pem);

}  // namespace attestd::keylime
