// The Keylime-compatible verifier end to end: an in-process attestd whose
// verifier listener uses the CA it generates under --data-dir (mTLS, as
// Keylime's tenant always speaks to it), requests shaped as the contract's
// "What real Keylime clients send" says (no Content-Type on POST, the body's
// code read instead of the HTTP status), against the memory store and a
// real redis-server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "server/application.h"
#include "service/keylime/keylime_rules.h"
#include "store/redis/redis_agent_store.h"
#include "tests/support/boot_log.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/push_agent.h"
#include "tests/support/swtpm.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/ak.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

testing::TlsClientOptions TenantTls(const TlsMaterial& tls) {
  return {tls.ca_cert, tls.client_cert, tls.client_key};
}

Config BaseConfig(const std::string& data_dir) {
  Config config;
  config.listen = "127.0.0.1:0";
  config.verifier_listen = "127.0.0.1:0";
  config.data_dir = data_dir;
  config.threads = 2;
  config.workers = 1;
  config.log_level = "off";
  config.verifier_mode = "push";  // most tests here drive push agents
  return config;
}

// ---------------------------------------------------------------------------
// The listener: mTLS with generated material, or plain HTTP when asked.

TEST(VerifierListener, GeneratedCaClientCertificatePerRoute) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  Config config = BaseConfig(data.path() + "/data");
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  const TlsMaterial tls = (*app)->verifier_tls();
  for (const std::string& f :
       {tls.ca_cert, tls.server_cert, tls.server_key, tls.client_cert, tls.client_key}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  HttpClient tenant((*app)->verifier_port(), TenantTls(tls));
  // Push mode (BaseConfig's): /version is gone, in the envelope
  // (VersionProbes reads it in pull mode).
  HttpResponse r = tenant.Request("GET", "/version");
  ASSERT_EQ(r.status, 410) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/code"), "410");
  // Unknown routes keep the envelope.
  r = tenant.Request("GET", "/v2.6/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonAt(r.body, "/code"), "404");

  // No client certificate: the handshake succeeds (push agents have none)
  // and each route decides, as Keylime's verifier: the tenant's admin
  // routes answer 403 in the envelope; versions, verify/* and the push
  // routes are open (the push routes then want their bearer token).
  HttpClient anonymous((*app)->verifier_port(), testing::TlsClientOptions{tls.ca_cert, "", ""});
  anonymous.set_timeout_ms(2000);
  EXPECT_EQ(anonymous.Request("GET", "/version").status, 410);
  EXPECT_EQ(anonymous.Request("GET", "/versions").status, 410);
  EXPECT_EQ(anonymous.Request("GET", "/v3.0/").status, 200);
  for (auto [method, path] : {std::pair{"GET", "/v2.6/agents/"},
                              {"GET", "/v2.6/agents/a1"},
                              {"POST", "/v2.6/agents/a1"},
                              {"DELETE", "/v2.6/agents/a1"},
                              {"PUT", "/v2.6/agents/a1/stop"},
                              {"PUT", "/v2.6/agents/a1/reactivate"},
                              {"GET", "/v2.6/allowlists/"},
                              {"POST", "/v2.6/allowlists/p1"},
                              {"GET", "/v2.6/mbpolicies/p1"}}) {
    r = anonymous.Request(method, path, {}, "{}");
    EXPECT_EQ(r.status, 403) << method << " " << path;
    EXPECT_EQ(JsonAt(r.body, "/code"), "403") << method << " " << path;
  }
  EXPECT_EQ(anonymous.Request("GET", "/v2.6/verify/identity?agent_uuid=a1").status, 400);
  EXPECT_EQ(anonymous.Request("POST", "/v2.6/verify/evidence", {}, "{}").status, 400);
  r = anonymous.Request("POST", "/v3.0/sessions", {}, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(JsonAt(r.body, "/errors/0/status"), "400");
  EXPECT_EQ(anonymous.Request("POST", "/v3.0/agents/a1/attestations", {}, "{}").status, 404);
  // With the tenant's certificate the admin routes answer.
  EXPECT_EQ(tenant.Request("GET", "/v2.6/agents/").status, 200);
  // A client certificate of another CA: no answer either.
  testing::TempDir other;
  auto foreign = EnsureTlsMaterial(other.path(), "verifier", {});
  ASSERT_TRUE(foreign.ok());
  HttpClient stranger(
      (*app)->verifier_port(),
      testing::TlsClientOptions{tls.ca_cert, foreign->client_cert, foreign->client_key});
  stranger.set_timeout_ms(2000);
  EXPECT_EQ(stranger.Request("GET", "/version").status, 0);
  // Plain HTTP to the TLS port gets nothing useful.
  HttpClient plain((*app)->verifier_port());
  plain.set_timeout_ms(2000);
  EXPECT_NE(plain.Request("GET", "/version").status, 200);

  std::string ca_before = Slurp(tls.ca_cert);
  std::string client_before = Slurp(tls.client_cert);
  (*app)->Shutdown(std::chrono::milliseconds(1000));
  // A second start reuses the CA and the tenant's client certificate.
  auto again = Application::Create(config);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp((*again)->verifier_tls().ca_cert), ca_before);
  EXPECT_EQ(Slurp((*again)->verifier_tls().client_cert), client_before);
}

TEST(VerifierListener, GivenCertificatesAndInsecureMode) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  auto given = EnsureTlsMaterial(data.path() + "/given", "verifier", {"127.0.0.1"});
  ASSERT_TRUE(given.ok());
  Config config = BaseConfig(data.path() + "/data");
  config.verifier_tls_cert = given->server_cert;
  config.verifier_tls_key = given->server_key;
  config.verifier_tls_ca = given->ca_cert;
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  HttpClient tenant((*app)->verifier_port(), TenantTls(*given));
  EXPECT_EQ(tenant.Request("GET", "/v3.0/").status, 200);
  (*app)->Shutdown(std::chrono::milliseconds(1000));

  Config insecure = BaseConfig(data.path() + "/data2");
  insecure.insecure_verifier = true;
  auto plain_app = Application::Create(insecure);
  ASSERT_TRUE(plain_app.ok()) << plain_app.status().ToString();
  ASSERT_TRUE((*plain_app)->Start().ok());
  HttpClient plain((*plain_app)->verifier_port());
  EXPECT_EQ(plain.Request("GET", "/v3.0/").status, 200);
}

TEST(VerifierListener, OffUnlessConfigured) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  Config config = BaseConfig(data.path() + "/data");
  config.verifier_listen = "none";
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok());
  ASSERT_TRUE((*app)->Start().ok());
  EXPECT_EQ((*app)->verifier_port(), 0);
}

// ---------------------------------------------------------------------------
// The v2 routes as Keylime's tenant uses them, over mTLS.

constexpr char kTpmQuoteType[] = "application/vnd.attestd.tpm2-quote+json";
const std::string kZeros(64, '0');
const std::string kOnes(64, 'f');

// A verifier POST body as Keylime's tenant 7.14 sends it for `add
// --push-model` (no cloudagent address, JSON documents as strings).
struct TenantBody {
  std::string ak_tpm;  // raw TPM2B_PUBLIC
  std::string tpm_policy = "{\"mask\": \"0x0\"}";
  std::optional<std::string> runtime_policy_name;
  std::string runtime_policy;
  std::optional<std::string> cloudagent_ip;
  std::optional<int> cloudagent_port;

  std::string Json() const {
    JsonWriter w;
    w.BeginObject();
    w.Key("v").Null();
    w.Key("cloudagent_ip");
    cloudagent_ip ? w.String(*cloudagent_ip) : w.Null();
    w.Key("cloudagent_port");
    cloudagent_port ? w.Int(*cloudagent_port) : w.Null();
    w.Key("tpm_policy").String(tpm_policy);
    w.Key("runtime_policy").String(runtime_policy);
    w.Key("runtime_policy_name");
    runtime_policy_name ? w.String(*runtime_policy_name) : w.Null();
    w.Key("runtime_policy_key").Null();
    w.Key("mb_policy").Null();
    w.Key("mb_policy_name").Null();
    w.Key("ima_sign_verification_keys").String("[]");
    w.Key("metadata").String("{}");
    w.Key("revocation_key").String("");
    w.Key("accept_tpm_hash_algs")
        .BeginArray()
        .String("sha512")
        .String("sha384")
        .String("sha256")
        .EndArray();
    w.Key("accept_tpm_encryption_algs").BeginArray().String("ecc").String("rsa").EndArray();
    w.Key("accept_tpm_signing_algs").BeginArray().String("ecschnorr").String("rsassa").EndArray();
    w.Key("ak_tpm").String(Base64Encode(ak_tpm));
    w.Key("mtls_cert").Null();
    w.Key("supported_version").String("2.6");
    w.EndObject();
    return w.Take();
  }
};

class VerifierApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { tpm_ = new testing::Swtpm(); }
  static void TearDownTestSuite() {
    delete tpm_;
    tpm_ = nullptr;
  }

  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    ASSERT_TRUE(tpm_ && tpm_->ok()) << "swtpm did not start";
    config_ = BaseConfig(data_.path() + "/data");
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config_.store = redis_->url();
    }
    auto app = Application::Create(config_);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    tenant_ = std::make_unique<HttpClient>(app_->verifier_port(), TenantTls(app_->verifier_tls()));
    sessions_ = std::make_unique<HttpClient>(app_->port());
  }

  void TearDown() override {
    tenant_.reset();
    sessions_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  // What the tenant does: the HTTP status and the body's code must agree.
  // The same store and TLS material, the verifier now in pull mode.
  void RestartInPullMode() {
    app_->Shutdown(std::chrono::milliseconds(1000));
    config_.verifier_mode = "pull";
    auto app = Application::Create(config_);
    ASSERT_TRUE(app.ok());
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    tenant_ = std::make_unique<HttpClient>(app_->verifier_port(), TenantTls(app_->verifier_tls()));
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpResponse r = tenant_->Request(method, target, {}, body);
    if (r.status != 204) {
      EXPECT_EQ(JsonAt(r.body, "/code"), std::to_string(r.status))
          << method << " " << target << ": " << r.body;
    }
    return r;
  }

  // The swtpm's sha256 PCR `pcr` now, as lower-case hex.
  static std::string PcrNow(int pcr) {
    auto q = tpm_->Quote("rsa", "n0nce123", "sha256:" + std::to_string(pcr));
    if (!q) return "";
    return HexEncode(q->pcrblob.substr(132 + 4 + 4 + 2, 32));
  }

  // A challenge-response session over a fresh quote of PCRs 0 and 23 by
  // the swtpm's rsa AK, naming `agent`; the session document.
  HttpResponse QuoteSession(const std::string& agent) {
    HttpResponse s = sessions_->Request("POST", "/challenge-response/v1/newSession");
    EXPECT_EQ(s.status, 201) << s.body;
    std::string nonce = Base64DecodeStd(JsonAt(s.body, "/nonce").value_or("")).value_or("");
    auto q = tpm_->Quote("rsa", nonce, "sha256:0,23");
    EXPECT_TRUE(q.has_value());
    return sessions_->Request("POST", s.header("location"), {{"Content-Type", kTpmQuoteType}},
                              testing::QuoteJson(agent, q ? q->quote : "", "sha256"));
  }

  std::vector<std::string> FailureTypesOf(const std::string& body, const std::string& at) {
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      auto t = JsonAt(body, at + "/" + std::to_string(i) + "/type");
      if (!t) return out;
      out.push_back(*t);
    }
  }

  static testing::Swtpm* tpm_;
  testing::TempDir data_;
  Config config_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> tenant_;
  std::unique_ptr<HttpClient> sessions_;
};

testing::Swtpm* VerifierApiTest::tpm_ = nullptr;

TEST_P(VerifierApiTest, TenantEnrolsQueriesAndDeletesAPushAgent) {
  TenantBody body;
  body.ak_tpm = tpm_->AkPublic("rsa");
  std::string pcr23 = PcrNow(23);
  ASSERT_EQ(pcr23.size(), 64u);
  body.tpm_policy = "{\"23\": [\"" + pcr23 + "\"], \"mask\": \"0x800000\"}";
  EXPECT_EQ(Call("GET", "/v2.6/agents/agent-1").status, 404);
  HttpResponse r = Call("POST", "/v2.6/agents/agent-1", body.Json());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("POST", "/v2.6/agents/agent-1", body.Json()).status, 409);

  r = Call("GET", "/v2.6/agents/agent-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/operational_state"), "3");
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_status"), "PENDING");
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_count"), "0");
  EXPECT_EQ(JsonAt(r.body, "/results/tpm_policy"), body.tpm_policy);
  EXPECT_EQ(JsonAt(r.body, "/results/meta_data"), "{}");
  EXPECT_EQ(JsonAt(r.body, "/results/ip"), "null");
  EXPECT_EQ(JsonAt(r.body, "/results/port"), "null");
  EXPECT_EQ(JsonAt(r.body, "/results/has_runtime_policy"), "0");
  EXPECT_EQ(JsonAt(r.body, "/results/has_mb_refstate"), "0");
  EXPECT_EQ(JsonAt(r.body, "/results/accept_tpm_hash_algs"), R"(["sha512","sha384","sha256"])");
  EXPECT_EQ(JsonAt(r.body, "/results/accept_tpm_signing_algs"), R"(["ecschnorr","rsassa"])");
  EXPECT_EQ(JsonAt(r.body, "/results/verifier_ip"), "127.0.0.1");
  EXPECT_EQ(JsonAt(r.body, "/results/verifier_port"), std::to_string(app_->verifier_port()));
  EXPECT_EQ(JsonAt(r.body, "/results/severity_level"), "null");
  EXPECT_EQ(JsonAt(r.body, "/results/last_event_id"), "null");
  for (const char* f :
       {"v", "hash_alg", "enc_alg", "sign_alg", "verifier_id", "last_received_quote",
        "last_successful_attestation", "attestation_period", "maximum_attestation_interval"}) {
    EXPECT_TRUE(JsonAt(r.body, std::string("/results/") + f).has_value()) << f;
  }
  // Keylime's nested list shape; a trailing slash is optional.
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/").body, "/results/uuids"), R"([["agent-1"]])");
  EXPECT_EQ(JsonAt(Call("GET", "/v2.1/agents").body, "/results/uuids"), R"([["agent-1"]])");

  // Enrolment put the AK and tpm_policy in the attester directory: a
  // challenge-response session naming the agent is appraised with them.
  HttpResponse s = QuoteSession("agent-1");
  EXPECT_EQ(JsonAt(s.body, "/result/is_valid"), "true") << s.body;
  ASSERT_TRUE(tpm_->Extend(23, "sha256", kOnes));
  s = QuoteSession("agent-1");
  EXPECT_EQ(JsonAt(s.body, "/result/is_valid"), "false");
  EXPECT_EQ(FailureTypesOf(s.body, "/result/failures"),
            std::vector<std::string>{"pcr_validation.invalid_pcr_23"});

  // stop / reactivate
  EXPECT_EQ(Call("PUT", "/v2.6/agents/agent-1/stop").status, 200);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/agent-1").body, "/results/operational_state"), "10");
  EXPECT_EQ(Call("PUT", "/v2.6/agents/agent-1/reactivate").status, 200);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/agent-1").body, "/results/operational_state"), "3");
  EXPECT_EQ(Call("PUT", "/v2.6/agents/nobody/stop").status, 404);
  EXPECT_EQ(Call("PUT", "/v2.6/agents/nobody/reactivate").status, 404);

  EXPECT_EQ(Call("DELETE", "/v2.6/agents/agent-1").status, 200);
  EXPECT_EQ(Call("DELETE", "/v2.6/agents/agent-1").status, 404);
  EXPECT_EQ(Call("GET", "/v2.6/agents/agent-1").status, 404);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents").body, "/results/uuids"), "[]");
  // Deleted: the directory no longer vouches for the AK.
  s = QuoteSession("agent-1");
  EXPECT_EQ(FailureTypesOf(s.body, "/result/failures"),
            std::vector<std::string>{"identity.unknown_attester"});
}

// The verifier's mode decides, not the address the tenant copies from the
// registrar: in push mode an agent with an address is a push agent, in pull
// mode one without an address is a pull agent.
TEST_P(VerifierApiTest, VerifierModeDecidesPushOrPull) {
  TenantBody with_address;
  with_address.ak_tpm = tpm_->AkPublic("ecc");
  with_address.cloudagent_ip = "10.0.0.5";
  with_address.cloudagent_port = 9002;
  ASSERT_EQ(Call("POST", "/v2.6/agents/push-addr", with_address.Json()).status, 200);
  HttpResponse r = Call("GET", "/v2.6/agents/push-addr");
  EXPECT_EQ(JsonAt(r.body, "/results/operational_state"), "3");
  EXPECT_EQ(JsonAt(r.body, "/results/push_model"), "true");

  ASSERT_NO_FATAL_FAILURE(RestartInPullMode());
  TenantBody no_address;
  no_address.ak_tpm = tpm_->AkPublic("ecc");
  ASSERT_EQ(Call("POST", "/v2.6/agents/pull-bare", no_address.Json()).status, 200);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/pull-bare").body, "/results/operational_state"), "1");
}

TEST_P(VerifierApiTest, PullAgentStartsInStart) {
  ASSERT_NO_FATAL_FAILURE(RestartInPullMode());
  TenantBody body;
  body.ak_tpm = tpm_->AkPublic("ecc");
  body.cloudagent_ip = "10.0.0.5";
  body.cloudagent_port = 9002;
  ASSERT_EQ(Call("POST", "/v2.1/agents/pull-1", body.Json()).status, 200);
  HttpResponse r = Call("GET", "/v2.1/agents/pull-1");
  EXPECT_EQ(JsonAt(r.body, "/results/operational_state"), "1");
  EXPECT_EQ(JsonAt(r.body, "/results/ip"), "10.0.0.5");
  EXPECT_EQ(JsonAt(r.body, "/results/port"), "9002");
}

// GET /agents/?bulk (the tenant's bulkinfo) and ?verifier=<id>, shaped as
// Keylime's: status documents keyed by id, or the id list of one verifier.
TEST_P(VerifierApiTest, BulkAndVerifierListings) {
  TenantBody body;
  body.ak_tpm = tpm_->AkPublic("rsa");
  ASSERT_EQ(Call("POST", "/v2.6/agents/bulk-1", body.Json()).status, 200);
  ASSERT_EQ(Call("POST", "/v2.6/agents/bulk-2", body.Json()).status, 200);
  HttpResponse r = Call("GET", "/v2.6/agents/?bulk");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/bulk-1/operational_state"), "3");
  EXPECT_EQ(JsonAt(r.body, "/results/bulk-2/attestation_status"), "PENDING");
  EXPECT_FALSE(JsonAt(r.body, "/results/uuids").has_value());
  r = Call("GET", "/v2.6/agents/?bulk=True&verifier=default");
  EXPECT_TRUE(JsonAt(r.body, "/results/bulk-1/tpm_policy").has_value()) << r.body;
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/?bulk=True&verifier=other").body, "/results"), "{}");
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/?verifier=default").body, "/results/uuids"),
            R"([["bulk-1"],["bulk-2"]])");
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/?verifier=other").body, "/results/uuids"), "[]");
}

// The AK is compared as a key: the TPM2B_PUBLIC the tenant enrolled and the
// bare TPMT_PUBLIC the Rust agent offers are the same key; others are not.
TEST_P(VerifierApiTest, AkComparedAsAKey) {
  const std::string rsa = tpm_->AkPublic("rsa"), ecc = tpm_->AkPublic("ecc");
  EXPECT_TRUE(keylime::SameAk(rsa, rsa.substr(2)));
  EXPECT_TRUE(keylime::SameAk(ecc.substr(2), ecc));
  EXPECT_TRUE(keylime::SameAk(rsa.substr(2), rsa.substr(2)));
  EXPECT_FALSE(keylime::SameAk(rsa, ecc.substr(2)));
  EXPECT_FALSE(keylime::SameAk(rsa, tpm_->AkPublic("rsapss")));
  EXPECT_FALSE(keylime::SameAk(rsa, "garbage"));
  EXPECT_FALSE(keylime::SameAk("", ""));
}

// GET /versions as /version; GET /v3[.0]/ is the v3 probe; other roots 404.
TEST_P(VerifierApiTest, VersionProbes) {
  // Push mode (this fixture's): /version(s) is gone, as on Keylime's
  // verifier; v3 clients probe the version's root.
  for (const char* path : {"/version", "/versions"}) {
    HttpResponse gone = Call("GET", path);
    EXPECT_EQ(gone.status, 410) << path;
    EXPECT_EQ(JsonAt(gone.body, "/code"), "410") << gone.body;
  }
  EXPECT_EQ(Call("GET", "/v3.0/").status, 200);
  EXPECT_EQ(Call("GET", "/v3").status, 200);
  EXPECT_EQ(Call("GET", "/v3.1/").status, 404);
  EXPECT_EQ(Call("GET", "/v2.6/").status, 404);

  ASSERT_NO_FATAL_FAILURE(RestartInPullMode());
  HttpResponse r = Call("GET", "/versions");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonAt(r.body, "/code"), "200");
  EXPECT_EQ(JsonAt(r.body, "/results/current_version"), "2.6");
  EXPECT_EQ(JsonAt(r.body, "/results/supported_versions"),
            R"(["2.0","2.1","2.2","2.3","2.4","2.5","2.6","3.0"])");
  EXPECT_EQ(Call("GET", "/version").status, 200);
}

TEST_P(VerifierApiTest, BadEnrolmentsAre400AndStoreNothing) {
  TenantBody good;
  good.ak_tpm = tpm_->AkPublic("rsa");
  const std::string body = good.Json();
  auto with = [&](const std::string& key, const std::string& value_json) {
    // Replace one member of the tenant's body (or add it).
    JsonWriter w;
    std::string out = body;
    std::string needle = "\"" + key + "\":";
    size_t at = out.find(needle);
    if (at == std::string::npos)
      return out.substr(0, out.size() - 1) + "," + needle + value_json + "}";
    size_t start = at + needle.size();
    size_t depth = 0, end = start;
    bool in_string = false;
    for (; end < out.size(); ++end) {
      char c = out[end];
      if (in_string) {
        if (c == '\\')
          ++end;
        else if (c == '"')
          in_string = false;
        continue;
      }
      if (c == '"')
        in_string = true;
      else if (c == '[' || c == '{')
        ++depth;
      else if (c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0)
        break;
    }
    return out.substr(0, start) + value_json + out.substr(end);
  };
  auto without = [&](const std::string& key) { return with(key, "null"); };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", "{\"tpm_policy\":"},
      {"not an object", "[1,2]"},
      {"tpm_policy missing", without("tpm_policy")},
      {"tpm_policy not JSON", with("tpm_policy", "\"{15:\"")},
      {"tpm_policy PCR 24", with("tpm_policy", "\"{\\\"24\\\": [\\\"" + kZeros + "\\\"]}\"")},
      {"tpm_policy PCR -1", with("tpm_policy", "\"{\\\"-1\\\": [\\\"" + kZeros + "\\\"]}\"")},
      {"tpm_policy short value", with("tpm_policy", "\"{\\\"15\\\": [\\\"0000\\\"]}\"")},
      {"tpm_policy two banks", with("tpm_policy", "\"{\\\"15\\\": [\\\"" + kZeros + "\\\", \\\"" +
                                                      std::string(40, '0') + "\\\"]}\"")},
      {"tpm_policy non-hex",
       with("tpm_policy", "\"{\\\"15\\\": [\\\"" + std::string(64, 'z') + "\\\"]}\"")},
      {"tpm_policy bad mask", with("tpm_policy", "\"{\\\"mask\\\": \\\"0xZZ\\\"}\"")},
      {"tpm_policy a number", with("tpm_policy", "7")},
      {"ak_tpm missing", without("ak_tpm")},
      {"ak_tpm not base64", with("ak_tpm", "\"***\"")},
      {"ak_tpm not a key", with("ak_tpm", "\"" + Base64Encode("garbage") + "\"")},
      {"ak_tpm unrestricted",
       with("ak_tpm", "\"" + Base64Encode(tpm_->AkPublic("unrestricted")) + "\"")},
      {"ak_tpm a number", with("ak_tpm", "5")},
      {"hash algs missing", without("accept_tpm_hash_algs")},
      {"hash algs empty", with("accept_tpm_hash_algs", "[]")},
      {"hash algs unknown", with("accept_tpm_hash_algs", "[\"md5\"]")},
      {"hash algs a string", with("accept_tpm_hash_algs", "\"sha256\"")},
      {"signing algs of numbers", with("accept_tpm_signing_algs", "[1]")},
      {"encryption algs missing", without("accept_tpm_encryption_algs")},
      {"ip without port", with("cloudagent_ip", "\"10.0.0.1\"")},
      {"port out of range", with("cloudagent_port", "70000")},
      {"metadata not JSON", with("metadata", "\"{x\"")},
      {"runtime_policy not base64", with("runtime_policy", "\"***\"")},
      {"unknown runtime policy name", with("runtime_policy_name", "\"nope\"")},
  };
  for (const auto& [what, b] : cases) {
    HttpResponse r = Call("POST", "/v2.6/agents/a1", b);
    int want = what == "unknown runtime policy name" ? 404 : 400;
    EXPECT_EQ(r.status, want) << what << ": " << r.body;
    EXPECT_FALSE(JsonAt(r.body, "/status").value_or("").empty()) << what;
  }
  EXPECT_EQ(Call("POST", "/v2.6/agents/bad%7Bid", body).status, 400);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents").body, "/results/uuids"), "[]");
  // And the good body works, so the cases above failed for their one reason.
  EXPECT_EQ(Call("POST", "/v2.6/agents/a1", body).status, 200);
}

TEST_P(VerifierApiTest, RuntimePoliciesByName) {
  const std::string policy = Base64Encode(R"({"meta": {"version": 1}, "digests": {}})");
  const std::string tpm_policy = "{\"15\": [\"" + kZeros + "\"]}";
  auto body = [&](const std::string& b64) {
    JsonWriter w;
    w.BeginObject().Key("runtime_policy").String(b64).Key("tpm_policy").String(tpm_policy);
    w.Key("runtime_policy_sig").String("").Key("runtime_policy_key").String("").EndObject();
    return w.Take();
  };
  EXPECT_EQ(Call("GET", "/v2.6/allowlists/p1").status, 404);
  EXPECT_EQ(Call("PUT", "/v2.6/allowlists/p1", body(policy)).status, 404);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p1", body(policy)).status, 201);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p1", body(policy)).status, 409);
  const std::string policy2 =
      Base64Encode(R"({"meta": {"version": 1}, "digests": {"/bin/x": [")" + kZeros + R"("]}})");
  EXPECT_EQ(Call("PUT", "/v2.6/allowlists/p1", body(policy2)).status, 201);
  HttpResponse r = Call("GET", "/v2.6/allowlists/p1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/name"), "p1");
  EXPECT_EQ(JsonAt(r.body, "/results/runtime_policy"), policy2);
  EXPECT_EQ(JsonAt(r.body, "/results/tpm_policy"), tpm_policy);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/allowlists/").body, "/results/runtimepolicy names"),
            R"(["p1"])");

  // Bad bodies.
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2", "{").status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2", "{}").status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2", body("***")).status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2", body(Base64Encode("not json"))).status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2", "{\"runtime_policy\": 5}").status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/p2",
                 "{\"runtime_policy\": \"" + policy + "\", \"tpm_policy\": \"{\\\"30\\\": []}\"}")
                .status,
            400);
  EXPECT_EQ(Call("POST", "/v2.6/allowlists/bad%7Bname", body(policy)).status, 400);

  // An agent using it keeps it from being deleted.
  TenantBody agent;
  agent.ak_tpm = tpm_->AkPublic("rsa");
  agent.runtime_policy_name = "p1";
  ASSERT_EQ(Call("POST", "/v2.6/agents/a1", agent.Json()).status, 200);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/a1").body, "/results/has_runtime_policy"), "1");
  EXPECT_EQ(Call("DELETE", "/v2.6/allowlists/p1").status, 409);
  ASSERT_EQ(Call("DELETE", "/v2.6/agents/a1").status, 200);
  r = tenant_->Request("DELETE", "/v2.6/allowlists/p1");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(Call("DELETE", "/v2.6/allowlists/p1").status, 404);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/allowlists").body, "/results/runtimepolicy names"), "[]");

  // A policy given inline with a new name becomes a named policy; with a
  // name that exists it is refused.
  agent.runtime_policy = policy;
  agent.runtime_policy_name = "inline";
  ASSERT_EQ(Call("POST", "/v2.6/agents/a2", agent.Json()).status, 200);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/allowlists/inline").body, "/results/runtime_policy"), policy);
  EXPECT_EQ(Call("POST", "/v2.6/agents/a3", agent.Json()).status, 409);
  EXPECT_EQ(Call("GET", "/v2.6/agents/a3").status, 404);
}

TEST_P(VerifierApiTest, MeasuredBootPoliciesByName) {
  const std::string mb = testing::RefstateFor(testing::EventLogFile("event-bootorder.bin"), true);
  ASSERT_FALSE(mb.empty());
  JsonWriter w;
  w.BeginObject().Key("mb_policy").String(mb).EndObject();
  const std::string body = w.Take();
  EXPECT_EQ(Call("POST", "/v2.6/mbpolicies/m1", body).status, 201);
  EXPECT_EQ(Call("POST", "/v2.6/mbpolicies/m1", body).status, 409);
  EXPECT_EQ(Call("PUT", "/v2.6/mbpolicies/m2", body).status, 404);
  EXPECT_EQ(Call("PUT", "/v2.6/mbpolicies/m1", body).status, 201);
  HttpResponse r = Call("GET", "/v2.6/mbpolicies/m1");
  EXPECT_EQ(JsonAt(r.body, "/results/name"), "m1");
  EXPECT_EQ(JsonAt(r.body, "/results/mb_policy"), mb);  // byte for byte
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/mbpolicies").body, "/results/mbpolicy names"), R"(["m1"])");
  // The runtime and measured-boot names are separate spaces.
  EXPECT_EQ(Call("GET", "/v2.6/allowlists/m1").status, 404);
  EXPECT_EQ(Call("POST", "/v2.6/mbpolicies/m3", "{\"mb_policy\": \"{not json\"}").status, 400);
  EXPECT_EQ(Call("POST", "/v2.6/mbpolicies/m3", "{}").status, 400);
  EXPECT_EQ(tenant_->Request("DELETE", "/v2.6/mbpolicies/m1").status, 204);
  EXPECT_EQ(Call("GET", "/v2.6/mbpolicies/m1").status, 404);
  EXPECT_EQ(Call("DELETE", "/v2.6/mbpolicies/m1").status, 404);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// POST /verify/evidence with Keylime vector B: {"type":"tpm","data":{…}}.
std::string EvidenceBody(const std::string& tpm_policy, const std::string& extra = "") {
  using testing::KeylimeVector;
  using testing::kVectorB;
  JsonWriter w;
  w.BeginObject().Key("type").String("tpm").Key("data").BeginObject();
  w.Key("quote").String(testing::KeylimeQuoteString(KeylimeVector(kVectorB, "quote.out"),
                                                    KeylimeVector(kVectorB, "quotesig.out"),
                                                    KeylimeVector(kVectorB, "quotepcr.out")));
  w.Key("nonce").String(Trimmed(KeylimeVector(kVectorB, "nonce.b64")));
  w.Key("hash_alg").String("sha256");
  w.Key("tpm_ek").String(Base64Encode(KeylimeVector(kVectorB, "ek.pub")));
  w.Key("tpm_ak").String(Base64Encode(KeylimeVector(kVectorB, "ak.pub")));
  if (!tpm_policy.empty()) w.Key("tpm_policy").String(tpm_policy);
  std::string doc = w.EndObject().EndObject().Take();
  if (!extra.empty()) doc.insert(doc.size() - 2, "," + extra);
  return doc;
}

TEST_P(VerifierApiTest, VerifyEvidenceWithVectorB) {
  const std::string policy =
      "{\"15\":[\"" + kZeros + "\"],\"22\":[\"" + kOnes + "\"],\"mask\":\"0x408000\"}";
  HttpResponse r = Call("POST", "/v2.6/verify/evidence", EvidenceBody(policy));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "true") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/failures"), "[]");
  EXPECT_EQ(JsonAt(r.body, "/results/claims/pcrs/sha256/22"), kOnes);
  // A boolean whatever the API version, as Keylime's evidence controller.
  EXPECT_EQ(
      JsonAt(Call("POST", "/v2.4/verify/evidence", EvidenceBody(policy)).body, "/results/valid"),
      "true");

  // A PCR 22 value the quote does not have.
  const std::string wrong =
      "{\"15\":[\"" + kZeros + "\"],\"22\":[\"" + std::string(63, 'f') + "e\"]}";
  r = Call("POST", "/v2.6/verify/evidence", EvidenceBody(wrong));
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  EXPECT_EQ(FailureTypesOf(r.body, "/results/failures"),
            std::vector<std::string>{"pcr_validation.invalid_pcr_22"});
  EXPECT_EQ(JsonAt(r.body, "/results/failures/0/context/pcr"), "22");
  EXPECT_EQ(
      JsonAt(Call("POST", "/v2.4/verify/evidence", EvidenceBody(wrong)).body, "/results/valid"),
      "false");

  // An IMA list or a boot log that does not check out: never a pass (the
  // end-to-end cases are in policy_appraisal_test.cc).
  r = Call("POST", "/v2.6/verify/evidence",
           EvidenceBody(policy, "\"ima_measurement_list\":\"10 aa ima-ng\""));
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  for (const std::string& t : FailureTypesOf(r.body, "/results/failures")) {
    EXPECT_EQ(t.rfind("ima.", 0), 0u) << t;
  }
  const std::string mb = testing::RefstateFor(testing::EventLogFile("event-bootorder.bin"), true);
  JsonWriter mbw;
  mbw.BeginObject().Key("mb_policy").String(mb).Key("mb_log").String("AAAA").EndObject();
  std::string mb_members = mbw.Take();
  r = Call("POST", "/v2.6/verify/evidence",
           EvidenceBody(policy, mb_members.substr(1, mb_members.size() - 2)));
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  EXPECT_FALSE(FailureTypesOf(r.body, "/results/failures").empty());
  for (const std::string& t : FailureTypesOf(r.body, "/results/failures")) {
    EXPECT_EQ(t.rfind("measured_boot.", 0), 0u) << t;
  }

  // Another nonce: the quote is not fresh.
  std::string stale = EvidenceBody(policy);
  stale.replace(stale.find(Trimmed(testing::KeylimeVector(testing::kVectorB, "nonce.b64"))), 4,
                "AAAA");
  r = Call("POST", "/v2.6/verify/evidence", stale);
  EXPECT_EQ(FailureTypesOf(r.body, "/results/failures"),
            std::vector<std::string>{"quote_validation.nonce"});
}

TEST_P(VerifierApiTest, VerifyEvidenceBadInput) {
  std::string good = EvidenceBody("");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", "{"},
      {"no type", replaced("\"type\":\"tpm\",", "")},
      {"type not tpm", replaced("\"type\":\"tpm\"", "\"type\":\"ima\"")},
      {"no data", "{\"type\":\"tpm\"}"},
      {"data not an object", "{\"type\":\"tpm\",\"data\":[1]}"},
      {"quote missing", replaced("\"quote\":", "\"quoteX\":")},
      {"nonce a number",
       "{\"type\":\"tpm\",\"data\":{\"quote\":\"r\",\"nonce\":1,\"hash_alg\":\"sha256\",\"tpm_ak\":"
       "\"x\"}}"},
      {"tpm_ak missing", replaced("\"tpm_ak\":", "\"tpm_akX\":")},
      {"tpm_ak not a key", replaced("\"tpm_ak\":\"", "\"tpm_ak\":\"AAAA")},
      {"tpm_policy PCR 24", EvidenceBody("{\"24\":[\"" + kZeros + "\"]}")},
      {"tpm_policy value too short", EvidenceBody("{\"15\":[\"00\"]}")},
  };
  for (const auto& [what, body] : cases) {
    HttpResponse r = Call("POST", "/v2.6/verify/evidence", body);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
  }
}

TEST_P(VerifierApiTest, VerifyIdentityWithVectorA) {
  using testing::KeylimeVector;
  using testing::kVectorA;
  // Vector A ships its AK as PEM only: enrol it as a TPM2B_PUBLIC.
  auto ak = tpm::Tpm2bPublicFromPem(KeylimeVector(kVectorA, "ak_pub.pem"),
                                    tpm::kAkRequiredAttributes, TPM2_ALG_NULL, TPM2_ALG_NULL);
  ASSERT_TRUE(ak.ok()) << ak.status().ToString();
  TenantBody body;
  body.ak_tpm = *ak;
  body.tpm_policy = "{\"16\": [\"" + kZeros + "\"]}";  // not consulted by identity checks
  ASSERT_EQ(Call("POST", "/v2.5/agents/vec-a", body.Json()).status, 200);
  std::string quote = Trimmed(KeylimeVector(kVectorA, "keylime_quote_string.txt"));
  std::string nonce = Trimmed(KeylimeVector(kVectorA, "nonce.txt"));
  auto target = [&](const std::string& agent, const std::string& n) {
    return "/v2.5/verify/identity?agent_uuid=" + agent + "&quote=" + quote + "&nonce=" + n +
           "&hash_alg=sha256";
  };
  HttpResponse r = Call("GET", target("vec-a", nonce));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "1") << r.body;
  // 1/0 whatever the API version, as Keylime's identity controller.
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6" + target("vec-a", nonce).substr(5)).body, "/results/valid"),
            "1");
  r = Call("GET", target("vec-a", "a" + nonce.substr(1)));
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "0");
  EXPECT_EQ(JsonAt(r.body, "/results/reason"), "quote_validation.nonce");
  EXPECT_EQ(Call("GET", target("nobody", nonce)).status, 404);
  EXPECT_EQ(Call("GET", "/v2.5/verify/identity?agent_uuid=vec-a&nonce=" + nonce).status, 400);
  EXPECT_EQ(Call("GET", "/v2.5/verify/identity?quote=" + quote + "&nonce=" + nonce).status, 400);
  EXPECT_EQ(Call("GET", "/v2.5/verify/identity?agent_uuid=vec-a&quote=" + quote).status, 400);
}

// ---------------------------------------------------------------------------
// v3 push model, as the Rust push agent drives it.

constexpr char kJsonApi[] = "application/vnd.api+json";

// The capabilities document of a push agent whose AK is `ak`.
std::string Capabilities(const std::string& ak, const std::string& subjects = "",
                         const std::string& version = "2.0") {
  JsonWriter w;
  w.BeginObject()
      .Key("data")
      .BeginObject()
      .Key("type")
      .String("attestation")
      .Key("attributes")
      .BeginObject();
  w.Key("evidence_supported").BeginArray();
  w.BeginObject()
      .Key("evidence_class")
      .String("certification")
      .Key("evidence_type")
      .String("tpm_quote");
  w.Key("capabilities").BeginObject().Key("component_version").String(version);
  w.Key("hash_algorithms").BeginArray().String("sha384").String("sha256").String("sha1").EndArray();
  w.Key("signature_schemes").BeginArray().String("rsassa").EndArray();
  w.Key("available_subjects");
  if (subjects.empty()) {
    w.BeginObject();
    for (const char* bank : {"sha1", "sha256"}) {
      w.Key(bank).BeginArray();
      for (int i = 0; i < 24; ++i) w.Int(i);
      w.EndArray();
    }
    w.EndObject();
  } else {
    w.Raw(subjects);
  }
  w.Key("certification_keys").BeginArray().BeginObject();
  w.Key("key_class")
      .String("asymmetric")
      .Key("key_origin")
      .String("tpm")
      .Key("key_algorithm")
      .String("rsa");
  w.Key("key_size")
      .Int(2048)
      .Key("server_identifier")
      .String("ak")
      .Key("public")
      .String(Base64Encode(ak));
  w.EndObject().EndArray().EndObject().EndObject();
  w.BeginObject().Key("evidence_class").String("log").Key("evidence_type").String("uefi_log");
  w.Key("capabilities")
      .BeginObject()
      .Key("evidence_version")
      .String("2.1")
      .Key("entry_count")
      .Int(20);
  w.Key("supports_partial_access").Bool(false).Key("appendable").Bool(false);
  w.Key("formats")
      .BeginArray()
      .String("application/octet-stream")
      .EndArray()
      .EndObject()
      .EndObject();
  w.EndArray();
  w.Key("system_info").BeginObject().Key("boot_time").String("2026-11-24T12:12:51Z").EndObject();
  return w.EndObject().EndObject().EndObject().Take();
}

std::string Evidence(const testing::TpmQuote& q) {
  JsonWriter w;
  w.BeginObject()
      .Key("data")
      .BeginObject()
      .Key("type")
      .String("attestation")
      .Key("attributes")
      .BeginObject();
  w.Key("evidence_collected").BeginArray().BeginObject();
  w.Key("evidence_class").String("certification").Key("evidence_type").String("tpm_quote");
  w.Key("data").BeginObject().Key("subject_data").String(Base64Encode(q.pcrblob));
  w.Key("message")
      .String(Base64Encode(q.attest))
      .Key("signature")
      .String(Base64Encode(q.signature));
  w.EndObject().EndObject().EndArray();
  return w.EndObject().EndObject().EndObject().Take();
}

class PushTest : public VerifierApiTest {
 protected:
  HttpResponse V3(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", kJsonApi}};
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    HttpResponse r = tenant_->Request(method, target, headers, body);
    // Errors are JSON:API error documents, except a rejected proof of
    // possession: a session document with evaluation "fail", as Keylime's.
    if (r.status >= 400 && r.status != 404 && !JsonAt(r.body, "/data/attributes/evaluation")) {
      EXPECT_EQ(JsonAt(r.body, "/errors/0/status"), std::to_string(r.status)) << r.body;
    }
    return r;
  }

  // One attestation: capabilities, quote over the challenge, evidence;
  // then waits for the verdict. Returns the final attestation document.
  HttpResponse Attest(const std::string& id) {
    HttpResponse r =
        V3("POST", "/v3.0/agents/" + id + "/attestations", Capabilities(tpm_->AkPublic("rsa")));
    EXPECT_EQ(r.status, 201) << r.body;
    const std::string params = "/data/attributes/evidence_requested/0/chosen_parameters";
    std::string challenge =
        Base64DecodeStd(JsonAt(r.body, params + "/challenge").value_or("")).value_or("");
    EXPECT_EQ(challenge.size(), 16u);
    EXPECT_EQ(JsonAt(r.body, params + "/hash_algorithm"),
              "sha256");  // sha384 offered, but no PCRs in that bank
    EXPECT_EQ(JsonAt(r.body, params + "/signature_scheme"), "rsassa");
    EXPECT_EQ(JsonAt(r.body, params + "/selected_subjects"), R"({"sha256":[23]})");
    EXPECT_EQ(JsonAt(r.body, params + "/certification_key/public"),
              Base64Encode(tpm_->AkPublic("rsa")));
    EXPECT_EQ(JsonAt(r.body, "/data/attributes/stage"), "awaiting_evidence");
    EXPECT_TRUE(JsonAt(r.body, "/data/attributes/challenges_expire_at").has_value());
    // One at a time.
    EXPECT_EQ(
        V3("POST", "/v3.0/agents/" + id + "/attestations", Capabilities(tpm_->AkPublic("rsa")))
            .status,
        409);
    auto q = tpm_->Quote("rsa", challenge, "sha256:23", "sha256", "rsassa");
    EXPECT_TRUE(q.has_value());
    if (!q) return r;
    r = V3("PATCH", "/v3.0/agents/" + id + "/attestations/latest", Evidence(*q));
    EXPECT_EQ(r.status, 202) << r.body;
    std::string stage = JsonAt(r.body, "/data/attributes/stage").value_or("");
    EXPECT_TRUE(stage == "evaluating_evidence" || stage == "verification_complete") << stage;
    EXPECT_TRUE(JsonAt(r.body, "/meta/seconds_to_next_attestation").has_value()) << r.body;
    EXPECT_EQ(V3("PATCH", "/v3.0/agents/" + id + "/attestations/latest", Evidence(*q)).status, 403);
    for (int i = 0; i < 250; ++i) {
      r = V3("GET", "/v3.0/agents/" + id + "/attestations/latest");
      if (JsonAt(r.body, "/data/attributes/stage") == "verification_complete") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return r;
  }

  void WaitForInterval(const std::string& id) {
    HttpResponse r =
        V3("POST", "/v3.0/agents/" + id + "/attestations", Capabilities(tpm_->AkPublic("rsa")));
    ASSERT_EQ(r.status, 429) << r.body;
    int wait = std::atoi(r.header("retry-after").c_str());
    ASSERT_GE(wait, 1);
    ASSERT_LE(wait, config_.quote_interval_s);
    std::this_thread::sleep_for(std::chrono::seconds(wait));
  }

  void EnrolPushAgent(const std::string& id, const std::string& ak) {
    TenantBody body;
    body.ak_tpm = ak;
    body.tpm_policy = "{\"23\": [\"" + PcrNow(23) + "\"], \"mask\": \"0x800000\"}";
    ASSERT_EQ(Call("POST", "/v2.6/agents/" + id, body.Json()).status, 200);
  }

  static std::string SessionBody(const std::string& id) {
    return R"({"data":{"type":"session","attributes":{"agent_id":")" + id +
           R"(","authentication_supported":[{"authentication_class":"pop","authentication_type":"tpm_pop"}]}}})";
  }
  static std::string ProofBody(const std::string& id, const testing::Swtpm::Certification& c) {
    JsonWriter w;
    w.BeginObject()
        .Key("data")
        .BeginObject()
        .Key("type")
        .String("session")
        .Key("attributes")
        .BeginObject();
    w.Key("agent_id").String(id).Key("authentication_provided").BeginArray().BeginObject();
    w.Key("authentication_class").String("pop").Key("authentication_type").String("tpm_pop");
    w.Key("data").BeginObject();
    w.Key("message")
        .String(Base64Encode(c.attest))
        .Key("signature")
        .String(Base64Encode(c.signature));
    return w.EndObject().EndObject().EndArray().EndObject().EndObject().EndObject().Take();
  }

  // POST /v3/sessions, TPM2_Certify of `object` by `signer` over the
  // challenge, PATCH: the PATCH's answer.
  HttpResponse ProveOnce(const std::string& id, const std::string& object,
                         const std::string& signer) {
    HttpResponse r = V3("POST", "/v3.0/sessions", SessionBody(id));
    EXPECT_EQ(r.status, 200) << r.body;
    std::string challenge =
        Base64DecodeStd(
            JsonAt(r.body,
                   "/data/attributes/authentication_requested/0/chosen_parameters/challenge")
                .value_or(""))
            .value_or("");
    EXPECT_EQ(challenge.size(), 16u);
    auto cert = tpm_->Certify(object, signer, challenge);
    EXPECT_TRUE(cert.has_value()) << "Esys_Certify failed";
    if (!cert) return r;
    return V3("PATCH", "/v3.0/sessions/" + JsonAt(r.body, "/data/id").value_or(""),
              ProofBody(id, *cert));
  }

  void Authenticate(const std::string& id, const std::string& key = "rsa") {
    HttpResponse r = ProveOnce(id, key, key);
    ASSERT_EQ(r.status, 200) << r.body;
    token_ = JsonAt(r.body, "/data/attributes/token").value_or("");
    ASSERT_FALSE(token_.empty());
    EXPECT_TRUE(JsonAt(r.body, "/data/attributes/token_expires_at").has_value());
  }

  std::string token_;
};

TEST_P(PushTest, AttestPassThenFailAfterAPcrChanges) {
  EnrolPushAgent("push-1", tpm_->AkPublic("rsa"));
  Authenticate("push-1");
  EXPECT_EQ(V3("GET", "/v3.0/agents/push-1/attestations/latest").status, 404);
  HttpResponse r = Attest("push-1");
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/evaluation"), "pass") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/failure_reason"), "null");
  HttpResponse agent = Call("GET", "/v2.6/agents/push-1");
  EXPECT_EQ(JsonAt(agent.body, "/results/attestation_status"), "PASS");
  EXPECT_EQ(JsonAt(agent.body, "/results/attestation_count"), "1");
  EXPECT_EQ(JsonAt(agent.body, "/results/hash_alg"), "sha256");
  EXPECT_NE(JsonAt(agent.body, "/results/last_successful_attestation"), "0");
  EXPECT_NE(JsonAt(agent.body, "/results/last_received_quote"), "0");

  // Too early for the next one: 429 with Retry-After from --quote-interval.
  WaitForInterval("push-1");
  ASSERT_TRUE(tpm_->Extend(23, "sha256", kOnes));
  r = Attest("push-1");
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/evaluation"), "fail") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/failure_reason"), "pcr_validation.invalid_pcr_23");
  agent = Call("GET", "/v2.6/agents/push-1");
  EXPECT_EQ(JsonAt(agent.body, "/results/attestation_status"), "FAIL");
  EXPECT_EQ(JsonAt(agent.body, "/results/attestation_count"), "2");
  EXPECT_EQ(JsonAt(agent.body, "/results/last_event_id"), "pcr_validation.invalid_pcr_23");

  r = V3("GET", "/v3.0/agents/push-1/attestations");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonAt(r.body, "/data/0/attributes/evaluation"), "pass");
  EXPECT_EQ(JsonAt(r.body, "/data/1/attributes/evaluation"), "fail");
  EXPECT_FALSE(JsonAt(r.body, "/data/2").has_value());
  EXPECT_EQ(
      JsonAt(V3("GET", "/v3.0/agents/push-1/attestations/0").body, "/data/attributes/evaluation"),
      "pass");
  EXPECT_EQ(V3("GET", "/v3.0/agents/push-1/attestations/7").status, 404);
  // The tenant reads them with its client certificate instead of a token.
  token_.clear();
  r = V3("GET", "/v3.0/agents/push-1/attestations/latest");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/evaluation"), "fail");
  EXPECT_EQ(V3("GET", "/v3.0/agents/nobody/attestations").status, 404);
  EXPECT_EQ(V3("GET", "/v3.0/agents/push-1/attestations/x").status, 404);
}

TEST_P(PushTest, RefusalsAndBadDocuments) {
  const std::string ak = tpm_->AkPublic("rsa");
  EXPECT_EQ(V3("POST", "/v3.0/agents/nobody/attestations", Capabilities(ak)).status, 404);
  EnrolPushAgent("push-2", ak);
  Authenticate("push-2");
  std::vector<std::pair<std::string, std::string>> bad = {
      {"not JSON", "{"},
      {"not JSON:API", "{\"evidence_supported\": []}"},
      {"no tpm_quote", R"({"data":{"type":"attestation","attributes":{"evidence_supported":[]}}})"},
      {"PCR 24", Capabilities(ak, R"({"sha256":[23,24]})")},
      {"PCRs not numbers", Capabilities(ak, R"({"sha256":["23"]})")},
      {"component version", Capabilities(ak, "", "1.2")},
      {"policy PCR not offered", Capabilities(ak, R"({"sha256":[0,1]})")},
      {"AK not offered", Capabilities(tpm_->AkPublic("ecc"))},
  };
  for (const auto& [what, body] : bad) {
    HttpResponse r = V3("POST", "/v3.0/agents/push-2/attestations", body);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_FALSE(JsonAt(r.body, "/errors/0/detail").value_or("").empty()) << what;
  }
  // Nothing was opened by the refusals.
  HttpResponse r = V3("POST", "/v3.0/agents/push-2/attestations", Capabilities(ak));
  ASSERT_EQ(r.status, 201) << r.body;
  for (const std::string& body :
       {std::string("{}"), std::string(R"({"data":{"attributes":{"evidence_collected":
        [{"evidence_class":"certification","evidence_type":"tpm_quote","data":{"message":"AAAA"}}]}}})")}) {
    EXPECT_EQ(V3("PATCH", "/v3.0/agents/push-2/attestations/latest", body).status, 400) << body;
  }
  EXPECT_EQ(V3("PATCH", "/v3.0/agents/push-2/attestations/9", "{}").status, 400);
  // v3 routes are not served under v2 prefixes (and the reverse).
  EXPECT_EQ(
      tenant_->Request("POST", "/v2.6/agents/push-2/attestations", {}, Capabilities(ak)).status,
      404);
  EXPECT_EQ(tenant_->Request("GET", "/v3.0/agents/push-2").status, 404);
  // A stopped agent may not attest.
  ASSERT_EQ(Call("PUT", "/v2.6/agents/push-2/stop").status, 200);
  EXPECT_EQ(V3("POST", "/v3.0/agents/push-2/attestations", Capabilities(ak)).status, 403);
}

TEST_P(PushTest, ProofOfPossessionIssuesTheToken) {
  EnrolPushAgent("pop-1", tpm_->AkPublic("rsa"));
  const std::string caps = Capabilities(tpm_->AkPublic("rsa"));
  // No token, or a made-up one: 401.
  HttpResponse r = V3("POST", "/v3.0/agents/pop-1/attestations", caps);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  token_ = "bm90LWEtdG9rZW4";
  EXPECT_EQ(V3("POST", "/v3.0/agents/pop-1/attestations", caps).status, 401);
  EXPECT_EQ(V3("GET", "/v3.0/agents/pop-1/attestations").status, 401);
  token_.clear();

  // A certification signed by another key of the same TPM: 401.
  EXPECT_EQ(ProveOnce("pop-1", "rsa", "ecc").status, 401);
  // The AK certifying another key: 401.
  EXPECT_EQ(ProveOnce("pop-1", "ecc", "rsa").status, 401);
  // Over another challenge: 401.
  r = V3("POST", "/v3.0/sessions", SessionBody("pop-1"));
  ASSERT_EQ(r.status, 200);
  std::string session = JsonAt(r.body, "/data/id").value_or("");
  auto stale = tpm_->Certify("rsa", "rsa", "0123456789abcdef");
  ASSERT_TRUE(stale.has_value());
  r = V3("PATCH", "/v3.0/sessions/" + session, ProofBody("pop-1", *stale));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/evaluation"), "fail");
  // Answered once: the same session is gone.
  EXPECT_EQ(V3("PATCH", "/v3.0/sessions/" + session, ProofBody("pop-1", *stale)).status, 404);

  // The AK certifying itself over the challenge: a token, once.
  r = ProveOnce("pop-1", "rsa", "rsa");
  ASSERT_EQ(r.status, 200) << r.body;
  token_ = JsonAt(r.body, "/data/attributes/token").value_or("");
  EXPECT_EQ(V3("POST", "/v3.0/agents/pop-1/attestations", caps).status, 201);
  EXPECT_EQ(V3("GET", "/v3.0/agents/pop-1/attestations").status, 200);
  // The token is the agent's own: not another agent's.
  EnrolPushAgent("pop-2", tpm_->AkPublic("rsa"));
  EXPECT_EQ(V3("POST", "/v3.0/agents/pop-2/attestations", caps).status, 401);

  // Bad session documents.
  EXPECT_EQ(V3("POST", "/v3.0/sessions", "{").status, 400);
  EXPECT_EQ(V3("POST", "/v3.0/sessions", R"({"data":{"attributes":{}}})").status, 400);
  // Keylime answers an unknown agent's session and fails its proof with 200.
  r = V3("POST", "/v3.0/sessions", SessionBody("nobody"));
  EXPECT_EQ(r.status, 200);
  r = V3("PATCH", "/v3.0/sessions/" + JsonAt(r.body, "/data/id").value_or(""),
         ProofBody("nobody", *stale));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonAt(r.body, "/data/attributes/evaluation"), "fail");
  EXPECT_FALSE(JsonAt(r.body, "/data/attributes/token").has_value());
  // A session document without tpm_pop among the methods: 400.
  EXPECT_EQ(V3("POST", "/v3.0/sessions",
               R"({"data":{"type":"session","attributes":{"agent_id":"pop-1",)"
               R"("authentication_supported":[]}}})")
                .status,
            400);
  EXPECT_EQ(
      V3("PATCH", "/v3.0/sessions/" + session, R"({"data":{"attributes":{"agent_id":"pop-1"}}})")
          .status,
      400);
  EXPECT_EQ(V3("PATCH", "/v3.0/sessions/no-such-session", ProofBody("pop-1", *stale)).status, 404);
}

TEST_P(PushTest, ProofOfPossessionWithRsapssAndEcdsaAks) {
  for (const std::string key : {"rsapss", "ecc"}) {
    EnrolPushAgent("pop-" + key, tpm_->AkPublic(key));
    HttpResponse r = ProveOnce("pop-" + key, key, key);
    EXPECT_EQ(r.status, 200) << key << ": " << r.body;
    EXPECT_FALSE(JsonAt(r.body, "/data/attributes/token").value_or("").empty()) << key;
  }
}

// Two attestd processes' worth of Applications on one Redis: the verifier
// takes the evidence, the other's worker appraises it, and that worker's
// process records the verdict on the agent without anyone reading it.
TEST_P(PushTest, OutcomeRecordedByTheWorkerOfAnotherProcess) {
  if (GetParam() != "redis") GTEST_SKIP() << "needs a store shared between processes";
  app_->Shutdown(std::chrono::milliseconds(1000));
  Config front = config_;
  front.workers = 0;  // takes requests, appraises nothing queued
  auto verifier = Application::Create(front);
  ASSERT_TRUE(verifier.ok());
  app_ = std::move(*verifier);
  ASSERT_TRUE(app_->Start().ok());
  tenant_ = std::make_unique<HttpClient>(app_->verifier_port(), TenantTls(app_->verifier_tls()));
  Config back = config_;
  back.listen = "127.0.0.1:0";
  back.verifier_listen = "none";
  auto worker = Application::Create(back);
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->Start().ok());

  EnrolPushAgent("far-1", tpm_->AkPublic("rsa"));
  Authenticate("far-1");
  HttpResponse r =
      V3("POST", "/v3.0/agents/far-1/attestations", Capabilities(tpm_->AkPublic("rsa")));
  ASSERT_EQ(r.status, 201) << r.body;
  std::string challenge =
      Base64DecodeStd(
          JsonAt(r.body, "/data/attributes/evidence_requested/0/chosen_parameters/challenge")
              .value_or(""))
          .value_or("");
  auto q = tpm_->Quote("rsa", challenge, "sha256:23", "sha256", "rsassa");
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(V3("PATCH", "/v3.0/agents/far-1/attestations/latest", Evidence(*q)).status, 202);

  RedisAgentStore store(std::make_shared<RedisPool>(redis_->pool_options(4)));
  std::string status;
  for (int i = 0; i < 250 && status != "PASS"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto agent = store.Get("far-1");
    ASSERT_TRUE(agent.ok());
    status = agent->attestation_status;
  }
  EXPECT_EQ(status, "PASS");
  EXPECT_EQ(store.Get("far-1")->attestations.back().evaluation, "pass");
  (*worker)->Shutdown(std::chrono::milliseconds(1000));
}

// rust-keylime's push agent, field for field: no client certificate,
// sha256-only capabilities, its AK without the TPM2B size prefix; the
// tenant enrolled it with Keylime's default lists (sha512 first).
TEST_P(PushTest, RustWireAgentAttestsWithoutClientCertificate) {
  EnrolPushAgent("rust-1", tpm_->AkPublic("rsa"));
  testing::PushAgent agent(app_->verifier_port(), app_->verifier_tls().ca_cert, tpm_, "rust-1");
  ASSERT_NE(agent.AkWithoutPrefix(), tpm_->AkPublic("rsa"));

  HttpResponse pop = agent.Authenticate();
  ASSERT_EQ(pop.status, 200) << pop.body;
  EXPECT_EQ(JsonAt(pop.body, "/data/type"), "session");
  EXPECT_EQ(JsonAt(pop.body, "/data/attributes/evaluation"), "pass");
  for (const char* f :
       {"created_at", "challenges_expire_at", "response_received_at", "token_expires_at",
        "authentication/0/authentication_class", "authentication/0/authentication_type",
        "authentication/0/chosen_parameters/challenge", "authentication/0/data/message",
        "authentication/0/data/signature"}) {
    EXPECT_TRUE(JsonAt(pop.body, std::string("/data/attributes/") + f).has_value()) << f;
  }
  ASSERT_FALSE(agent.token().empty());

  testing::PushAgent::Round round = agent.Attest();
  ASSERT_EQ(round.negotiation.status, 201) << round.negotiation.body;
  // Keylime's intersection: the tenant's sha512/sha384 are not offered.
  EXPECT_EQ(round.hash_algorithm, "sha256");
  EXPECT_EQ(round.signature_scheme, "rsassa");
  const std::string key =
      "/data/attributes/evidence_requested/0/chosen_parameters/certification_key";
  for (const char* f :
       {"key_class", "key_algorithm", "key_size", "server_identifier", "local_identifier"}) {
    EXPECT_TRUE(JsonAt(round.negotiation.body, key + "/" + f).has_value()) << f;
  }
  EXPECT_EQ(JsonAt(round.negotiation.body, key + "/public"), Base64Encode(agent.AkWithoutPrefix()));
  ASSERT_EQ(round.submission.status, 202) << round.submission.body;
  EXPECT_EQ(JsonAt(round.submission.body, "/data/attributes/evidence/0/evidence_type"),
            "tpm_quote");
  EXPECT_TRUE(JsonAt(round.submission.body, "/data/attributes/evidence/0/data/message"));
  EXPECT_TRUE(JsonAt(round.submission.body,
                     "/data/attributes/evidence/0/capabilities/certification_keys/0/public"));
  EXPECT_GE(round.seconds_to_next, 0);
  EXPECT_LE(round.seconds_to_next, config_.quote_interval_s);

  std::string status;
  for (int i = 0; i < 250 && status != "PASS"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status =
        JsonAt(Call("GET", "/v2.6/agents/rust-1").body, "/results/attestation_status").value_or("");
  }
  EXPECT_EQ(status, "PASS");
  // The next round after the interval the verifier named.
  std::this_thread::sleep_for(std::chrono::seconds(round.seconds_to_next));
  round = agent.Attest();
  EXPECT_EQ(round.negotiation.status, 201) << round.negotiation.body;
  EXPECT_EQ(round.submission.status, 202) << round.submission.body;
}

// An agent that stops sending quotes is TIMEOUT after
// maximum_attestation_interval (5 × quote_interval, as Keylime).
TEST_P(PushTest, MissedMaximumIntervalIsTimeout) {
  app_->Shutdown(std::chrono::milliseconds(1000));
  config_.quote_interval_s = 1;
  auto app = Application::Create(config_);
  ASSERT_TRUE(app.ok());
  app_ = std::move(*app);
  ASSERT_TRUE(app_->Start().ok());
  tenant_ = std::make_unique<HttpClient>(app_->verifier_port(), TenantTls(app_->verifier_tls()));
  EnrolPushAgent("late-1", tpm_->AkPublic("rsa"));
  testing::PushAgent agent(app_->verifier_port(), app_->verifier_tls().ca_cert, tpm_, "late-1");
  ASSERT_EQ(agent.Authenticate().status, 200);
  ASSERT_EQ(agent.Attest().submission.status, 202);
  HttpResponse r;
  for (int i = 0; i < 250; ++i) {
    r = Call("GET", "/v2.6/agents/late-1");
    if (JsonAt(r.body, "/results/attestation_status") == "PASS") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_status"), "PASS");
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_period"), "1s");
  EXPECT_EQ(JsonAt(r.body, "/results/maximum_attestation_interval"), "5s");
  std::this_thread::sleep_for(std::chrono::milliseconds(6000));
  r = Call("GET", "/v2.6/agents/late-1");
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_status"), "TIMEOUT");
  // The bulk listing reports it the same way.
  r = Call("GET", "/v2.6/agents/?bulk=true");
  EXPECT_EQ(JsonAt(r.body, "/results/late-1/attestation_status"), "TIMEOUT");
  // Attesting again clears it.
  ASSERT_EQ(agent.Attest().submission.status, 202);
  for (int i = 0; i < 250; ++i) {
    r = Call("GET", "/v2.6/agents/late-1");
    if (JsonAt(r.body, "/results/attestation_status") == "PASS") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(JsonAt(r.body, "/results/attestation_status"), "PASS");
}

INSTANTIATE_TEST_SUITE_P(Stores, PushTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Stores, VerifierApiTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
