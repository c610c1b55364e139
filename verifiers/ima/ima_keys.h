// Public keys that verify IMA file signatures (security.ima type 3, digital
// signature v2), indexed by their 32-bit key id as the kernel does.
//
// A key id is the last 4 bytes of the certificate's Subject Key Identifier,
// or, without one, of SHA-1 over the public key (PKCS#1 DER for RSA, the
// uncompressed X9.62 point for EC), which is what evmctl puts in signatures.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace attestd::ima {

using PublicKey = std::shared_ptr<EVP_PKEY>;

struct KeyWithId {
  PublicKey key;
  uint32_t keyid = 0;
};

// Reads a public key from DER or PEM: an X.509 certificate, a
// SubjectPublicKeyInfo, or (as Keylime accepts) a private key whose public
// half is kept. RSA and EC only. NotFound when the bytes are no key at all,
// InvalidArgument for a key of another type.
Result<KeyWithId> LoadPublicKey(std::string_view data);

// The key id of a public key (see above). 0 if it cannot be encoded.
uint32_t KeyIdOf(EVP_PKEY* key);

// Keys by id. A later key with the same id replaces the earlier one.
class Keyring {
 public:
  void Add(const KeyWithId& k) { keys_[k.keyid] = k.key; }
  EVP_PKEY* Find(uint32_t keyid) const {
    auto it = keys_.find(keyid);
    return it == keys_.end() ? nullptr : it->second.get();
  }
  size_t size() const { return keys_.size(); }

 private:
  std::unordered_map<uint32_t, PublicKey> keys_;
};

// Why a signature did not verify (kOk when it did).
enum class SigCheck {
  kOk,
  kMalformed,     // not a type-3 (or 5) version-2 header of the right length
  kHashMismatch,  // the header's hash algorithm is not the logged digest's
  kUnknownKey,    // no key with the header's key id
  kBadSignature,  // the key does not verify it
};
const char* SigCheckName(SigCheck c);

// Verifies `sig` (the raw security.ima value) over the file digest `digest`
// computed with `digest_alg` ("sha256"), looking the key up in each of
// `rings` in order. *keyid gets the header's key id when it has one.
SigCheck VerifyImaSignature(std::string_view sig, std::string_view digest,
                            std::string_view digest_alg, const std::vector<const Keyring*>& rings,
                            uint32_t* keyid);

}  // namespace attestd::ima
