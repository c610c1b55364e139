// TPM 2.0 structures as they travel in evidence: parsing with tpm2-tss
// libtss2-mu, and the hash algorithms a quote may use.
//
// Promises:
// - Every Parse* function accepts any byte string. It returns the structure
//   only if libtss2-mu unmarshals it AND consumes the whole buffer; anything
//   else is kInvalidArgument with a short reason. Nothing is allocated beyond
//   the fixed-size tpm2-tss structure.
// - No function here throws.
#pragma once

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd::tpm {

// A hash algorithm a quote may be signed with or a PCR bank may use.
struct HashAlg {
  TPM2_ALG_ID id;
  const char* name;  // "sha1", "sha256", "sha384", "sha512" (Keylime's names)
  size_t size;       // digest bytes
  const EVP_MD* md;  // fetched once per process; never freed
};

// The algorithm for a TPM_ALG_ID, or nullptr when it is not one of
// sha1/sha256/sha384/sha512.
const HashAlg* HashAlgById(TPM2_ALG_ID id);
// The algorithm for a Keylime name (exact, lower-case), or nullptr.
const HashAlg* HashAlgByName(std::string_view name);
// "sha256" for known algorithms, else "0x000a"-style hex.
std::string AlgName(TPM2_ALG_ID id);

// TPMS_ATTEST. Does not check magic or type: the caller decides.
Result<TPMS_ATTEST> ParseAttest(std::string_view bytes);
// TPMT_SIGNATURE.
Result<TPMT_SIGNATURE> ParseSignature(std::string_view bytes);
// TPM2B_PUBLIC; also requires its size field to equal the bytes that follow.
Result<TPM2B_PUBLIC> ParsePublic(std::string_view bytes);

// The TPM marshaling of a TPMT_PUBLIC (what a TPM name hashes).
Result<std::string> MarshalPublicArea(const TPMT_PUBLIC& pub);

// One-shot digest; `alg` must be non-null.
std::string Digest(const HashAlg& alg, std::string_view data);

// Bytes of a TPM2B as a string_view (size clamped to the buffer).
template <typename T>
std::string_view Tpm2bView(const T& b) {
  size_t n = b.size <= sizeof(b.buffer) ? b.size : sizeof(b.buffer);
  return std::string_view(reinterpret_cast<const char*>(b.buffer), n);
}

inline std::string_view Tpm2bView(const TPM2B_NAME& b) {
  size_t n = b.size <= sizeof(b.name) ? b.size : sizeof(b.name);
  return std::string_view(reinterpret_cast<const char*>(b.name), n);
}

}  // namespace attestd::tpm
