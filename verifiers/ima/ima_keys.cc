#include "verifiers/ima/ima_keys.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/openssl_ptr.h"
#include "verifiers/ima/ima_hash.h"

namespace attestd::ima {
namespace {

using Pkey = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using Bio = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<EVP_PKEY_CTX_free>>;

Bio MemBio(std::string_view d) {
  return Bio(BIO_new_mem_buf(d.data(), static_cast<int>(d.size())));
}

// A certificate in DER or PEM; its public key and SKID-derived key id.
bool FromCertificate(std::string_view data, Pkey* key, uint32_t* keyid) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  if (!cert) {
    Bio bio = MemBio(data);
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!cert) return false;
  key->reset(X509_get_pubkey(cert.get()));
  if (!*key) return false;
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert.get());
  *keyid = 0;
  if (skid != nullptr && ASN1_STRING_length(skid) >= 4) {
    const unsigned char* s = ASN1_STRING_get0_data(skid) + ASN1_STRING_length(skid) - 4;
    *keyid = static_cast<uint32_t>(s[0]) << 24 | s[1] << 16 | s[2] << 8 | s[3];
  }
  return true;
}

Pkey FromKey(std::string_view data) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  Pkey k(d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size())));
  if (k) return k;
  Bio bio = MemBio(data);
  k.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (k) return k;
  p = reinterpret_cast<const unsigned char*>(data.data());
  k.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size())));
  if (k) return k;
  bio = MemBio(data);
  // An empty passphrase callback: an encrypted key is refused, never prompted for.
  k.reset(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  return k;
}

}  // namespace

uint32_t KeyIdOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  // RSA: the PKCS#1 RSAPublicKey; EC: the encoded (uncompressed) point.
  int len = i2d_PublicKey(key, &der);
  if (len <= 0) return 0;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  return static_cast<uint32_t>(md[16]) << 24 | md[17] << 16 | md[18] << 8 | md[19];
}

Result<KeyWithId> LoadPublicKey(std::string_view data) {
  Pkey key;
  uint32_t keyid = 0;
  if (!FromCertificate(data, &key, &keyid)) key = FromKey(data);
  // The parsers that did not recognise the bytes left errors on this
  // thread's OpenSSL queue; they are expected, and must not reach later code.
  ERR_clear_error();
  if (!key) return NotFound("not a key or certificate");
  int type = EVP_PKEY_get_base_id(key.get());
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
    return InvalidArgument("unsupported key type (RSA or EC only)");
  }
  if (keyid == 0) keyid = KeyIdOf(key.get());
  return KeyWithId{PublicKey(key.release(), EVP_PKEY_free), keyid};
}

const char* SigCheckName(SigCheck c) {
  switch (c) {
    case SigCheck::kOk:
      return "valid";
    case SigCheck::kMalformed:
      return "malformed signature";
    case SigCheck::kHashMismatch:
      return "signature hash algorithm differs from the file digest's";
    case SigCheck::kUnknownKey:
      return "no key with the signature's key id";
    case SigCheck::kBadSignature:
      return "signature does not verify";
  }
  return "?";
}

SigCheck VerifyImaSignature(std::string_view sig, std::string_view digest,
                            std::string_view digest_alg, const std::vector<const Keyring*>& rings,
                            uint32_t* keyid) {
  // struct signature_v2_hdr: type, version, hash_algo, keyid (BE32), sig_size (BE16).
  constexpr size_t kHdr = 9;
  const auto* b = reinterpret_cast<const uint8_t*>(sig.data());
  if (sig.size() < kHdr || (b[0] != 3 && b[0] != 5) || b[1] != 2) return SigCheck::kMalformed;
  *keyid = static_cast<uint32_t>(b[3]) << 24 | b[4] << 16 | b[5] << 8 | b[6];
  size_t sig_size = static_cast<size_t>(b[7]) << 8 | b[8];
  if (kHdr + sig_size != sig.size()) return SigCheck::kMalformed;
  const HashAlgo* alg = HashAlgoByKernelId(b[2]);
  if (alg == nullptr || digest_alg != alg->name || digest.size() != alg->size) {
    return SigCheck::kHashMismatch;
  }
  EVP_PKEY* key = nullptr;
  for (const Keyring* r : rings) {
    if ((key = r->Find(*keyid)) != nullptr) break;
  }
  if (key == nullptr) return SigCheck::kUnknownKey;
  PkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), alg->md) != 1) {
    return SigCheck::kBadSignature;
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
    return SigCheck::kBadSignature;
  }
  int ok = EVP_PKEY_verify(ctx.get(), b + kHdr, sig_size,
                           reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
  if (ok != 1) ERR_clear_error();  // a bad signature is an answer, not an error to keep

  return ok == 1 ? SigCheck::kOk : SigCheck::kBadSignature;
}

}  // namespace attestd::ima
