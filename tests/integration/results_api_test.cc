// Signed results (EAR), discovery, JWKS rotation, Veraison-client mode and
// metrics, over loopback HTTP. EARs are verified by the openssl command line
// with a public key the test rebuilds from the published JWK.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <sys/wait.h>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common/base64.h"
#include "common/log.h"
#include "server/application.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/test_verifiers.h"
#include "tests/support/tpm_evidence.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr char kNew[] = "/challenge-response/v1/newSession";

std::string RunCommand(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int status = ::pclose(f);
  if (rc) *rc = WEXITSTATUS(status);
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A PEM public key built from an EC JWK with OpenSSL's parameter API: an
// independent path from the server's (which goes from the key to the JWK).
std::string PemFromEcJwk(const std::string& jwk) {
  std::string crv = *JsonAt(jwk, "/crv");
  std::string x = *Base64DecodeAny(*JsonAt(jwk, "/x"));
  std::string y = *Base64DecodeAny(*JsonAt(jwk, "/y"));
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                  crv == "P-256" ? "prime256v1" : "secp384r1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pem;
}

// JOSE ECDSA signatures are r‖s; openssl dgst wants DER.
std::string DerFromJoseSignature(const std::string& rs) {
  size_t half = rs.size() / 2;
  return testing::EcdsaDer(std::string_view(rs).substr(0, half), std::string_view(rs).substr(half));
}

class ResultsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    config_.listen = "127.0.0.1:0";
    config_.log_level = "off";
  }
  void TearDown() override {
    client_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }
  void StartServer() {
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
    auto app = Application::Create(config_, testing::MakeTestRegistry());
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<HttpClient>(app_->port());
  }
  // A completed session's document; `valid` picks the evidence.
  HttpResponse CompleteSession(bool valid) {
    HttpResponse s = client_->Request("POST", kNew);
    std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
    std::string loc = s.header("location");
    if (loc.rfind("session/", 0) == 0) loc = "/challenge-response/v1/" + loc;
    return client_->Request("POST", loc, {{"Content-Type", testing::kEchoType}},
                            valid ? nonce : "nope");
  }
  // openssl dgst's verdict on a compact ES256 JWS with a PEM public key.
  bool OpensslVerifies(const std::string& jws, const std::string& pem) {
    size_t dot = jws.rfind('.');
    WriteFile(dir_.path() + "/input", jws.substr(0, dot));
    WriteFile(dir_.path() + "/sig.der",
              DerFromJoseSignature(*Base64DecodeAny(jws.substr(dot + 1))));
    WriteFile(dir_.path() + "/pub.pem", pem);
    int rc = -1;
    std::string out =
        RunCommand("openssl dgst -sha256 -verify " + dir_.path() + "/pub.pem -signature " +
                       dir_.path() + "/sig.der " + dir_.path() + "/input",
                   &rc);
    return rc == 0 && out.find("Verified OK") != std::string::npos;
  }
  std::string Payload(const std::string& jws) {
    size_t a = jws.find('.'), b = jws.rfind('.');
    return *Base64DecodeAny(jws.substr(a + 1, b - a - 1));
  }

  testing::TempDir dir_;
  Config config_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ResultsApiTest, EarVerifiesWithTheDiscoveryKeyAndTamperingFails) {
  StartServer();
  HttpResponse d = client_->Request("GET", "/.well-known/veraison/verification");
  std::string jwk = *JsonAt(d.body, "/ear-verification-key");
  EXPECT_EQ(JsonAt(jwk, "/alg"), "ES256");
  EXPECT_FALSE(JsonAt(jwk, "/kid")->empty());
  std::string pem = PemFromEcJwk(jwk);

  HttpResponse r = CompleteSession(true);
  std::string jws = *JsonAt(r.body, "/result/ear");
  EXPECT_TRUE(OpensslVerifies(jws, pem));
  // One byte of the payload changed: the signature no longer verifies.
  std::string tampered = jws;
  size_t i = tampered.find('.') + 5;
  tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(OpensslVerifies(tampered, pem));
  // The header names the key.
  std::string header = *Base64DecodeAny(jws.substr(0, jws.find('.')));
  EXPECT_EQ(JsonAt(header, "/kid"), JsonAt(jwk, "/kid"));
  EXPECT_EQ(JsonAt(header, "/alg"), "ES256");
}

TEST_F(ResultsApiTest, ReadmeScriptVerifiesWithOpensslCommandLine) {
  StartServer();
  std::string jwk = *JsonAt(client_->Request("GET", "/.well-known/veraison/verification").body,
                            "/ear-verification-key");
  std::string jws = *JsonAt(CompleteSession(true).body, "/result/ear");
  WriteFile(dir_.path() + "/jwk.json", jwk);
  WriteFile(dir_.path() + "/ear.jws", jws);
  std::string script = std::string(ATTESTD_SOURCE_DIR) + "/scripts/verify-ear.sh ";
  int rc = -1;
  std::string out = RunCommand(script + dir_.path() + "/ear.jws " + dir_.path() + "/jwk.json", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Verified OK"), std::string::npos) << out;
  EXPECT_NE(out.find("\"ear.status\":\"affirming\""), std::string::npos) << out;
  std::string tampered = jws;
  tampered[tampered.find('.') + 8] ^= 1;
  WriteFile(dir_.path() + "/ear.jws", tampered);
  RunCommand(script + dir_.path() + "/ear.jws " + dir_.path() + "/jwk.json", &rc);
  EXPECT_NE(rc, 0);
}

TEST_F(ResultsApiTest, EarClaimsMatchTheAppraisal) {
  StartServer();
  HttpResponse good = CompleteSession(true);
  std::string p = Payload(*JsonAt(good.body, "/result/ear"));
  EXPECT_EQ(JsonAt(p, "/eat_profile"), "tag:github.com,2023:veraison/ear");
  EXPECT_EQ(JsonAt(p, "/ear.verifier-id/developer"), "attestd");
  EXPECT_EQ(JsonAt(p, "/submods/TPM/ear.status"), "affirming");
  EXPECT_EQ(JsonAt(p, "/submods/TPM/ear.trustworthiness-vector/hardware"), "2");
  EXPECT_EQ(JsonAt(p, "/submods/TPM/ear.veraison.annotated-evidence/echo"), "true");
  std::string nonce = *Base64DecodeAny(*JsonAt(good.body, "/nonce"));
  EXPECT_EQ(JsonAt(p, "/eat_nonce"), Base64UrlEncode(nonce));
  int64_t iat = std::stoll(*JsonAt(p, "/iat"));
  EXPECT_NEAR(static_cast<double>(iat), static_cast<double>(time(nullptr)), 5);

  HttpResponse bad = CompleteSession(false);
  std::string q = Payload(*JsonAt(bad.body, "/result/ear"));
  EXPECT_EQ(JsonAt(q, "/submods/TPM/ear.status"), "contraindicated");
}

TEST_F(ResultsApiTest, ResultsSignedWithThePreviousKeyStillVerifyAgainstJwks) {
  std::string old_key = dir_.path() + "/old.pem", new_key = dir_.path() + "/new.pem";
  RunCommand("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + old_key);
  RunCommand("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + new_key);
  config_.result_key = old_key;
  StartServer();
  std::string old_jws = *JsonAt(CompleteSession(true).body, "/result/ear");
  std::string old_kid = *JsonAt(*Base64DecodeAny(old_jws.substr(0, old_jws.find('.'))), "/kid");

  config_.result_key = new_key;
  config_.result_key_previous = old_key;
  StartServer();
  std::string jwks = client_->Request("GET", "/.well-known/jwks.json").body;
  ASSERT_TRUE(JsonAt(jwks, "/keys/1").has_value());
  EXPECT_NE(JsonAt(jwks, "/keys/0/kid"), JsonAt(jwks, "/keys/1/kid"));
  // Find the key the old result names, and verify with it.
  std::string match;
  for (int i = 0; i < 2; ++i) {
    std::string k = *JsonAt(jwks, "/keys/" + std::to_string(i));
    if (JsonAt(k, "/kid") == old_kid) match = k;
  }
  ASSERT_FALSE(match.empty());
  EXPECT_TRUE(OpensslVerifies(old_jws, PemFromEcJwk(match)));
  // New results are signed with the new (first) key.
  std::string new_jws = *JsonAt(CompleteSession(true).body, "/result/ear");
  EXPECT_TRUE(OpensslVerifies(new_jws, PemFromEcJwk(*JsonAt(jwks, "/keys/0"))));
  EXPECT_FALSE(OpensslVerifies(new_jws, PemFromEcJwk(match)));
}

TEST_F(ResultsApiTest, UnreadableResultKeyStopsStartup) {
  config_.result_key = dir_.path() + "/missing.pem";
  auto app = Application::Create(config_, testing::MakeTestRegistry());
  ASSERT_FALSE(app.ok());
  EXPECT_NE(app.status().message().find("--result-key"), std::string::npos);
}

TEST_F(ResultsApiTest, VeraisonModeDocumentsAreWhatVeraisonClientsParse) {
  config_.session_format = "veraison";
  StartServer();
  HttpResponse s = client_->Request("POST", kNew);
  ASSERT_EQ(s.status, 201);
  std::string loc = s.header("location");
  EXPECT_EQ(loc.rfind("session/", 0), 0u);  // relative, as Veraison answers
  EXPECT_EQ(JsonAt(s.body, "/status"), "waiting");
  EXPECT_FALSE(JsonAt(s.body, "/state").has_value());
  std::string nonce_text = *JsonAt(s.body, "/nonce");
  EXPECT_EQ(nonce_text.find_first_of("+/="), std::string::npos);
  std::string nonce = *Base64DecodeAny(nonce_text);
  EXPECT_EQ(Base64UrlEncode(nonce), nonce_text);
  HttpResponse r = client_->Request("POST", "/challenge-response/v1/" + loc,
                                    {{"Content-Type", testing::kEchoType}}, nonce);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonAt(r.body, "/status"), "complete");
  std::string result = *JsonAt(r.body, "/result");
  // `result` is the compact JWS string itself.
  EXPECT_EQ(std::count(result.begin(), result.end(), '.'), 2);
  EXPECT_EQ(JsonAt(Payload(result), "/submods/TPM/ear.status"), "affirming");
}

// Strict parse of the Prometheus text format 0.0.4: every line is a comment
// (# HELP / # TYPE) or `name{labels} value`; every sample's family has a TYPE.
std::map<std::string, double> ParseExposition(const std::string& text, std::string* error) {
  static const std::regex kHelp(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
  std::map<std::string, double> out;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kType)) {
      typed.insert(m[1]);
    } else if (std::regex_match(line, kHelp)) {
    } else if (std::regex_match(line, m, kSample)) {
      std::string name = m[1];
      std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
      if (!typed.count(name) && !typed.count(family)) *error = "sample before its TYPE: " + line;
      std::string value = line.substr(line.rfind(' ') + 1);
      out[line.substr(0, line.rfind(' '))] = value == "+Inf" ? INFINITY : std::stod(value);
    } else {
      *error = "malformed line: " + line;
    }
  }
  if (text.empty() || text.back() != '\n') *error = "exposition must end with a newline";
  return out;
}

TEST_F(ResultsApiTest, MetricsMoveByExactlyTheRequestsMade) {
  StartServer();
  std::string error;
  auto before = ParseExposition(client_->Request("GET", "/metrics").body, &error);
  ASSERT_EQ(error, "");
  CompleteSession(true);
  CompleteSession(false);
  client_->Request("GET", "/challenge-response/v1/session/not-a-uuid");
  HttpResponse text = client_->Request("GET", "/metrics");
  EXPECT_EQ(text.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  auto after = ParseExposition(text.body, &error);
  ASSERT_EQ(error, "");
  auto delta = [&](const std::string& k) { return after[k] - before[k]; };
  const std::string cr = "listener=\"challenge-response\",route=";
  EXPECT_EQ(delta("attestd_http_requests_total{" + cr +
                  "\"/challenge-response/v1/newSession\",status=\"201\"}"),
            2);
  EXPECT_EQ(delta("attestd_http_requests_total{" + cr +
                  "\"/challenge-response/v1/session/:id\",status=\"200\"}"),
            2);
  EXPECT_EQ(delta("attestd_http_requests_total{" + cr +
                  "\"/challenge-response/v1/session/:id\",status=\"400\"}"),
            1);
  EXPECT_EQ(delta("attestd_http_requests_total{" + cr + "\"/metrics\",status=\"200\"}"), 1);
  EXPECT_EQ(delta("attestd_http_request_duration_seconds_count{" + cr +
                  "\"/challenge-response/v1/newSession\"}"),
            2);
  EXPECT_EQ(delta("attestd_sessions_created_total"), 2);
  EXPECT_EQ(delta("attestd_sessions_completed_total"), 2);
  std::string mt = std::string("media_type=\"") + testing::kEchoType + "\"";
  EXPECT_EQ(delta("attestd_appraisals_total{" + mt + ",outcome=\"valid\"}"), 1);
  EXPECT_EQ(delta("attestd_appraisals_total{" + mt + ",outcome=\"invalid\"}"), 1);
  EXPECT_EQ(delta("attestd_appraisal_duration_seconds_count{" + mt + "}"), 2);
  EXPECT_TRUE(after.count("attestd_queue_depth"));
}

}  // namespace
}  // namespace attestd
