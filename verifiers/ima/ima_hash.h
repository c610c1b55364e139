// Hash algorithms of the IMA log and the PCR banks, and a reusable hashing
// context: the appraisal hashes every entry two or three times, so it keeps
// one EVP_MD_CTX and pre-fetched EVP_MDs instead of looking them up per call.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace attestd::ima {

inline constexpr size_t kMaxDigest = 64;  // SHA-512

struct HashAlgo {
  const char* name;   // Keylime's name: "sha1", "sha256", "sha384", "sha512"
  size_t size;        // digest bytes
  const EVP_MD* md;   // fetched once, never freed
  uint8_t kernel_id;  // enum hash_algo of the kernel (linux/hash_info.h)
};

// The PCR bank / log algorithms attestd replays: sha1, sha256, sha384,
// sha512. nullptr for any other name.
const HashAlgo* HashAlgoByName(std::string_view name);
// Any algorithm an IMA signature header may name (kernel hash_algo id) that
// OpenSSL provides; nullptr otherwise.
const HashAlgo* HashAlgoByKernelId(uint8_t id);

// A fixed-size digest value (no allocation).
struct DigestBuf {
  uint8_t bytes[kMaxDigest];
  size_t size = 0;
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes), size}; }
  bool operator==(const DigestBuf& o) const { return view() == o.view(); }
};

// Even length and only hex digits (either case).
bool IsHex(std::string_view hex);
// Decodes hex (either case) into out[0..cap). False on odd length, a
// non-hex character or more than cap bytes.
bool DecodeHex(std::string_view hex, uint8_t* out, size_t cap, size_t* n);
inline bool DecodeHex(std::string_view hex, DigestBuf* d) {
  return DecodeHex(hex, d->bytes, kMaxDigest, &d->size);
}

// One EVP_MD_CTX reused for every digest. Not thread-safe; one per thread.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  // out = H(data). False only if OpenSSL fails.
  bool Digest(const HashAlgo& alg, std::string_view data, DigestBuf* out);
  // pcr = H(pcr || value): a TPM PCR extend.
  bool Extend(const HashAlgo& alg, DigestBuf* pcr, const DigestBuf& value);

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace attestd::ima
