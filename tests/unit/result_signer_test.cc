// The EAR signer's tokens checked by an independent JWS implementation
// (libjwt's verifier) for ES256/ES384, and by EVP_DigestVerify for PS256.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fstream>

#include "common/base64.h"
#include "common/value_json.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "verifiers/ear/result_signer.h"

namespace attestd {
namespace {

using testing::JsonAt;

struct KeyFiles {
  std::string private_path, public_pem;
};

KeyFiles WriteKey(EVP_PKEY* key, const std::string& dir, const std::string& name) {
  KeyFiles k{dir + "/" + name + ".pem", ""};
  FILE* f = std::fopen(k.private_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data;
  long len = BIO_get_mem_data(bio, &data);
  k.public_pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return k;
}

Appraisal Sample() {
  Appraisal a;
  a.is_valid = true;
  a.claims = ParseValueJson(R"({"agent_id":"x"})").value();
  a.trust.hardware = 2;
  a.trust.instance_identity = 2;
  return a;
}

bool LibjwtVerifies(const std::string& token, const std::string& public_pem) {
  jwt_t* jwt = nullptr;
  int rc =
      jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(public_pem.data()),
                 static_cast<int>(public_pem.size()));
  if (jwt) jwt_free(jwt);
  return rc == 0;
}

class ResultSignerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ResultSignerTest, LibjwtVerifiesAndRejectsTampering) {
  testing::TempDir dir;
  std::string curve = GetParam();
  KeyFiles k = WriteKey(EVP_EC_gen(curve.c_str()), dir.path(), "k");
  auto signer = ResultSigner::Create({k.private_path, "", "b", "d"});
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ((*signer)->alg(), curve == "P-256" ? "ES256" : "ES384");
  auto token = (*signer)->Sign(Sample(), "12345678", 1700000000);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(LibjwtVerifies(*token, k.public_pem));
  std::string tampered = *token;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE(LibjwtVerifies(tampered, k.public_pem));
  // Another key does not verify it.
  KeyFiles other = WriteKey(EVP_EC_gen(curve.c_str()), dir.path(), "o");
  EXPECT_FALSE(LibjwtVerifies(*token, other.public_pem));
}

INSTANTIATE_TEST_SUITE_P(Curves, ResultSignerTest, ::testing::Values("P-256", "P-384"));

TEST(ResultSigner, Ps256VerifiesWithRsaPss) {
  testing::TempDir dir;
  KeyFiles k = WriteKey(EVP_RSA_gen(2048), dir.path(), "rsa");
  auto signer = ResultSigner::Create({k.private_path, "", "b", "d"});
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ((*signer)->alg(), "PS256");
  std::string token = *(*signer)->Sign(Sample(), "12345678", 1);
  size_t dot = token.rfind('.');
  std::string input = token.substr(0, dot), sig = *Base64DecodeAny(token.substr(dot + 1));
  BIO* bio = BIO_new_mem_buf(k.public_pem.data(), static_cast<int>(k.public_pem.size()));
  EVP_PKEY* pub = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, pub);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
}

TEST(ResultSigner, KidIsTheRfc7638Thumbprint) {
  // RFC 7638 §3.1's example key and thumbprint.
  testing::TempDir dir;
  std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCi"
      "FV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
      "FDW2QvzqY368QQMicAtaSqzs8KJZg"
      "nYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
      "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIq"
      "bw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
  std::string der_n = *Base64DecodeAny(n);
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(der_n.data()),
                           static_cast<int>(der_n.size()), nullptr);
  BIGNUM* bn_e = BN_new();
  BN_set_word(bn_e, 65537);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pub = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  std::string path = dir.path() + "/prev.pem";
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PUBKEY(f, pub);
  std::fclose(f);
  EVP_PKEY_free(pub);
  auto signer = ResultSigner::Create({"", path, "b", "d"});
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_TRUE((*signer)->ephemeral());
  EXPECT_EQ(JsonAt((*signer)->jwks(), "/keys/1/kid"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(ResultSigner, RejectsUnreadableAndUnsupportedKeys) {
  testing::TempDir dir;
  EXPECT_FALSE(ResultSigner::Create({dir.path() + "/none.pem", "", "b", "d"}).ok());
  std::ofstream(dir.path() + "/junk.pem") << "not a key";
  auto r = ResultSigner::Create({dir.path() + "/junk.pem", "", "b", "d"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--result-key"), std::string::npos);
}

}  // namespace
}  // namespace attestd
