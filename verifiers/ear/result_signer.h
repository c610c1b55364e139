// ResultSigner: turns an Appraisal into a signed EAR (draft-ietf-rats-ear),
// a compact JWS a relying party can verify without having watched the
// appraisal, with the key published at /.well-known/jwks.json.
//
// Signing uses OpenSSL EVP with the key parsed once at start-up. (Debian's
// libjwt 1.10 re-parses the PEM key for every token: 850 µs per ES256 EAR
// against 40 µs here, see tests/bench/ear_sign_bench.cc; the tests use
// libjwt as an independent verifier instead.)
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/appraisal.h"
#include "common/status.h"

namespace attestd {

class JsonWriter;
// Writes the vector as EAR's "ear.trustworthiness-vector" object.
void WriteTrustVector(JsonWriter& w, const TrustVector& t);

struct ResultSignerOptions {
  std::string key_path;           // PEM private key; empty: an ephemeral P-256 key
  std::string previous_key_path;  // PEM (public or private) of the key being rotated out
  std::string build = std::string("attestd ") + ATTESTD_VERSION;
  std::string developer = "attestd";
};

class ResultSigner {
 public:
  // kInvalidArgument naming the file when a key cannot be read or is of an
  // unsupported type.
  static Result<std::shared_ptr<ResultSigner>> Create(const ResultSignerOptions& options);
  ~ResultSigner();

  // The EAR claims set for an appraisal of `scheme` evidence over `nonce`.
  std::string Claims(const Appraisal& a, std::string_view nonce, int64_t iat) const;

  // Compact JWS (header.payload.signature) of Claims(). Thread-safe.
  Result<std::string> Sign(const Appraisal& a, std::string_view nonce, int64_t iat) const;

  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  bool ephemeral() const { return ephemeral_; }
  // The current public key as a JWK (with alg and kid).
  const std::string& jwk() const { return jwk_; }
  // {"keys":[current, previous]} (previous only when configured).
  const std::string& jwks() const { return jwks_; }

 private:
  ResultSigner() = default;
  // The raw JWS signature of `signing_input` (r‖s for ECDSA).
  Result<std::string> SignatureOver(const std::string& signing_input) const;

  EVP_PKEY* key_ = nullptr;
  std::string alg_, kid_, jwk_, jwks_;
  bool ephemeral_ = false;
  ResultSignerOptions options_;
};

}  // namespace attestd
