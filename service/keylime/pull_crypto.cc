#include "service/keylime/pull_crypto.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

#include "common/base64.h"
#include "common/openssl_ptr.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd::keylime {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<EVP_PKEY_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>>;

PkeyPtr ReadKey(std::string_view pem, bool private_key) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  EVP_PKEY* key = private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                              : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  PkeyPtr out(key);
  if (out && EVP_PKEY_get_base_id(out.get()) != EVP_PKEY_RSA) return nullptr;
  return out;
}

}  // namespace

Result<std::string> EncryptToAgent(std::string_view pubkey_pem, std::string_view plaintext) {
  PkeyPtr key = ReadKey(pubkey_pem, false);
  if (!key) return InvalidArgument("the agent's public key is not an RSA public key in PEM");
  CtxPtr ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  size_t size = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &size,
                       reinterpret_cast<const unsigned char*>(plaintext.data()),
                       plaintext.size()) <= 0) {
    return InvalidArgument("cannot encrypt to the agent's public key");
  }
  std::string out(size, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size,
                       reinterpret_cast<const unsigned char*>(plaintext.data()),
                       plaintext.size()) <= 0) {
    return InvalidArgument("cannot encrypt to the agent's public key");
  }
  out.resize(size);
  return out;
}

Result<std::string> SignRevocation(std::string_view key_pem, std::string_view message) {
  PkeyPtr key = ReadKey(key_pem, true);
  if (!key) return InvalidArgument("the revocation key is not an RSA private key in PEM");
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  size_t size = 0;
  if (!md || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_MAX) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
      EVP_DigestSign(md.get(), nullptr, &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) <= 0) {
    return InvalidArgument("cannot sign with the revocation key");
  }
  std::string sig(size, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) <= 0) {
    return InvalidArgument("cannot sign with the revocation key");
  }
  sig.resize(size);
  return Base64Encode(sig);
}

Result<std::string> DataPcrValue(std::string_view hash_alg, std::string_view pubkey_pem) {
  const tpm::HashAlg* alg = tpm::HashAlgByName(hash_alg);
  if (!alg) return InvalidArgument("unknown hash algorithm");
  std::string start(alg->size, '\0');
  return tpm::Digest(*alg, start + tpm::Digest(*alg, pubkey_pem));
}

}  // namespace attestd::keylime
