// TPM quotes through the whole product: the production verifier registry,
// the HTTP session API and the signed EAR. A session's nonce is quoted by a
// real swtpm and posted as evidence; the session document and the claims of
// its EAR must say what the quote deserves.
#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/log.h"
#include "server/application.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/swtpm.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcrblob.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr char kNew[] = "/challenge-response/v1/newSession";
constexpr char kAgent[] = "0f8c2a1e-5b7d-4c3a-9e6f-112233445566";
constexpr char kQuotedPcrs[] = "sha256:0,16,23";

class TpmSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tpm_ = new testing::Swtpm();
    if (tpm_->ok()) tpm_->Extend(16, "sha256", std::string(64, 'a'));
  }
  static void TearDownTestSuite() {
    delete tpm_;
    tpm_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(tpm_ && tpm_->ok()) << "swtpm did not start";
    SetLogLevel(LogLevel::kOff);
    Config config;
    config.listen = "127.0.0.1:0";
    config.log_level = "off";
    auto app = Application::Create(config);  // the production verifiers
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<HttpClient>(app_->port());
  }
  void TearDown() override {
    client_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  void Enrol(const std::string& key, const std::string& policy = "") {
    Attester a;
    a.ak_tpm = tpm_->AkPublic(key);
    a.tpm_policy = policy;
    a.trusted = true;
    ASSERT_TRUE(app_->stores().attesters->Put(kAgent, a).ok());
  }

  // A session whose evidence is a quote by `key` over `quoted_nonce`
  // (empty: the session's own nonce), posted in `media_type`.
  HttpResponse QuoteSession(const std::string& key, const std::string& media_type,
                            const std::string& quoted_nonce = "") {
    HttpResponse s = client_->Request("POST", kNew);
    EXPECT_EQ(s.status, 201) << s.body;
    std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
    auto q = tpm_->Quote(key, quoted_nonce.empty() ? nonce : quoted_nonce, kQuotedPcrs);
    EXPECT_TRUE(q.has_value());
    if (!q) return {};
    std::string body = media_type == tpm::kEnactTrustType
                           ? testing::EnactTrustEvidence(kAgent, q->attest, q->signature)
                           : testing::QuoteJson(kAgent, q->quote);
    return client_->Request("POST", s.header("location"), {{"Content-Type", media_type}}, body);
  }

  // The TPM submod of the session's EAR.
  static std::string Claim(const HttpResponse& r, const std::string& pointer) {
    std::string jws = *JsonAt(r.body, "/result/ear");
    size_t a = jws.find('.'), b = jws.rfind('.');
    std::string payload = *Base64DecodeAny(jws.substr(a + 1, b - a - 1));
    return JsonAt(payload, "/submods/TPM" + pointer).value_or("<absent>");
  }
  static std::string Trust(const HttpResponse& r, const std::string& claim) {
    return Claim(r, "/ear.trustworthiness-vector/" + claim);
  }

  static std::string PolicyFor16(const std::string& value_hex) {
    return R"({"16":[")" + value_hex + R"("],"mask":"0x10000"})";
  }
  // PCR 16's sha256 value, as the TPM reports it.
  std::string Pcr16() {
    auto q = tpm_->Quote("rsa", "n", "sha256:16");
    EXPECT_TRUE(q.has_value());
    auto blob = tpm::ParsePcrBlob(q->pcrblob);
    EXPECT_TRUE(blob.ok() && blob->values.size() == 1);
    return HexEncode(blob->values.at(0).digest);
  }

  static testing::Swtpm* tpm_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> client_;
};
testing::Swtpm* TpmSessionTest::tpm_ = nullptr;

TEST_F(TpmSessionTest, FreshRsaQuoteIsValidAndAffirmingWithoutPolicy) {
  Enrol("rsa");
  HttpResponse r = QuoteSession("rsa", tpm::kTpmQuoteJsonType);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/state"), "complete");
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "true") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/result/failures/0"), std::nullopt);
  EXPECT_EQ(Claim(r, "/ear.status"), "affirming");
  EXPECT_EQ(Trust(r, "instance-identity"), "2");
  EXPECT_EQ(Trust(r, "hardware"), "2");
  EXPECT_EQ(Trust(r, "executables"), "0");  // no reference values: no claim
}

TEST_F(TpmSessionTest, NonceMismatchIsContraindicatedWithEveryClaim99) {
  Enrol("rsa");
  HttpResponse r = QuoteSession("rsa", tpm::kTpmQuoteJsonType, "some other nonce");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "false");
  EXPECT_EQ(JsonAt(r.body, "/result/failures/0/type"), "quote_validation.nonce");
  EXPECT_EQ(Claim(r, "/ear.status"), "contraindicated");
  for (const char* claim : {"instance-identity", "configuration", "executables", "file-system",
                            "hardware", "runtime-opaque", "storage-opaque", "sourced-data"}) {
    EXPECT_EQ(Trust(r, claim), "99") << claim;
  }
}

TEST_F(TpmSessionTest, PcrPolicyMatchAffirmsAndMismatchIsExecutables33) {
  Enrol("rsa", PolicyFor16(Pcr16()));
  HttpResponse good = QuoteSession("rsa", tpm::kTpmQuoteJsonType);
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(JsonAt(good.body, "/result/is_valid"), "true") << good.body;
  EXPECT_EQ(Trust(good, "executables"), "2");

  Enrol("rsa", PolicyFor16(std::string(64, '0')));
  HttpResponse bad = QuoteSession("rsa", tpm::kTpmQuoteJsonType);
  ASSERT_EQ(bad.status, 200) << bad.body;
  EXPECT_EQ(JsonAt(bad.body, "/result/is_valid"), "false");
  EXPECT_EQ(JsonAt(bad.body, "/result/failures/0/type"), "pcr_validation.invalid_pcr_16");
  EXPECT_EQ(Trust(bad, "executables"), "33");
  EXPECT_EQ(Trust(bad, "hardware"), "2");  // the quote itself was genuine
}

TEST_F(TpmSessionTest, EcdsaQuoteInTheEnactTrustFormIsValid) {
  Enrol("ecc");
  HttpResponse r = QuoteSession("ecc", tpm::kEnactTrustType);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "true") << r.body;
  EXPECT_EQ(Claim(r, "/ear.status"), "affirming");
}

TEST_F(TpmSessionTest, QuoteReplayedIntoANewSessionIsRejected) {
  Enrol("rsa");
  HttpResponse s = client_->Request("POST", kNew);
  std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
  auto q = tpm_->Quote("rsa", nonce, kQuotedPcrs);
  ASSERT_TRUE(q.has_value());
  std::string body = testing::QuoteJson(kAgent, q->quote);
  HttpResponse first = client_->Request("POST", s.header("location"),
                                        {{"Content-Type", tpm::kTpmQuoteJsonType}}, body);
  EXPECT_EQ(JsonAt(first.body, "/result/is_valid"), "true") << first.body;
  HttpResponse again = client_->Request("POST", client_->Request("POST", kNew).header("location"),
                                        {{"Content-Type", tpm::kTpmQuoteJsonType}}, body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(JsonAt(again.body, "/result/is_valid"), "false");
  EXPECT_EQ(JsonAt(again.body, "/result/failures/0/type"), "quote_validation.nonce");
}

// The quote-parts framing is attestd's own (its Keylime routes hand it to
// the registry): a relying party can neither post it nor see it offered.
TEST_F(TpmSessionTest, InternalQuotePartsTypeIsRefusedFromTheNetwork) {
  Enrol("rsa");
  HttpResponse s = client_->Request("POST", kNew);
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_EQ(s.body.find(tpm::kQuotePartsType), std::string::npos) << s.body;
  std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
  auto q = tpm_->Quote("rsa", nonce, kQuotedPcrs);
  ASSERT_TRUE(q.has_value());
  tpm::QuotePartsEvidence parts;
  parts.agent_id = kAgent;
  parts.keylime_quote = q->quote;
  HttpResponse r =
      client_->Request("POST", s.header("location"), {{"Content-Type", tpm::kQuotePartsType}},
                       tpm::EncodeQuoteParts(parts));
  EXPECT_EQ(r.status, 415) << r.body;
  EXPECT_EQ(r.header("accept").find(tpm::kQuotePartsType), std::string::npos);
  // The session is untouched and still takes the public form.
  HttpResponse ok =
      client_->Request("POST", s.header("location"), {{"Content-Type", tpm::kTpmQuoteJsonType}},
                       testing::QuoteJson(kAgent, q->quote));
  EXPECT_EQ(JsonAt(ok.body, "/result/is_valid"), "true") << ok.body;
}

}  // namespace
}  // namespace attestd
