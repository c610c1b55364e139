// TPM2_MakeCredential in software (TPM 2.0 Part 1 §24), with OpenSSL 3 only:
// what the registrar sends an agent so that only the TPM holding both the EK
// and the AK (by its name) can recover the credential.
//
//   seed        RSA EK: random, nameAlg-digest long, sent as
//               RSA-OAEP(EK; hash = MGF1 hash = EK nameAlg; label "IDENTITY\0")
//               ECC EK: ECDH of a fresh ephemeral key with the EK, then
//               KDFe(nameAlg, Z, "IDENTITY", ephemeral.x, EK.x), sent as the
//               ephemeral TPMS_ECC_POINT
//   symKey      KDFa(nameAlg, seed, "STORAGE", Name(AK), "", EK AES key bits)
//   encIdentity AES-CFB(symKey, IV 0, TPM2B_DIGEST(credential))
//   hmacKey     KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
//   outerHMAC   HMAC_nameAlg(hmacKey, encIdentity ‖ Name(AK))
//
// The output is the tpm2-tools file layout, big-endian:
//   0xBADCC0DE ‖ u32 1 ‖ TPM2B_ID_OBJECT(TPM2B_DIGEST(outerHMAC) ‖ encIdentity)
//   ‖ TPM2B_ENCRYPTED_SECRET
// KDFa is OpenSSL's KBKDF (counter mode, HMAC, 32-bit counter and length).
//
// Promises: no function throws; all randomness comes from OpenSSL's CSPRNG
// unless a test injects it through MakeCredentialSeams.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "verifiers/tpm/ek.h"

namespace attestd::tpm {

inline constexpr uint32_t kCredentialFileMagic = 0xBADCC0DE;
inline constexpr uint32_t kCredentialFileVersion = 1;

// Test seam: fixed randomness, so that known-answer vectors can be checked.
struct MakeCredentialSeams {
  std::string rsa_seed;               // RSA EK: the seed (nameAlg-digest bytes)
  std::string ecc_ephemeral_private;  // ECC EK: big-endian private scalar
};

// `credential` at most the nameAlg digest size (a TPM2B_DIGEST); `object_name`
// is Name(AK) = nameAlg ‖ H(TPMT_PUBLIC). kInvalidArgument for bad sizes.
Result<std::string> MakeCredential(const EkKey& ek, std::string_view credential,
                                   std::string_view object_name);

Result<std::string> MakeCredentialForTest(const EkKey& ek, std::string_view credential,
                                          std::string_view object_name,
                                          const MakeCredentialSeams& seams);

// KDFa (TPM 2.0 Part 1 §11.4.10.2) through OpenSSL KBKDF. `label` without
// its terminating NUL (KBKDF adds the separator). Exposed for tests.
Result<std::string> Kdfa(const HashAlg& hash, std::string_view key, std::string_view label,
                         std::string_view context_u, std::string_view context_v, size_t bits);

// KDFe (TPM 2.0 Part 1 §11.4.10.3): the SP 800-56A one-step KDF with
// H(counter ‖ Z ‖ label‖0 ‖ partyU ‖ partyV). Exposed for tests.
Result<std::string> Kdfe(const HashAlg& hash, std::string_view z, std::string_view label,
                         std::string_view party_u, std::string_view party_v, size_t bits);

}  // namespace attestd::tpm
