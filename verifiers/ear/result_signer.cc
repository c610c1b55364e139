#include "verifiers/ear/result_signer.h"

#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <memory>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/value_json.h"
#include "verifiers/ear/jwk.h"

namespace attestd {

namespace {

EVP_PKEY* ReadKeyFile(const std::string& path, bool allow_public) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  if (!key && allow_public) {
    std::rewind(f);
    key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  }
  std::fclose(f);
  return key;
}

}  // namespace

ResultSigner::~ResultSigner() { EVP_PKEY_free(key_); }

Result<std::shared_ptr<ResultSigner>> ResultSigner::Create(const ResultSignerOptions& options) {
  std::shared_ptr<ResultSigner> s(new ResultSigner());
  s->options_ = options;
  if (options.key_path.empty()) {
    s->key_ = EVP_EC_gen("P-256");
    s->ephemeral_ = true;
    if (!s->key_) return Internal("cannot generate an ephemeral P-256 key");
  } else {
    s->key_ = ReadKeyFile(options.key_path, false);
    if (!s->key_)
      return InvalidArgument("--result-key: cannot read a PEM private key from '" +
                             options.key_path + "'");
  }
  s->alg_ = DefaultJwsAlg(s->key_);
  if (s->alg_.empty() || s->alg_ == "ES512") {
    return InvalidArgument("--result-key: want an EC P-256, EC P-384 or RSA key");
  }
  auto jwk = MakePublicJwk(s->key_, s->alg_);
  if (!jwk.ok()) return jwk.status();
  s->jwk_ = jwk->json;
  s->kid_ = jwk->kid;
  std::string keys = s->jwk_;
  if (!options.previous_key_path.empty()) {
    EVP_PKEY* prev = ReadKeyFile(options.previous_key_path, true);
    if (!prev) {
      return InvalidArgument("--result-key-previous: cannot read a PEM key from '" +
                             options.previous_key_path + "'");
    }
    auto prev_jwk = MakePublicJwk(prev, DefaultJwsAlg(prev));
    EVP_PKEY_free(prev);
    if (!prev_jwk.ok()) return prev_jwk.status();
    keys += "," + prev_jwk->json;
  }
  s->jwks_ = "{\"keys\":[" + keys + "]}";
  return s;
}

void WriteTrustVector(JsonWriter& w, const TrustVector& t) {
  w.BeginObject();
  w.Key("instance-identity").Int(t.instance_identity);
  w.Key("configuration").Int(t.configuration);
  w.Key("executables").Int(t.executables);
  w.Key("file-system").Int(t.file_system);
  w.Key("hardware").Int(t.hardware);
  w.Key("runtime-opaque").Int(t.runtime_opaque);
  w.Key("storage-opaque").Int(t.storage_opaque);
  w.Key("sourced-data").Int(t.sourced_data);
  w.EndObject();
}

std::string ResultSigner::Claims(const Appraisal& a, std::string_view nonce, int64_t iat) const {
  JsonWriter w;
  w.BeginObject();
  w.Key("eat_profile").String("tag:github.com,2023:veraison/ear");
  w.Key("iat").Int(iat);
  w.Key("ear.verifier-id").BeginObject();
  w.Key("build").String(options_.build);
  w.Key("developer").String(options_.developer);
  w.EndObject();
  w.Key("eat_nonce").String(Base64UrlEncode(nonce));
  w.Key("submods").BeginObject().Key(a.scheme).BeginObject();
  w.Key("ear.status").String(EarStatusName(WorstStatus(a.trust)));
  w.Key("ear.trustworthiness-vector");
  WriteTrustVector(w, a.trust);
  w.Key("ear.appraisal-policy-id")
      .String(a.policy_id.empty() ? "policy:attestd/" + a.scheme : a.policy_id);
  // Veraison's name for the verifier's own claims, so its tools show them.
  w.Key("ear.veraison.annotated-evidence");
  WriteValue(w, a.claims);
  w.EndObject().EndObject();
  w.EndObject();
  return w.Take();
}

Result<std::string> ResultSigner::Sign(const Appraisal& a, std::string_view nonce,
                                       int64_t iat) const {
  JsonWriter h;
  h.BeginObject()
      .Key("alg")
      .String(alg_)
      .Key("kid")
      .String(kid_)
      .Key("typ")
      .String("JWT")
      .EndObject();
  std::string input = Base64UrlEncode(h.str()) + "." + Base64UrlEncode(Claims(a, nonce, iat));
  auto sig = SignatureOver(input);
  if (!sig.ok()) return sig.status();
  return input + "." + Base64UrlEncode(*sig);
}

Result<std::string> ResultSigner::SignatureOver(const std::string& input) const {
  bool rsa = alg_ == "PS256";
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = alg_ == "ES384" ? EVP_sha384() : EVP_sha256();
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key_) != 1) {
    return Internal("openssl: cannot set up " + alg_);
  }
  if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return Internal("openssl: cannot set up PS256");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
    return Internal("openssl: sign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1) {
    return Internal("openssl: sign failed");
  }
  sig.resize(len);
  if (rsa) return sig;
  // ECDSA: OpenSSL gives DER; JWS wants r and s as fixed-width big-endian.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  std::unique_ptr<ECDSA_SIG, void (*)(ECDSA_SIG*)> ec(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  if (!ec) return Internal("openssl: malformed ECDSA signature");
  int width = alg_ == "ES384" ? 48 : 32;
  std::string rs(static_cast<size_t>(2 * width), '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(ec.get()), reinterpret_cast<unsigned char*>(rs.data()), width);
  BN_bn2binpad(ECDSA_SIG_get0_s(ec.get()), reinterpret_cast<unsigned char*>(rs.data()) + width,
               width);
  return rs;
}

}  // namespace attestd
