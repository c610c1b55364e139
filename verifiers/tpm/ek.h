// Endorsement Keys as the registrar receives them: a TPM2B_PUBLIC (`ek_tpm`)
// and/or an X.509 EK certificate (`ekcert`, DER), turned into what
// MakeCredential needs, plus the EK certificate chain check.
//
// Promises:
// - ParseEk accepts any byte string and never throws. It succeeds only for
//   an RSA 2048/3072 key (modulus exactly keyBits long) or an ECC NIST
//   P-256/P-384 key whose point is on the curve, with the restricted and
//   decrypt attributes set (a storage key: ActivateCredential needs one), a
//   nameAlg of sha256/sha384/sha512 and an AES-128/192/256 CFB symmetric
//   definition. An EkKey is immutable and may be shared between threads.
// - EkTpm2bFromCertificate builds the TPM2B_PUBLIC of the TCG default EK
//   template (EK Credential Profile 2.0: L-1 RSA 2048, L-2 ECC P-256, H-3
//   RSA 3072, H-4 ECC P-384) around the certificate's public key: what
//   Keylime 6.x did when an agent sent only its EK certificate.
// - VerifyEkCertificateChain uses OpenSSL's X509_STORE only. TPM EK
//   certificates carry a critical subjectAltName (directoryName with TPM
//   manufacturer attributes) and an often empty subject: neither makes it
//   fail. No purpose and no hostname is checked.
#pragma once

#include <openssl/evp.h>
#include <openssl/types.h>
#include <tss2/tss2_tpm2_types.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd::tpm {

struct EkKey {
  TPMT_PUBLIC public_area{};
  std::string tpm2b_public;  // the bytes it was parsed from
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> pkey;
  TPM2_ALG_ID type = TPM2_ALG_NULL;   // TPM2_ALG_RSA or TPM2_ALG_ECC
  const HashAlg* name_alg = nullptr;  // OAEP / KDF hash of MakeCredential
  size_t symmetric_key_bits = 0;      // AES key bits (CFB mode)
  const char* description = "";       // "rsa2048", "ecc-p256", ...
};

Result<std::shared_ptr<const EkKey>> ParseEk(std::string_view tpm2b_public);

// The public key of a DER X.509 certificate; kInvalidArgument when the
// certificate does not parse.
Result<std::unique_ptr<EVP_PKEY, EvpPkeyFree>> CertificatePublicKey(std::string_view der);

// See above. kInvalidArgument for a certificate that does not parse or a key
// that is not RSA 2048/3072 or ECC P-256/P-384.
Result<std::string> EkTpm2bFromCertificate(std::string_view der);

// True if both keys are the same public key.
bool SamePublicKey(const EVP_PKEY* a, const EVP_PKEY* b);

// A set of trusted TPM vendor CA certificates (every PEM or DER file in a
// directory). Immutable once loaded; safe to share between threads.
class EkCertificateStore {
 public:
  // kInvalidArgument when the directory cannot be read or holds no
  // certificate.
  static Result<std::shared_ptr<const EkCertificateStore>> LoadDirectory(const std::string& dir);
  ~EkCertificateStore();

  // OK if `der` chains to one of the certificates (an intermediate in the
  // directory is itself a trust anchor); kInvalidArgument with OpenSSL's
  // reason otherwise.
  Status Verify(std::string_view der) const;

  size_t size() const { return count_; }

 private:
  EkCertificateStore() = default;
  X509_STORE* store_ = nullptr;
  size_t count_ = 0;
};

}  // namespace attestd::tpm
