#include "verifiers/tpm/ak.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstring>

#include "common/openssl_ptr.h"

namespace attestd::tpm {

namespace {

using SigFree = OpenSslFree<ECDSA_SIG_free>;
using BioFree = OpenSslFree<BIO_free>;

Status BuildRsa(const TPMT_PUBLIC& pub, AkKey& key) {
  const TPMS_RSA_PARMS& p = pub.parameters.rsaDetail;
  if (p.keyBits != 2048 && p.keyBits != 3072 && p.keyBits != 4096) {
    return InvalidArgument("RSA keyBits is not 2048, 3072 or 4096");
  }
  auto pkey = RsaKeyFromTpm(pub);
  if (!pkey.ok()) return pkey.status();
  key.pkey = std::move(*pkey);
  key.signature_bytes = p.keyBits / 8;
  key.description = p.keyBits == 2048 ? "rsa2048" : p.keyBits == 3072 ? "rsa3072" : "rsa4096";
  TPM2_ALG_ID s = p.scheme.scheme;
  if (s != TPM2_ALG_NULL && s != TPM2_ALG_RSASSA && s != TPM2_ALG_RSAPSS) {
    return InvalidArgument("RSA AK scheme is not NULL, RSASSA or RSAPSS");
  }
  key.scheme = s;
  if (p.symmetric.algorithm != TPM2_ALG_NULL) {
    return InvalidArgument("a signing key has a symmetric algorithm");
  }
  if (s != TPM2_ALG_NULL) {
    key.scheme_hash = HashAlgById(p.scheme.details.anySig.hashAlg);
    if (!key.scheme_hash) return InvalidArgument("AK scheme hash unsupported");
  }
  return Status::Ok();
}

Status BuildEcc(const TPMT_PUBLIC& pub, AkKey& key) {
  const TPMS_ECC_PARMS& p = pub.parameters.eccDetail;
  auto pkey = EccKeyFromTpm(pub);
  if (!pkey.ok()) return pkey.status();
  const TpmCurve* curve = TpmCurveById(p.curveID);
  key.pkey = std::move(*pkey);
  key.signature_bytes = curve->bytes;
  key.description = curve->description;
  TPM2_ALG_ID s = p.scheme.scheme;
  if (s != TPM2_ALG_NULL && s != TPM2_ALG_ECDSA) {
    return InvalidArgument("ECC AK scheme is not NULL or ECDSA");
  }
  if (p.symmetric.algorithm != TPM2_ALG_NULL || p.kdf.scheme != TPM2_ALG_NULL) {
    return InvalidArgument("a signing key has a symmetric algorithm or a KDF");
  }
  key.scheme = s;
  if (s != TPM2_ALG_NULL) {
    key.scheme_hash = HashAlgById(p.scheme.details.anySig.hashAlg);
    if (!key.scheme_hash) return InvalidArgument("AK scheme hash unsupported");
  }
  return Status::Ok();
}

// The DER ECDSA-Sig-Value for r and s.
Result<std::string> EcdsaDer(const TPMS_SIGNATURE_ECDSA& e, size_t field_bytes) {
  if (e.signatureR.size == 0 || e.signatureS.size == 0 || e.signatureR.size > field_bytes ||
      e.signatureS.size > field_bytes) {
    return InvalidArgument("ECDSA r or s has the wrong size");
  }
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(e.signatureR.buffer, e.signatureR.size, nullptr);
  BIGNUM* s = BN_bin2bn(e.signatureS.buffer, e.signatureS.size, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Internal("ECDSA_SIG allocation failed");
  }
  unsigned char buf[160];  // P-521: 2 x (66 + 3) + 4 < 160
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0 || static_cast<size_t>(len) > sizeof buf) return Internal("i2d_ECDSA_SIG failed");
  unsigned char* p = buf;
  i2d_ECDSA_SIG(sig.get(), &p);
  return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
}

TPMI_ALG_HASH SignatureHash(const TPMT_SIGNATURE& sig) {
  switch (sig.sigAlg) {
    case TPM2_ALG_RSASSA:
      return sig.signature.rsassa.hash;
    case TPM2_ALG_RSAPSS:
      return sig.signature.rsapss.hash;
    case TPM2_ALG_ECDSA:
      return sig.signature.ecdsa.hash;
    default:
      return TPM2_ALG_NULL;
  }
}

}  // namespace

bool AkKey::HasAkAttributes() const {
  uint32_t a = attributes();
  return (a & kAkRequiredAttributes) == kAkRequiredAttributes && (a & TPMA_OBJECT_DECRYPT) == 0;
}

Result<std::shared_ptr<const AkKey>> ParseAk(std::string_view tpm2b_public) {
  auto pub = ParsePublic(tpm2b_public);
  if (!pub.ok()) return pub.status();
  auto key = std::make_shared<AkKey>();
  key->public_area = pub->publicArea;
  key->tpm2b_public = std::string(tpm2b_public);
  key->type = pub->publicArea.type;

  const HashAlg* name_alg = HashAlgById(pub->publicArea.nameAlg);
  if (!name_alg) return InvalidArgument("AK nameAlg unsupported");
  // The name hashes the marshaled TPMT_PUBLIC; re-marshal and insist it is
  // the very bytes we were given, so the name is of what was stored.
  auto area = MarshalPublicArea(pub->publicArea);
  if (!area.ok()) return area.status();
  if (*area != tpm2b_public.substr(2)) return InvalidArgument("AK is not canonically marshaled");
  key->name.push_back(static_cast<char>(name_alg->id >> 8));
  key->name.push_back(static_cast<char>(name_alg->id & 0xff));
  key->name += Digest(*name_alg, *area);

  Status st;
  if (key->type == TPM2_ALG_RSA) {
    st = BuildRsa(pub->publicArea, *key);
  } else if (key->type == TPM2_ALG_ECC) {
    st = BuildEcc(pub->publicArea, *key);
  } else {
    st = InvalidArgument("AK is neither RSA nor ECC");
  }
  if (!st.ok()) return st;
  return std::shared_ptr<const AkKey>(std::move(key));
}

Status CheckSignatureScheme(const AkKey& key, const TPMT_SIGNATURE& sig) {
  bool family_ok = key.type == TPM2_ALG_RSA
                       ? (sig.sigAlg == TPM2_ALG_RSASSA || sig.sigAlg == TPM2_ALG_RSAPSS)
                       : sig.sigAlg == TPM2_ALG_ECDSA;
  if (!family_ok) {
    return InvalidArgument("signature scheme " + AlgName(sig.sigAlg) + " is not one a " +
                           key.description + " AK makes");
  }
  if (key.scheme != TPM2_ALG_NULL && sig.sigAlg != key.scheme) {
    return InvalidArgument("signature scheme " + AlgName(sig.sigAlg) +
                           " differs from the AK's scheme " + AlgName(key.scheme));
  }
  const HashAlg* hash = HashAlgById(SignatureHash(sig));
  if (!hash)
    return InvalidArgument("signature hash " + AlgName(SignatureHash(sig)) + " unsupported");
  if (key.scheme_hash != nullptr && hash != key.scheme_hash) {
    return InvalidArgument("signature hash " + std::string(hash->name) +
                           " differs from the AK's scheme hash " + key.scheme_hash->name);
  }
  return Status::Ok();
}

namespace {

// The key's verification context for (scheme, hash), set up on first use.
// Null if OpenSSL refuses it. The caller holds key.verify_mu.
EVP_PKEY_CTX* PreparedVerifyContext(const AkKey& key, TPM2_ALG_ID scheme, const HashAlg& hash) {
  uint32_t id = (uint32_t{scheme} << 16) | hash.id;
  for (auto& [have, ctx] : key.verify_templates) {
    if (have == id) return ctx.get();
  }
  std::unique_ptr<EVP_PKEY_CTX, AkKey::PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), hash.md) != 1) {
    return nullptr;
  }
  if (scheme == TPM2_ALG_RSAPSS &&
      (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), hash.md) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_AUTO) != 1)) {
    return nullptr;
  }
  key.verify_templates.emplace_back(id, std::move(ctx));
  return key.verify_templates.back().second.get();
}

}  // namespace

Status VerifyQuoteSignature(const AkKey& key, const TPMT_SIGNATURE& sig, std::string_view message) {
  const HashAlg* hash = HashAlgById(SignatureHash(sig));
  if (!hash) return InvalidArgument("signature hash unsupported");
  std::string der;
  std::string_view sig_bytes;
  if (sig.sigAlg == TPM2_ALG_RSASSA || sig.sigAlg == TPM2_ALG_RSAPSS) {
    const TPM2B_PUBLIC_KEY_RSA& s =
        sig.sigAlg == TPM2_ALG_RSASSA ? sig.signature.rsassa.sig : sig.signature.rsapss.sig;
    if (s.size != key.signature_bytes)
      return InvalidArgument("RSA signature length is not the modulus length");
    sig_bytes = Tpm2bView(s);
  } else if (sig.sigAlg == TPM2_ALG_ECDSA) {
    auto d = EcdsaDer(sig.signature.ecdsa, key.signature_bytes);
    if (!d.ok()) return d.status();
    der = std::move(*d);
    sig_bytes = der;
  } else {
    return InvalidArgument("signature scheme unsupported");
  }

  using Ctx = std::unique_ptr<EVP_PKEY_CTX, AkKey::PkeyCtxFree>;
  Ctx ctx;
  {
    std::lock_guard lock(key.verify_mu);
    EVP_PKEY_CTX* prepared = PreparedVerifyContext(key, sig.sigAlg, *hash);
    if (!prepared) return Internal("cannot set up the signature verification");
    ctx.reset(EVP_PKEY_CTX_dup(prepared));
  }
  if (!ctx) return Internal("EVP_PKEY_CTX_dup failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, hash->md, nullptr) != 1) {
    return Internal("EVP_Digest failed");
  }
  int ok = EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(sig_bytes.data()),
                           sig_bytes.size(), digest, digest_len);
  if (ok != 1) {
    ERR_clear_error();  // the thread's error queue outlives this call
    return InvalidArgument("signature does not verify");
  }
  return Status::Ok();
}

Result<std::string> Tpm2bPublicFromPem(std::string_view pem, uint32_t attributes,
                                       TPM2_ALG_ID scheme, TPM2_ALG_ID scheme_hash) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return InvalidArgument("not a PEM public key");
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& a = pub.publicArea;
  if (Status st = FillTpmPublicKey(pkey.get(), &a); !st.ok()) return st;
  a.nameAlg = TPM2_ALG_SHA256;
  a.objectAttributes = attributes;
  if (a.type == TPM2_ALG_RSA) {
    a.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a.parameters.rsaDetail.scheme.scheme = scheme;
    a.parameters.rsaDetail.scheme.details.anySig.hashAlg = scheme_hash;
  } else {
    a.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a.parameters.eccDetail.scheme.scheme = scheme;
    a.parameters.eccDetail.scheme.details.anySig.hashAlg = scheme_hash;
    a.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  }
  std::string out(sizeof(TPM2B_PUBLIC) + 2, '\0');
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                   &offset) != TSS2_RC_SUCCESS) {
    return Internal("TPM2B_PUBLIC does not marshal");
  }
  out.resize(offset);
  return out;
}

}  // namespace attestd::tpm
