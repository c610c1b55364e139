#include "verifiers/tpm/makecredential.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cstring>

#include "common/openssl_ptr.h"
#include "common/random.h"

namespace attestd::tpm {

namespace {

using KdfFree = OpenSslFree<EVP_KDF_free>;
using KdfCtxFree = OpenSslFree<EVP_KDF_CTX_free>;
using CipherCtxFree = OpenSslFree<EVP_CIPHER_CTX_free>;
using PkeyCtxFree = OpenSslFree<EVP_PKEY_CTX_free>;
using BnFree = OpenSslFree<BN_free>;
using GroupFree = OpenSslFree<EC_GROUP_free>;
using PointFree = OpenSslFree<EC_POINT_free>;
using BldFree = OpenSslFree<OSSL_PARAM_BLD_free>;
using ParamFree = OpenSslFree<OSSL_PARAM_free>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Pkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

const unsigned char* U8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void PutU16(std::string& out, size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

Result<std::string> Hmac(const HashAlg& hash, std::string_view key, std::string_view data) {
  std::string out(hash.size, '\0');
  size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, hash.name, nullptr, key.data(), key.size(), U8(data),
                 data.size(), reinterpret_cast<unsigned char*>(out.data()), out.size(), &len) ||
      len != hash.size) {
    ERR_clear_error();
    return Internal("HMAC failed");
  }
  return out;
}

const EVP_CIPHER* AesCfb(size_t bits) {
  switch (bits) {
    case 128:
      return EVP_aes_128_cfb128();
    case 192:
      return EVP_aes_192_cfb128();
    case 256:
      return EVP_aes_256_cfb128();
    default:
      return nullptr;
  }
}

Result<std::string> AesCfbEncrypt(size_t bits, std::string_view key, std::string_view plain) {
  const EVP_CIPHER* cipher = AesCfb(bits);
  if (!cipher || key.size() * 8 != bits) return Internal("AES-CFB key size");
  unsigned char iv[16] = {0};
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  std::string out(plain.size() + 16, '\0');
  int len = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, U8(key), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, U8(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &tail) !=
          1) {
    ERR_clear_error();
    return Internal("AES-CFB encryption failed");
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

// RSA-OAEP(EK; nameAlg; label "IDENTITY\0") of the seed.
Result<std::string> RsaEncryptSeed(const EkKey& ek, std::string_view seed) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, ek.pkey.get(), nullptr));
  static constexpr char kLabel[] = "IDENTITY";  // sizeof includes the NUL
  unsigned char* label = static_cast<unsigned char*>(OPENSSL_memdup(kLabel, sizeof kLabel));
  if (!ctx || !label || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), ek.name_alg->md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), ek.name_alg->md) != 1) {
    OPENSSL_free(label);
    ERR_clear_error();
    return Internal("RSA-OAEP setup failed");
  }
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof kLabel) != 1) {
    OPENSSL_free(label);
    ERR_clear_error();
    return Internal("RSA-OAEP label refused");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, U8(seed), seed.size()) != 1) {
    ERR_clear_error();
    return Internal("RSA-OAEP sizing failed");
  }
  std::string out(len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, U8(seed),
                       seed.size()) != 1) {
    ERR_clear_error();
    return Internal("RSA-OAEP encryption failed");
  }
  out.resize(len);
  return out;
}

struct EcCurveInfo {
  int nid;
  const char* group;
  size_t bytes;
};

Result<EcCurveInfo> CurveOf(const EkKey& ek) {
  switch (ek.public_area.parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256:
      return EcCurveInfo{NID_X9_62_prime256v1, "P-256", 32};
    case TPM2_ECC_NIST_P384:
      return EcCurveInfo{NID_secp384r1, "P-384", 48};
    default:
      return InvalidArgument("EK curve unsupported");
  }
}

// An EC key pair from a private scalar (the test seam).
Result<Pkey> EcKeyFromPrivate(const EcCurveInfo& curve, std::string_view scalar) {
  std::unique_ptr<EC_GROUP, GroupFree> group(EC_GROUP_new_by_curve_name(curve.nid));
  Bn priv(BN_bin2bn(U8(scalar), static_cast<int>(scalar.size()), nullptr));
  if (!group || !priv) return Internal("EC setup failed");
  std::unique_ptr<EC_POINT, PointFree> pub(EC_POINT_new(group.get()));
  if (!pub || EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, nullptr) != 1) {
    return InvalidArgument("ephemeral private key rejected");
  }
  unsigned char point[1 + 2 * 66];
  size_t plen = EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point,
                                   sizeof point, nullptr);
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (plen == 0 || !bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, plen) != 1) {
    return Internal("OSSL_PARAM_BLD failed");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    ERR_clear_error();
    return Internal("ephemeral key import failed");
  }
  return Pkey(raw);
}

Result<std::string> Coordinate(const EVP_PKEY* key, const char* which, size_t bytes) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &raw) != 1) {
    ERR_clear_error();
    return Internal("EC coordinate unreadable");
  }
  Bn bn(raw);
  std::string out(bytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                   static_cast<int>(bytes)) != static_cast<int>(bytes)) {
    return Internal("EC coordinate too large");
  }
  return out;
}

struct EccSeed {
  std::string seed;
  std::string encrypted_secret;  // marshaled TPMS_ECC_POINT of the ephemeral key
};

Result<EccSeed> EccDeriveSeed(const EkKey& ek, std::string_view fixed_private) {
  auto curve = CurveOf(ek);
  if (!curve.ok()) return curve.status();
  Pkey eph;
  if (!fixed_private.empty()) {
    auto k = EcKeyFromPrivate(*curve, fixed_private);
    if (!k.ok()) return k.status();
    eph = std::move(*k);
  } else {
    eph.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve->group));
    if (!eph) {
      ERR_clear_error();
      return Internal("ephemeral EC key generation failed");
    }
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr));
  size_t zlen = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), ek.pkey.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &zlen) != 1) {
    ERR_clear_error();
    return Internal("ECDH setup failed");
  }
  std::string z(zlen, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(z.data()), &zlen) != 1) {
    ERR_clear_error();
    return Internal("ECDH failed");
  }
  z.resize(zlen);
  auto x = Coordinate(eph.get(), OSSL_PKEY_PARAM_EC_PUB_X, curve->bytes);
  auto y = Coordinate(eph.get(), OSSL_PKEY_PARAM_EC_PUB_Y, curve->bytes);
  if (!x.ok()) return x.status();
  if (!y.ok()) return y.status();
  std::string_view ek_x = Tpm2bView(ek.public_area.unique.ecc.x);
  auto seed = Kdfe(*ek.name_alg, z, "IDENTITY", *x, ek_x, ek.name_alg->size * 8);
  if (!seed.ok()) return seed.status();
  EccSeed out;
  out.seed = std::move(*seed);
  PutU16(out.encrypted_secret, x->size());
  out.encrypted_secret += *x;
  PutU16(out.encrypted_secret, y->size());
  out.encrypted_secret += *y;
  return out;
}

Result<std::string> Build(const EkKey& ek, std::string_view credential,
                          std::string_view object_name, const MakeCredentialSeams* seams) {
  if (!ek.name_alg || !ek.pkey) return InvalidArgument("EK not parsed");
  const HashAlg& hash = *ek.name_alg;
  if (credential.empty() || credential.size() > hash.size) {
    return InvalidArgument("credential must be 1 to nameAlg-digest bytes");
  }
  if (object_name.size() < 2 || object_name.size() > 2 + 64)
    return InvalidArgument("object name size");

  std::string seed, encrypted_secret;
  if (ek.type == TPM2_ALG_RSA) {
    if (seams && !seams->rsa_seed.empty()) {
      if (seams->rsa_seed.size() != hash.size)
        return InvalidArgument("seed must be nameAlg-digest bytes");
      seed = seams->rsa_seed;
    } else {
      auto r = RandomBytes(hash.size);
      if (!r.ok()) return r.status();
      seed = std::move(*r);
    }
    auto enc = RsaEncryptSeed(ek, seed);
    if (!enc.ok()) return enc.status();
    encrypted_secret = std::move(*enc);
  } else if (ek.type == TPM2_ALG_ECC) {
    auto e = EccDeriveSeed(
        ek, seams ? std::string_view(seams->ecc_ephemeral_private) : std::string_view());
    if (!e.ok()) return e.status();
    seed = std::move(e->seed);
    encrypted_secret = std::move(e->encrypted_secret);
  } else {
    return InvalidArgument("EK is neither RSA nor ECC");
  }

  auto sym_key = Kdfa(hash, seed, "STORAGE", object_name, "", ek.symmetric_key_bits);
  if (!sym_key.ok()) return sym_key.status();
  std::string plain;
  PutU16(plain, credential.size());
  plain.append(credential);
  auto enc_identity = AesCfbEncrypt(ek.symmetric_key_bits, *sym_key, plain);
  if (!enc_identity.ok()) return enc_identity.status();
  auto hmac_key = Kdfa(hash, seed, "INTEGRITY", "", "", hash.size * 8);
  if (!hmac_key.ok()) return hmac_key.status();
  std::string hmac_input = *enc_identity;
  hmac_input.append(object_name);
  auto outer_hmac = Hmac(hash, *hmac_key, hmac_input);
  if (!outer_hmac.ok()) return outer_hmac.status();
  OPENSSL_cleanse(seed.data(), seed.size());

  std::string id_object;
  PutU16(id_object, outer_hmac->size());
  id_object += *outer_hmac;
  id_object += *enc_identity;

  std::string out;
  PutU32(out, kCredentialFileMagic);
  PutU32(out, kCredentialFileVersion);
  PutU16(out, id_object.size());
  out += id_object;
  PutU16(out, encrypted_secret.size());
  out += encrypted_secret;
  return out;
}

}  // namespace

Result<std::string> Kdfa(const HashAlg& hash, std::string_view key, std::string_view label,
                         std::string_view context_u, std::string_view context_v, size_t bits) {
  if (bits == 0 || bits % 8 != 0) return InvalidArgument("KDFa output must be whole bytes");
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "KBKDF", nullptr));
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return Internal("KBKDF unavailable");
  std::string context(context_u);
  context.append(context_v);
  std::string mode = "COUNTER", mac = "HMAC", digest = hash.name;
  std::string key_copy(key), label_copy(label);
  OSSL_PARAM params[7];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode.data(), 0);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac.data(), 0);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
  params[n++] =
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key_copy.data(), key_copy.size());
  params[n++] =
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label_copy.data(), label_copy.size());
  if (!context.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context.data(), context.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  std::string out(bits / 8, '\0');
  int ok =
      EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params);
  OPENSSL_cleanse(key_copy.data(), key_copy.size());
  if (ok != 1) {
    ERR_clear_error();
    return Internal("KBKDF derive failed");
  }
  return out;
}

Result<std::string> Kdfe(const HashAlg& hash, std::string_view z, std::string_view label,
                         std::string_view party_u, std::string_view party_v, size_t bits) {
  if (bits == 0 || bits % 8 != 0) return InvalidArgument("KDFe output must be whole bytes");
  std::string out;
  for (uint32_t counter = 1; out.size() < bits / 8; ++counter) {
    std::string input;
    PutU32(input, counter);
    input.append(z);
    input.append(label);
    input.push_back('\0');
    input.append(party_u);
    input.append(party_v);
    out += Digest(hash, input);
    OPENSSL_cleanse(input.data(), input.size());
  }
  out.resize(bits / 8);
  return out;
}

Result<std::string> MakeCredential(const EkKey& ek, std::string_view credential,
                                   std::string_view object_name) {
  return Build(ek, credential, object_name, nullptr);
}

Result<std::string> MakeCredentialForTest(const EkKey& ek, std::string_view credential,
                                          std::string_view object_name,
                                          const MakeCredentialSeams& seams) {
  return Build(ek, credential, object_name, &seams);
}

}  // namespace attestd::tpm
