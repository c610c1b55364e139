#include "verifiers/tpm/public_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <cstring>
#include <string>
#include <string_view>

#include "common/openssl_ptr.h"

namespace attestd::tpm {

namespace {

using BnFree = OpenSslFree<BN_free>;
using BldFree = OpenSslFree<OSSL_PARAM_BLD_free>;
using ParamFree = OpenSslFree<OSSL_PARAM_free>;
using CtxFree = OpenSslFree<EVP_PKEY_CTX_free>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

constexpr TpmCurve kCurves[] = {
    {TPM2_ECC_NIST_P256, "P-256", 32, "ecc-p256"},
    {TPM2_ECC_NIST_P384, "P-384", 48, "ecc-p384"},
    {TPM2_ECC_NIST_P521, "P-521", 66, "ecc-p521"},
};

// OpenSSL reports either the NIST or the SECG/X9.62 name of a curve.
const TpmCurve* CurveByGroup(std::string_view group) {
  if (group == "prime256v1") group = "P-256";
  if (group == "secp384r1") group = "P-384";
  if (group == "secp521r1") group = "P-521";
  for (const TpmCurve& c : kCurves) {
    if (group == c.group) return &c;
  }
  return nullptr;
}

Result<Pkey> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return Internal("OSSL_PARAM_BLD_to_param failed");
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return InvalidArgument("OpenSSL refuses the public key");
  }
  return Pkey(raw);
}

Bn GetBn(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return nullptr;
  return Bn(bn);
}

Status FillRsa(const EVP_PKEY* key, TPMT_PUBLIC* pub) {
  Bn n = GetBn(key, OSSL_PKEY_PARAM_RSA_N);
  Bn e = GetBn(key, OSSL_PKEY_PARAM_RSA_E);
  if (!n || !e) return InvalidArgument("RSA key without n or e");
  int bits = BN_num_bits(n.get());
  if (bits % 8 != 0 || bits / 8 > static_cast<int>(sizeof pub->unique.rsa.buffer) ||
      BN_num_bits(e.get()) > 32) {
    return InvalidArgument("RSA key does not fit a TPM2B_PUBLIC");
  }
  pub->type = TPM2_ALG_RSA;
  pub->parameters.rsaDetail.keyBits = static_cast<TPMI_RSA_KEY_BITS>(bits);
  BN_ULONG exponent = BN_get_word(e.get());
  pub->parameters.rsaDetail.exponent = exponent == 65537 ? 0 : static_cast<UINT32>(exponent);
  pub->unique.rsa.size = static_cast<UINT16>(bits / 8);
  BN_bn2binpad(n.get(), pub->unique.rsa.buffer, bits / 8);
  return Status::Ok();
}

Status FillEcc(const EVP_PKEY* key, TPMT_PUBLIC* pub) {
  char group[64] = {0};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &length) != 1) {
    return InvalidArgument("EC key without a named curve");
  }
  const TpmCurve* curve = CurveByGroup(std::string_view(group, length));
  if (!curve) return InvalidArgument("EC key not on P-256, P-384 or P-521");
  // Coordinates rather than the encoded point: a certificate may carry it
  // compressed.
  Bn x = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_X);
  Bn y = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_Y);
  int width = static_cast<int>(curve->bytes);
  if (!x || !y || BN_bn2binpad(x.get(), pub->unique.ecc.x.buffer, width) != width ||
      BN_bn2binpad(y.get(), pub->unique.ecc.y.buffer, width) != width) {
    return InvalidArgument("EC public point unreadable");
  }
  pub->type = TPM2_ALG_ECC;
  pub->parameters.eccDetail.curveID = curve->id;
  pub->unique.ecc.x.size = static_cast<UINT16>(curve->bytes);
  pub->unique.ecc.y.size = static_cast<UINT16>(curve->bytes);
  return Status::Ok();
}

}  // namespace

const TpmCurve* TpmCurveById(TPM2_ECC_CURVE id) {
  for (const TpmCurve& c : kCurves) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

Result<Pkey> RsaKeyFromTpm(const TPMT_PUBLIC& pub) {
  const TPMS_RSA_PARMS& p = pub.parameters.rsaDetail;
  size_t bytes = p.keyBits / 8;
  if (p.keyBits == 0 || p.keyBits % 8 != 0 || pub.unique.rsa.size != bytes) {
    return InvalidArgument("RSA modulus length is not keyBits");
  }
  Bn n(BN_bin2bn(pub.unique.rsa.buffer, static_cast<int>(bytes), nullptr));
  Bn e(BN_new());
  if (!n || !e || BN_set_word(e.get(), p.exponent == 0 ? 65537 : p.exponent) != 1) {
    return Internal("BIGNUM allocation failed");
  }
  if (BN_num_bits(n.get()) != static_cast<int>(p.keyBits) || !BN_is_odd(n.get())) {
    return InvalidArgument("RSA modulus is not a keyBits-long odd number");
  }
  if (!BN_is_odd(e.get()) || BN_is_one(e.get())) return InvalidArgument("RSA exponent invalid");
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return Internal("OSSL_PARAM_BLD failed");
  }
  return FromParams("RSA", bld.get());
}

Result<Pkey> EccKeyFromTpm(const TPMT_PUBLIC& pub) {
  const TpmCurve* curve = TpmCurveById(pub.parameters.eccDetail.curveID);
  if (!curve) return InvalidArgument("ECC curve is not P-256, P-384 or P-521");
  const TPM2B_ECC_PARAMETER& x = pub.unique.ecc.x;
  const TPM2B_ECC_PARAMETER& y = pub.unique.ecc.y;
  if (x.size == 0 || y.size == 0 || x.size > curve->bytes || y.size > curve->bytes) {
    return InvalidArgument("ECC point coordinates have the wrong size");
  }
  // Uncompressed SEC1 point, coordinates left-padded to the field size.
  std::string point(1 + 2 * curve->bytes, '\0');
  point[0] = 0x04;
  std::memcpy(point.data() + 1 + curve->bytes - x.size, x.buffer, x.size);
  std::memcpy(point.data() + 1 + 2 * curve->bytes - y.size, y.buffer, y.size);
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Internal("OSSL_PARAM_BLD failed");
  }
  auto pkey = FromParams("EC", bld.get());
  if (!pkey.ok()) return InvalidArgument("ECC point is not on the curve");
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    return InvalidArgument("ECC point is not on the curve");
  }
  return pkey;
}

Status FillTpmPublicKey(const EVP_PKEY* key, TPMT_PUBLIC* pub) {
  if (EVP_PKEY_is_a(key, "RSA")) return FillRsa(key, pub);
  if (EVP_PKEY_is_a(key, "EC")) return FillEcc(key, pub);
  return InvalidArgument("key is neither RSA nor EC");
}

}  // namespace attestd::tpm
