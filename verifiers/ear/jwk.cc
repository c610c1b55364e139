#include "verifiers/ear/jwk.h"

#include <openssl/core_names.h>
#include <openssl/sha.h>

#include "common/base64.h"
#include "common/json_writer.h"

namespace attestd {

namespace {

std::string BnParam(EVP_PKEY* key, const char* name, size_t pad_to) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(key, name, &bn)) return "";
  size_t len = pad_to ? pad_to : static_cast<size_t>(BN_num_bytes(bn));
  std::string out(len, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  BN_free(bn);
  return out;
}

std::string CurveName(EVP_PKEY* key) {
  char group[64] = {0};
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len))
    return "";
  std::string g(group, len);
  if (g == "prime256v1" || g == "P-256") return "P-256";
  if (g == "secp384r1" || g == "P-384") return "P-384";
  if (g == "secp521r1" || g == "P-521") return "P-521";
  return "";
}

size_t CoordinateBytes(const std::string& crv) {
  return crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
}

}  // namespace

std::string DefaultJwsAlg(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      std::string crv = CurveName(key);
      return crv == "P-256" ? "ES256" : crv == "P-384" ? "ES384" : crv == "P-521" ? "ES512" : "";
    }
    case EVP_PKEY_RSA:
      return "PS256";
    default:
      return "";
  }
}

Result<PublicJwk> MakePublicJwk(EVP_PKEY* key, std::string_view alg) {
  // RFC 7638: the required members only, in lexicographic order, no spaces.
  JsonWriter required;
  std::string members;  // the same members, to continue the full JWK
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    std::string crv = CurveName(key);
    if (crv.empty()) return InvalidArgument("unsupported EC curve");
    std::string x = Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, CoordinateBytes(crv)));
    std::string y = Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, CoordinateBytes(crv)));
    required.BeginObject()
        .Key("crv")
        .String(crv)
        .Key("kty")
        .String("EC")
        .Key("x")
        .String(x)
        .Key("y")
        .String(y)
        .EndObject();
  } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    std::string e = Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    std::string n = Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    required.BeginObject()
        .Key("e")
        .String(e)
        .Key("kty")
        .String("RSA")
        .Key("n")
        .String(n)
        .EndObject();
  } else {
    return InvalidArgument("result signing keys must be EC or RSA");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(required.str().data()), required.str().size(),
         digest);
  PublicJwk out;
  out.kid = Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
  // Extend the canonical object with alg, kid and use.
  std::string json = required.str();
  json.pop_back();
  JsonWriter extra;
  extra.BeginObject()
      .Key("alg")
      .String(alg)
      .Key("kid")
      .String(out.kid)
      .Key("use")
      .String("sig")
      .EndObject();
  out.json = json + "," + extra.str().substr(1);
  return out;
}

}  // namespace attestd
