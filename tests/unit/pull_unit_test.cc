// The pull model's pieces without a network: the agent answers as parsed,
// Keylime's retry times, the data PCR value, the revocation message and
// its signature, and the new options.
#include <gtest/gtest.h>

#include "api/keylime/agent_client.h"
#include "common/base64.h"
#include "server/config.h"
#include "service/keylime/pull_crypto.h"
#include "service/keylime/revocation_notifier.h"
#include "tests/support/json.h"
#include "tests/support/pull_agent.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {
namespace {

using api::keylime::ParseQuoteAnswer;
using api::keylime::ParseVersionAnswer;
using testing::JsonAt;

TEST(PullAgentAnswers, QuoteAnswerAsThePythonAndRustAgentsSendIt) {
  auto q = ParseQuoteAnswer(
      R"({"code": 200, "status": "Success", "results": {"quote": "rAA:BB:CC", "hash_alg": "sha256",
          "enc_alg": "rsa", "sign_alg": "rsassa", "pubkey": "PEM", "boottime": 1700000000,
          "ima_measurement_list": "10 aa ima-ng", "ima_measurement_list_entry": 5,
          "mb_measurement_list": null}})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->quote, "rAA:BB:CC");
  EXPECT_EQ(q->hash_alg, "sha256");
  EXPECT_EQ(q->enc_alg, "rsa");
  EXPECT_EQ(q->sign_alg, "rsassa");
  EXPECT_EQ(q->pubkey, "PEM");
  EXPECT_EQ(q->boottime, 1700000000);
  EXPECT_EQ(q->ima_measurement_list, std::optional<std::string>("10 aa ima-ng"));
  EXPECT_EQ(q->ima_measurement_list_entry, 5);
  EXPECT_FALSE(q->mb_measurement_list.has_value());
  // Partial: no pubkey.
  q = ParseQuoteAnswer(
      R"({"results": {"quote": "r", "hash_alg": "sha1", "enc_alg": "ecc", "sign_alg": "ecdsa"}})");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->pubkey.empty());
}

TEST(PullAgentAnswers, MalformedQuoteAnswersAreRefused) {
  for (const char* bad : {"", "[]", "{", R"({"results": 1})", R"({"results": {}})",
                          R"({"results": {"quote": 1, "hash_alg": "sha256", "enc_alg": "rsa",
                              "sign_alg": "rsassa"}})",
                          R"({"results": {"quote": "r", "hash_alg": "sha256", "enc_alg": "rsa"}})",
                          R"({"results": {"quote": "r", "hash_alg": "sha256", "enc_alg": "rsa",
                              "sign_alg": "rsassa", "pubkey": 5}})"}) {
    EXPECT_EQ(ParseQuoteAnswer(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PullAgentAnswers, VersionAnswerOldAndNewForms) {
  auto v = ParseVersionAnswer(R"({"results": {"supported_version": "2.1"}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::vector<std::string>{"2.1"});
  v = ParseVersionAnswer(R"({"results": {"supported_versions": ["2.1", "2.2"]}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<std::string>{"2.1", "2.2"}));
  EXPECT_FALSE(ParseVersionAnswer(R"({"results": {}})").ok());
  EXPECT_FALSE(ParseVersionAnswer("nonsense").ok());
}

TEST(PullRetry, KeylimeRetryTime) {
  EXPECT_DOUBLE_EQ(RetryTime(true, 2.0, 3), 8.0);
  EXPECT_DOUBLE_EQ(RetryTime(true, 2.0, 0), 1.0);
  EXPECT_DOUBLE_EQ(RetryTime(true, 0.5, 3), 0.5);  // a base of 1 or less does not grow
  EXPECT_DOUBLE_EQ(RetryTime(false, 2.0, 3), 2.0);
}

TEST(PullCrypto, DataPcrIsOneExtendOfTheKeyDigest) {
  const tpm::HashAlg* sha256 = tpm::HashAlgByName("sha256");
  std::string pem = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n";
  auto v = keylime::DataPcrValue("sha256", pem);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, tpm::Digest(*sha256, std::string(32, '\0') + tpm::Digest(*sha256, pem)));
  EXPECT_FALSE(keylime::DataPcrValue("md5", pem).ok());
}

TEST(PullCrypto, EncryptToAgentNeedsAnRsaKey) {
  auto [priv, pub] = testing::NewRsaKey();
  auto c = keylime::EncryptToAgent(pub, std::string(32, 'v'));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 256u);  // RSA-2048
  EXPECT_FALSE(keylime::EncryptToAgent("not a key", "v").ok());
  EXPECT_FALSE(keylime::EncryptToAgent(priv, "v").ok());  // a private key is not a public one
}

TEST(PullRevocation, MessageIsKeylimesAndSignedWithTheRevocationKey) {
  auto [priv, pub] = testing::NewRsaKey();
  Revocation r;
  r.agent_id = "a1";
  r.ip = "10.0.0.1";
  r.port = 9002;
  r.tpm_policy = R"({"mask": "0x0"})";
  r.meta_data = "{}";
  r.event_time = "Sun Dec  6 23:00:00 2026";
  r.event_id = "pcr_validation.invalid_pcr_23";
  r.severity_label = "emergency";
  r.context = Value::MakeMap({{"pcr", 23}});
  r.signing_key = priv;
  auto body = api::keylime::RevocationBody(r);
  ASSERT_TRUE(body.ok());
  std::string msg = JsonAt(*body, "/msg").value_or("");
  EXPECT_EQ(JsonAt(msg, "/type"), "revocation");
  EXPECT_EQ(JsonAt(msg, "/agent_id"), "a1");
  EXPECT_EQ(JsonAt(msg, "/ip"), "10.0.0.1");
  EXPECT_EQ(JsonAt(msg, "/port"), "9002");
  EXPECT_EQ(JsonAt(msg, "/tpm_policy"), r.tpm_policy);
  EXPECT_EQ(JsonAt(msg, "/meta_data"), "{}");
  EXPECT_EQ(JsonAt(msg, "/event_id"), r.event_id);
  EXPECT_EQ(JsonAt(msg, "/severity_label"), "emergency");
  EXPECT_EQ(JsonAt(msg, "/context"), R"({"pcr":23})");
  EXPECT_TRUE(testing::RsaPssVerify(pub, msg, JsonAt(*body, "/signature").value_or("")));
  // Unsigned without a key; a bad key is an error.
  r.signing_key.clear();
  EXPECT_EQ(JsonAt(*api::keylime::RevocationBody(r), "/signature"), "");
  r.signing_key = "junk";
  EXPECT_FALSE(api::keylime::RevocationBody(r).ok());
}

Result<ParsedConfig> Parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"attestd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(PullConfig, OptionsAndTheirChecks) {
  auto c = Parse({"--verifier-id", "v7", "--max-retries", "3", "--retry-interval", "1.5",
                  "--exponential-backoff", "false", "--revocation-notifiers", "webhook,agent",
                  "--webhook-url", "http://127.0.0.1:9/x"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->config.verifier_id, "v7");
  EXPECT_EQ(c->config.max_retries, 3);
  EXPECT_DOUBLE_EQ(c->config.retry_interval_s, 1.5);
  EXPECT_FALSE(c->config.exponential_backoff);
  EXPECT_FALSE(Parse({"--revocation-notifiers", "webhook"}).ok());  // no URL
  EXPECT_FALSE(Parse({"--revocation-notifiers", "zeromq"}).ok());
  EXPECT_FALSE(Parse({"--max-retries", "-1"}).ok());
  EXPECT_FALSE(Parse({"--agent-client-cert", "x.pem"}).ok());  // without its key
  EXPECT_EQ(Parse({})->config.pull_concurrency, 1000);
  EXPECT_EQ(Parse({"--pull-concurrency", "64"})->config.pull_concurrency, 64);
  EXPECT_FALSE(Parse({"--pull-concurrency", "0"}).ok());
}

}  // namespace
}  // namespace attestd
