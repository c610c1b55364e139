// Attestation Keys: a TPM2B_PUBLIC turned into an OpenSSL 3 EVP_PKEY, the
// checks an AK must pass, its TPM name, and quote signature verification.
//
// Promises:
// - ParseAk accepts any byte string and never throws. It succeeds only for
//   an RSA key of 2048, 3072 or 4096 bits whose modulus is exactly keyBits
//   long (exponent 0 meaning 65537), or an ECC key on NIST P-256, P-384 or
//   P-521 whose point is on the curve; with a signing scheme that is NULL or
//   one attestd verifies (RSASSA, RSAPSS, ECDSA) and a known nameAlg.
// - An AkKey is immutable once built and may be shared between threads:
//   VerifyQuoteSignature only reads it.
#pragma once

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/openssl_ptr.h"
#include "common/status.h"
#include "verifiers/tpm/public_key.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd::tpm {

// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted |
// sign: what Keylime's AK_EXPECTED_ATTRS demanded (a restricted signing key
// that never left its TPM).
inline constexpr uint32_t kAkRequiredAttributes = 0x00050072;

struct AkKey {
  TPMT_PUBLIC public_area{};
  std::string tpm2b_public;  // the bytes it was parsed from
  std::string name;          // nameAlg (u16, big-endian) ‖ H_nameAlg(TPMT_PUBLIC)
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> pkey;
  TPM2_ALG_ID type = TPM2_ALG_NULL;      // TPM2_ALG_RSA or TPM2_ALG_ECC
  TPM2_ALG_ID scheme = TPM2_ALG_NULL;    // the key's own signing scheme, or NULL
  const HashAlg* scheme_hash = nullptr;  // the scheme's hash, null when scheme is NULL
  size_t signature_bytes = 0;            // RSA: modulus bytes; ECC: field bytes (per coordinate)
  const char* description = "";          // "rsa2048", "ecc-p256", ...

  // Verification contexts already set up for this key, one per (signature
  // scheme, hash), each copied per quote: EVP_PKEY_CTX_dup costs a fraction
  // of setting a context up (fetching the algorithm, the key's provider
  // data), which tpm_verify_bench shows next to an RSA verification.
  // Filled lazily by VerifyQuoteSignature; guarded by verify_mu.
  using PkeyCtxFree = OpenSslFree<EVP_PKEY_CTX_free>;
  mutable std::mutex verify_mu;
  mutable std::vector<std::pair<uint32_t, std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>>>
      verify_templates;

  uint32_t attributes() const { return public_area.objectAttributes; }
  // All of kAkRequiredAttributes set and `decrypt` clear.
  bool HasAkAttributes() const;
};

Result<std::shared_ptr<const AkKey>> ParseAk(std::string_view tpm2b_public);

// Whether `sig` is a kind of signature this AK may make: RSASSA or RSAPSS for
// an RSA key, ECDSA for an ECC key; the AK's own scheme (and its hash) when
// it has one; hash in {sha1, sha256, sha384, sha512}. kInvalidArgument with
// the reason when not.
Status CheckSignatureScheme(const AkKey& key, const TPMT_SIGNATURE& sig);

// Verifies `sig` over H(message) with OpenSSL EVP (RSAPSS: any salt length,
// MGF1 with the signature hash). Assumes CheckSignatureScheme passed.
// kInvalidArgument when the signature does not verify.
Status VerifyQuoteSignature(const AkKey& key, const TPMT_SIGNATURE& sig, std::string_view message);

// Builds a TPM2B_PUBLIC around a PEM public key (RSA or EC P-256/384/521),
// for keys that reach attestd as PEM only (and for tests). nameAlg sha256,
// the given attributes and signing scheme (TPM2_ALG_NULL for none).
Result<std::string> Tpm2bPublicFromPem(std::string_view pem, uint32_t attributes,
                                       TPM2_ALG_ID scheme, TPM2_ALG_ID scheme_hash);

}  // namespace attestd::tpm
