// Keylime's pull model end to end, on both stores: an in-process attestd
// whose verifier polls test pull agents (tests/support/pull_agent.h: real
// swtpm quotes over mTLS), driven the way Keylime's tenant does it.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/random.h"
#include "common/time_util.h"
#include "server/application.h"
#include "store/redis/redis_pool.h"
#include "store/stores.h"
#include "tests/support/boot_log.h"
#include "tests/support/esapi_quoter.h"
#include "tests/support/http_client.h"
#include "tests/support/ima_log.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/pull_agent.h"
#include "tests/support/swtpm.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;
using namespace std::chrono_literals;

// Waits up to `timeout` for `cond`.
template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

// A webhook receiver: plain HTTP, keeps every body.
class Webhook {
 public:
  Webhook() {
    router_ = std::make_shared<api::Router>([](int status, std::string_view) {
      api::HttpResponse r;
      r.status = status;
      return r;
    });
    router_->Add("POST", "/revocation", [this](const api::HttpRequest& r) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(r.body);
      api::HttpResponse out;
      out.status = 200;
      return out;
    });
    api::ListenerOptions lo;
    lo.name = "webhook";
    lo.address = "127.0.0.1:0";
    lo.threads = 1;
    server_ = std::make_unique<api::HttpServer>(lo, router_);
    ok_ = server_->Start().ok();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/revocation";
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  bool ok() const { return ok_; }

 private:
  std::shared_ptr<api::Router> router_;
  std::unique_ptr<api::HttpServer> server_;
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  bool ok_ = false;
};

class PullTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { tpm_ = new testing::Swtpm(); }
  static void TearDownTestSuite() {
    delete tpm_;
    tpm_ = nullptr;
  }

  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    ASSERT_TRUE(tpm_ && tpm_->ok());
    ASSERT_TRUE(webhook_.ok());
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
    }
    app_ = StartApp("verifier-a", data_.path() + "/a");
    ASSERT_TRUE(app_);
    tenant_ = std::make_unique<HttpClient>(
        app_->verifier_port(),
        testing::TlsClientOptions{app_->verifier_tls().ca_cert, app_->verifier_tls().client_cert,
                                  app_->verifier_tls().client_key});
    auto [priv, pub] = testing::NewRsaKey();
    revocation_key_ = priv;
    revocation_pub_ = pub;
  }

  void TearDown() override {
    tenant_.reset();
    if (app_) app_->Shutdown(2000ms);
  }

  std::unique_ptr<Application> StartApp(const std::string& id, const std::string& dir,
                                        int64_t interval_s = 1) {
    Config config;
    config.listen = "127.0.0.1:0";
    config.verifier_listen = "127.0.0.1:0";
    // Both instances of a test share the CA: agents trust one verifier CA.
    config.data_dir = data_.path() + "/shared";
    (void)dir;
    config.threads = 2;
    config.workers = 1;
    config.log_level = "off";
    config.quote_interval_s = interval_s;
    config.verifier_id = id;
    config.max_retries = 3;
    config.retry_interval_s = 1.2;
    config.exponential_backoff = true;
    config.agent_timeout_s = 3;
    config.revocation_notifiers = "webhook,agent";
    config.webhook_url = webhook_.url();
    if (redis_) config.store = redis_->url();
    auto app = Application::Create(config);
    EXPECT_TRUE(app.ok()) << app.status().ToString();
    if (!app.ok()) return nullptr;
    EXPECT_TRUE((*app)->Start().ok());
    return std::move(*app);
  }

  static std::string Pcr23() {
    auto q = tpm_->Quote("rsa", "n0nce123", "sha256:23");
    return q ? HexEncode(q->pcrblob.substr(132 + 4 + 4 + 2, 32)) : "";
  }

  // What `keylime_tenant -c add` sends for a pull agent.
  std::string EnrolBody(const testing::PullAgent& agent, const std::string& v,
                        std::string pcr23 = "") {
    if (pcr23.empty()) pcr23 = Pcr23();
    return Enrol(agent, v, "{\"23\": [\"" + pcr23 + "\"], \"mask\": \"0x800000\"}", *tpm_);
  }

  // The same for an agent on `tpm` with runtime (JSON, sent base64) and
  // measured-boot (refstate) policies; no tpm_policy PCRs.
  std::string PolicyEnrolBody(const testing::PullAgent& agent, testing::Swtpm& tpm,
                              const std::string& runtime_policy, const std::string& mb_policy) {
    return Enrol(agent, "", "{\"mask\": \"0x0\"}", tpm, runtime_policy, mb_policy);
  }

  std::string Enrol(const testing::PullAgent& agent, const std::string& v,
                    const std::string& tpm_policy, testing::Swtpm& tpm,
                    const std::string& runtime_policy = "", const std::string& mb_policy = "") {
    JsonWriter w;
    w.BeginObject();
    w.Key("v").String(Base64Encode(v));
    w.Key("cloudagent_ip").String("127.0.0.1");
    w.Key("cloudagent_port").Int(agent.port());
    w.Key("tpm_policy").String(tpm_policy);
    w.Key("runtime_policy").String(Base64Encode(runtime_policy));
    w.Key("runtime_policy_name").Null();
    w.Key("runtime_policy_key").Null();
    w.Key("mb_policy");
    mb_policy.empty() ? w.Null() : w.String(mb_policy);
    w.Key("mb_policy_name").Null();
    w.Key("ima_sign_verification_keys").String("[]");
    w.Key("metadata").String("{}");
    w.Key("revocation_key").String(revocation_key_);
    w.Key("accept_tpm_hash_algs").BeginArray().String("sha512").String("sha256").EndArray();
    w.Key("accept_tpm_encryption_algs").BeginArray().String("ecc").String("rsa").EndArray();
    w.Key("accept_tpm_signing_algs").BeginArray().String("ecschnorr").String("rsassa").EndArray();
    w.Key("ak_tpm").String(Base64Encode(tpm.AkPublic("rsa")));
    w.Key("mtls_cert").String(agent.mtls_cert());
    w.Key("supported_version").String("2.1");
    w.EndObject();
    return w.Take();
  }

  std::string Field(const std::string& id, const std::string& field) {
    HttpResponse r = tenant_->Request("GET", "/v2.1/agents/" + id);
    return JsonAt(r.body, "/results/" + field).value_or("<none>");
  }

  // An agent quoting with `tpm` (default: the suite's).
  std::unique_ptr<testing::PullAgent> NewAgent(const std::string& id,
                                               testing::Swtpm* tpm = nullptr) {
    auto agent = std::make_unique<testing::PullAgent>(id, tpm ? tpm : tpm_,
                                                      app_->verifier_tls().ca_cert, "2.1");
    EXPECT_TRUE(agent->Start());
    return agent;
  }

  static testing::Swtpm* tpm_;
  testing::TempDir data_;
  Webhook webhook_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> tenant_;
  std::string revocation_key_, revocation_pub_;
};

testing::Swtpm* PullTest::tpm_ = nullptr;

TEST_P(PullTest, FirstQuoteDeliversVAndTheAgentDerivesTheKey) {
  auto agent = NewAgent("pull-agent-1");
  std::string k = *RandomBytes(32), u = *RandomBytes(32), v(32, '\0');
  for (size_t i = 0; i < 32; ++i) v[i] = static_cast<char>(k[i] ^ u[i]);
  HttpResponse r = tenant_->Request("POST", "/v2.1/agents/pull-agent-1", {}, EnrolBody(*agent, v));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor([&] { return agent->v_received() >= 1; }, 10s))
      << "state " << Field("pull-agent-1", "operational_state") << " event "
      << Field("pull-agent-1", "last_event_id");
  EXPECT_EQ(agent->v_received(), 1);
  EXPECT_GE(agent->quotes(), 1);
  EXPECT_FALSE(agent->has_key());
  // The tenant gives U to the agent itself (trusting its mtls_cert); then U
  // and V combine to K, and /keys/verify answers K's HMAC of a challenge.
  HttpClient to_agent(agent->port(),
                      testing::TlsClientOptions{agent->ca_file(), app_->verifier_tls().client_cert,
                                                app_->verifier_tls().client_key});
  r = to_agent.Request("POST", "/v2.1/keys/ukey", {}, agent->UKeyBody(u, k));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(agent->has_key());
  r = to_agent.Request("GET", "/v2.1/keys/verify?challenge=abcdef123");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/hmac"), testing::HmacSha384Hex(k, "abcdef123"));
  EXPECT_TRUE(WaitFor([&] { return Field("pull-agent-1", "operational_state") == "3"; }, 5s));
  EXPECT_EQ(Field("pull-agent-1", "attestation_status"), "PASS");
  EXPECT_EQ(Field("pull-agent-1", "verifier_id"), "verifier-a");
  EXPECT_EQ(Field("pull-agent-1", "hash_alg"), "sha256");
  EXPECT_EQ(Field("pull-agent-1", "enc_alg"), "rsa");
  EXPECT_EQ(Field("pull-agent-1", "sign_alg"), "rsassa");
  // Re-attestation every quote_interval, with partial quotes (no pubkey).
  int before = agent->quotes();
  EXPECT_TRUE(WaitFor([&] { return agent->quotes() >= before + 2; }, 6s));
  // The count moves once the quote the agent served is appraised.
  EXPECT_TRUE(
      WaitFor([&] { return std::stoi(Field("pull-agent-1", "attestation_count")) >= 3; }, 5s))
      << Field("pull-agent-1", "attestation_count");
  EXPECT_EQ(agent->v_received(), 1);  // V goes once per agent key
}

TEST_P(PullTest, APcrExtendGivesInvalidQuoteAndRevocationNotifications) {
  auto agent = NewAgent("pull-agent-2");
  std::string v = *RandomBytes(32);
  ASSERT_EQ(tenant_->Request("POST", "/v2.1/agents/pull-agent-2", {}, EnrolBody(*agent, v)).status,
            200);
  // Another pull agent, told about the revocation (revocation_notifiers: agent).
  auto bystander = NewAgent("bystander");
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/bystander", {}, EnrolBody(*bystander, "")).status,
      200);
  ASSERT_TRUE(WaitFor([&] { return Field("pull-agent-2", "attestation_count") == "1"; }, 10s))
      << Field("pull-agent-2", "last_event_id");
  ASSERT_TRUE(tpm_->Extend(23, "sha256", std::string(64, 'f')));
  ASSERT_TRUE(WaitFor([&] { return Field("pull-agent-2", "operational_state") == "9"; }, 10s));
  EXPECT_EQ(Field("pull-agent-2", "attestation_status"), "FAIL");
  EXPECT_EQ(Field("pull-agent-2", "last_event_id"), "pcr_validation.invalid_pcr_23");
  EXPECT_EQ(Field("pull-agent-2", "severity_level"), "7");
  // The webhook got Keylime's message, signed with the revocation key.
  ASSERT_TRUE(WaitFor([&] { return !webhook_.bodies().empty(); }, 5s));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& b : webhook_.bodies()) {
          if (JsonAt(JsonAt(b, "/msg").value_or(""), "/agent_id") == "pull-agent-2") return true;
        }
        return false;
      },
      5s));
  std::string body, msg;
  for (const std::string& b : webhook_.bodies()) {
    body = b;
    msg = JsonAt(b, "/msg").value_or("");
    if (JsonAt(msg, "/agent_id") == "pull-agent-2") break;
  }
  EXPECT_EQ(JsonAt(msg, "/type"), "revocation");
  EXPECT_EQ(JsonAt(msg, "/agent_id"), "pull-agent-2");
  EXPECT_EQ(JsonAt(msg, "/ip"), "127.0.0.1");
  EXPECT_EQ(JsonAt(msg, "/port"), std::to_string(agent->port()));
  EXPECT_EQ(JsonAt(msg, "/event_id"), "pcr_validation.invalid_pcr_23");
  EXPECT_EQ(JsonAt(msg, "/severity_label"), "emergency");
  EXPECT_TRUE(JsonAt(msg, "/context").has_value());
  EXPECT_TRUE(JsonAt(msg, "/event_time").has_value());
  EXPECT_TRUE(testing::RsaPssVerify(revocation_pub_, msg, JsonAt(body, "/signature").value_or("")));
  // The other agent got the same signed message on its revocation route.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& b : bystander->revocations()) {
          if (JsonAt(JsonAt(b, "/msg").value_or(""), "/agent_id") == "pull-agent-2") return true;
        }
        return false;
      },
      5s));
  for (const std::string& b : bystander->revocations()) {
    std::string m = JsonAt(b, "/msg").value_or("");
    if (JsonAt(m, "/agent_id") != "pull-agent-2") continue;
    EXPECT_EQ(JsonAt(m, "/event_id"), "pcr_validation.invalid_pcr_23");
    EXPECT_TRUE(testing::RsaPssVerify(revocation_pub_, m, JsonAt(b, "/signature").value_or("")));
  }
  // An agent with an invalid quote is no longer polled.
  int quotes = agent->quotes();
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(agent->quotes(), quotes);
}

TEST_P(PullTest, AnAgentThatIsDownIsRetriedWithBackoffThenFailed) {
  auto agent = NewAgent("pull-agent-3");
  agent->Stop();
  int64_t start = NowMillis();
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/pull-agent-3", {}, EnrolBody(*agent, *RandomBytes(32)))
          .status,
      200);
  ASSERT_TRUE(WaitFor([&] { return Field("pull-agent-3", "operational_state") == "4"; }, 5s));
  ASSERT_TRUE(WaitFor([&] { return Field("pull-agent-3", "operational_state") == "7"; }, 15s));
  // Three retries after 1.2^1, 1.2^2 and 1.2^3 seconds (4.4 s in all).
  EXPECT_GE(NowMillis() - start, 4300);
  EXPECT_EQ(Field("pull-agent-3", "last_event_id"), "internal.not_reachable");
  // Never good before: no comm_error notification (as Keylime).
  EXPECT_TRUE(webhook_.bodies().empty());
  // Reactivated with the agent back: it attests.
  ASSERT_TRUE(agent->Start());
  ASSERT_EQ(tenant_->Request("PUT", "/v2.1/agents/pull-agent-3/reactivate").status, 200);
  EXPECT_TRUE(WaitFor([&] { return Field("pull-agent-3", "attestation_status") == "PASS"; }, 10s));
}

TEST_P(PullTest, AnAgentBackBeforeMaxRetriesRecovers) {
  auto agent = NewAgent("pull-agent-4");
  agent->Stop();
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/pull-agent-4", {}, EnrolBody(*agent, *RandomBytes(32)))
          .status,
      200);
  ASSERT_TRUE(WaitFor([&] { return Field("pull-agent-4", "operational_state") == "4"; }, 5s));
  ASSERT_TRUE(agent->Start());
  EXPECT_TRUE(WaitFor([&] { return Field("pull-agent-4", "attestation_status") == "PASS"; }, 10s));
  EXPECT_TRUE(WaitFor([&] { return Field("pull-agent-4", "operational_state") == "3"; }, 5s));
}

TEST_P(PullTest, StopReactivateAndDeleteTakeEffectAtTheNextPoll) {
  auto agent = NewAgent("pull-agent-5");
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/pull-agent-5", {}, EnrolBody(*agent, *RandomBytes(32)))
          .status,
      200);
  ASSERT_TRUE(WaitFor([&] { return agent->quotes() >= 2; }, 10s));
  ASSERT_EQ(tenant_->Request("PUT", "/v2.1/agents/pull-agent-5/stop").status, 200);
  std::this_thread::sleep_for(1500ms);  // a poll under way may still finish
  int stopped = agent->quotes();
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(agent->quotes(), stopped);
  EXPECT_EQ(Field("pull-agent-5", "operational_state"), "10");
  ASSERT_EQ(tenant_->Request("PUT", "/v2.1/agents/pull-agent-5/reactivate").status, 200);
  EXPECT_TRUE(WaitFor([&] { return agent->quotes() >= stopped + 2; }, 10s));
  ASSERT_EQ(tenant_->Request("DELETE", "/v2.1/agents/pull-agent-5").status, 200);
  std::this_thread::sleep_for(1500ms);
  int deleted = agent->quotes();
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(agent->quotes(), deleted);
}

TEST_P(PullTest, ApiVersionIsNegotiatedWithTheAgentsVersionRoute) {
  auto agent = std::make_unique<testing::PullAgent>("pull-agent-6", tpm_,
                                                    app_->verifier_tls().ca_cert, "2.2");
  agent->set_min_version("2.2");
  ASSERT_TRUE(agent->Start());
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/pull-agent-6", {}, EnrolBody(*agent, *RandomBytes(32)))
          .status,
      200);
  EXPECT_TRUE(WaitFor([&] { return Field("pull-agent-6", "attestation_status") == "PASS"; }, 10s))
      << Field("pull-agent-6", "last_event_id");
  auto stored = app_->keylime().agents->Get("pull-agent-6");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->supported_version, "2.2");
}

// Two attestd processes on one Redis share the pull agents; when one dies,
// the other attests every agent again within about one interval.
TEST_P(PullTest, TwoInstancesShareTheAgentsAndTakeOverFromADeadOne) {
  if (GetParam() != "redis") GTEST_SKIP() << "needs a store shared between instances";
  auto other = StartApp("verifier-b", data_.path() + "/b");
  ASSERT_TRUE(other);
  constexpr int kAgents = 8;
  std::vector<std::unique_ptr<testing::PullAgent>> agents;
  for (int i = 0; i < kAgents; ++i) {
    std::string id = "shared-" + std::to_string(i);
    agents.push_back(NewAgent(id));
    ASSERT_EQ(
        tenant_->Request("POST", "/v2.1/agents/" + id, {}, EnrolBody(*agents.back(), "")).status,
        200);
  }
  // Every agent attested; each one by exactly one instance at a time.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < kAgents; ++i) {
          if (Field("shared-" + std::to_string(i), "attestation_count") == "0") return false;
        }
        return true;
      },
      20s));
  int held_by_b = 0;
  for (int i = 0; i < kAgents; ++i) {
    std::string holder = Field("shared-" + std::to_string(i), "verifier_id");
    EXPECT_TRUE(holder == "verifier-a" || holder == "verifier-b") << holder;
    held_by_b += holder == "verifier-b";
  }
  // Kill the instance that polls more of them (no orderly hand-over of
  // leases: they run out); the other one takes them all.
  bool kill_b = held_by_b * 2 >= kAgents;
  std::string survivor = kill_b ? "verifier-a" : "verifier-b";
  Application* keep = kill_b ? app_.get() : other.get();
  tenant_ = std::make_unique<HttpClient>(
      keep->verifier_port(),
      testing::TlsClientOptions{keep->verifier_tls().ca_cert, keep->verifier_tls().client_cert,
                                keep->verifier_tls().client_key});
  (kill_b ? other : app_)->Shutdown(0ms);
  (kill_b ? other : app_).reset();
  int64_t killed_s = NowMillis() / 1000;
  // One interval (1 s) plus the lease grace (0.5 s) plus a round of real
  // TPM quotes (about 0.1 s each, one TPM for all agents).
  EXPECT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < kAgents; ++i) {
          std::string id = "shared-" + std::to_string(i);
          if (Field(id, "verifier_id") != survivor) return false;
          if (std::stoll(Field(id, "last_successful_attestation")) <= killed_s) return false;
        }
        return true;
      },
      4s));
  if (!app_) app_ = std::move(other);  // TearDown shuts the survivor down
}

// 200 simulated pull agents (one address and key, a real quote per
// request) shared by two instances; one dies and the other attests every
// agent again within one interval of its due time.
TEST_P(PullTest, TwoHundredSimulatedAgentsSurviveTheDeathOfAnInstance) {
  if (GetParam() != "redis") GTEST_SKIP() << "needs a store shared between instances";
  constexpr int kAgents = 200;
  constexpr int64_t kIntervalS = 4;
  app_->Shutdown(0ms);
  app_ = StartApp("verifier-a", "", kIntervalS);
  auto other = StartApp("verifier-b", "", kIntervalS);
  ASSERT_TRUE(app_ && other);
  tenant_ = std::make_unique<HttpClient>(
      app_->verifier_port(),
      testing::TlsClientOptions{app_->verifier_tls().ca_cert, app_->verifier_tls().client_cert,
                                app_->verifier_tls().client_key});
  std::string pcr23 = Pcr23();  // before the quoter holds the TPM's connection
  testing::EsapiQuoter quoter(tpm_->port());
  ASSERT_TRUE(quoter.ok());
  auto agent = NewAgent("sim");
  agent->set_quoter(&quoter);
  for (int i = 0; i < kAgents; ++i) {
    ASSERT_EQ(tenant_
                  ->Request("POST", "/v2.1/agents/sim-" + std::to_string(i), {},
                            EnrolBody(*agent, "", pcr23))
                  .status,
              200);
  }
  auto all = [&](const std::function<bool(const VerifierAgent&)>& pred) {
    for (int i = 0; i < kAgents; ++i) {
      auto a = app_->keylime().agents->Get("sim-" + std::to_string(i));
      if (!a.ok() || !pred(*a)) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        return all([](const VerifierAgent& a) {
          return a.attestation_count >= 2 && a.attestation_status == "PASS";
        });
      },
      30s));
  int held_by_b = 0;
  for (int i = 0; i < kAgents; ++i) {
    held_by_b +=
        app_->keylime().agents->Get("sim-" + std::to_string(i))->pull.verifier_id == "verifier-b";
  }
  EXPECT_GT(held_by_b, 0);
  EXPECT_LT(held_by_b, kAgents);
  other->Shutdown(0ms);
  other.reset();
  int64_t killed_s = NowMillis() / 1000;
  // Due within one interval, plus the grace (2 s) and a round of quotes.
  EXPECT_TRUE(WaitFor(
      [&] {
        return all([&](const VerifierAgent& a) {
          return a.pull.verifier_id == "verifier-a" && a.last_successful_attestation_s > killed_s;
        });
      },
      std::chrono::seconds(kIntervalS + 4)));
  app_->Shutdown(2000ms);  // before the quoter goes
}

// The agents a process polls right now: claimed, not released (an
// in-flight claim is due when its lease ends; a released agent is due a
// grace before). Reads the PollSchedule's Redis keys (redis_poll_schedule.h).
const RedisScript kInFlight(
    "local out = {}\n"
    "local l = redis.call('HGETALL', KEYS[2])\n"
    "for i = 1, #l, 2 do\n"
    "  local sp = string.find(l[i + 1], ' ', 1, true)\n"
    "  local exp, who = string.sub(l[i + 1], 1, sp - 1), string.sub(l[i + 1], sp + 1)\n"
    "  local due = redis.call('ZSCORE', KEYS[1], l[i])\n"
    "  if string.sub(who, 1, #ARGV[1]) == ARGV[1] and due and tonumber(due) == tonumber(exp) then\n"
    "    out[#out + 1] = l[i]\n"
    "  end\n"
    "end\n"
    "return out\n");

// attestd processes (the binary) on the test's Redis, stopped at the end.
class Processes {
 public:
  ~Processes() {
    for (pid_t pid : pids_) testing::StopProcess(pid);
  }
  // Starts one with `verifier_id`; its verifier port, or 0.
  int Start(const std::string& verifier_id, const std::string& store, const std::string& data_dir) {
    int port = testing::FreePort(), verifier_port = testing::FreePort();
    pid_t pid = testing::Spawn(
        {ATTESTD_BINARY, "--listen", "127.0.0.1:" + std::to_string(port), "--store", store,
         "--registrar-listen", "none", "--registrar-admin-listen", "none", "--verifier-listen",
         "127.0.0.1:" + std::to_string(verifier_port), "--data-dir", data_dir, "--verifier-id",
         verifier_id, "--quote-interval", "2", "--threads", "2", "--workers", "1",
         // Few polls at once, so the first instance
         // up does not claim every agent.
         "--pull-concurrency", "8", "--log-level", "warn"},
        data_dir + "/" + verifier_id + ".log");
    if (pid <= 0) return 0;
    pids_.push_back(pid);
    ids_.push_back(verifier_id);
    return testing::WaitForPort(verifier_port, 10000) ? verifier_port : 0;
  }
  // SIGKILL: no orderly shutdown, nothing released.
  void Kill(const std::string& verifier_id) {
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (ids_[i] != verifier_id || pids_[i] <= 0) continue;
      ::kill(pids_[i], SIGKILL);
      ::waitpid(pids_[i], nullptr, 0);
      pids_[i] = -1;
    }
  }

 private:
  std::vector<pid_t> pids_;
  std::vector<std::string> ids_;
};

// Two attestd processes share 24 slow pull agents (each quote answered
// 500 ms late, so polls are under way at every moment) through Redis. The
// one polling more of them is killed with SIGKILL while it has polls under
// way: nothing is released, its claims run out. The survivor attests every
// agent again within one interval plus the lease grace (2 s + 1 s) and a
// poll, not after the 41 s (3 x agent-timeout + appraisal wait + grace) a
// claim used to last.
TEST_P(PullTest, TheSurvivorOfASigkillAttestsItsAgentsWithinAnInterval) {
  if (GetParam() != "redis") GTEST_SKIP() << "needs a store shared between processes";
  constexpr int kAgents = 24;
  constexpr int64_t kDelayMs = 500;
  // The processes use the in-process instance's data directory (its CA,
  // certificates and tenant certificate); it polls no more.
  const TlsMaterial tls = app_->verifier_tls();
  const std::string data_dir = data_.path() + "/shared";
  app_->Shutdown(0ms);
  app_.reset();
  std::string pcr23 = Pcr23();  // before the quoter holds the TPM's connection
  testing::EsapiQuoter quoter(tpm_->port());
  ASSERT_TRUE(quoter.ok());
  testing::PullAgent agent("sim", tpm_, tls.ca_cert, "2.1");
  agent.set_quoter(&quoter);
  agent.set_threads(32);  // each late answer blocks one: never all of them
  agent.set_quote_delay(kDelayMs);
  ASSERT_TRUE(agent.Start());
  Processes procs;  // stopped before the agent and the quoter go
  int port_a = procs.Start("verifier-a", redis_->url(), data_dir);
  int port_b = procs.Start("verifier-b", redis_->url(), data_dir);
  ASSERT_TRUE(port_a && port_b) << "see " << data_dir << "/verifier-*.log";
  tenant_ = std::make_unique<HttpClient>(
      port_a, testing::TlsClientOptions{tls.ca_cert, tls.client_cert, tls.client_key});
  std::vector<std::string> ids;
  for (int i = 0; i < kAgents; ++i) {
    ids.push_back("slow-" + std::to_string(i));
    ASSERT_EQ(
        tenant_->Request("POST", "/v2.1/agents/" + ids.back(), {}, EnrolBody(agent, "", pcr23))
            .status,
        200);
  }
  StoreOptions so;
  so.url = redis_->url();
  auto stores = OpenStores(so);
  ASSERT_TRUE(stores.ok());
  auto get = [&](const std::string& id) {
    auto a = stores->agents->Get(id);
    return a.ok() ? *a : VerifierAgent{};
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& id : ids) {
          VerifierAgent a = get(id);
          if (a.attestation_count < 2 || a.attestation_status != "PASS") return false;
        }
        return true;
      },
      30s));
  int held_by_b = 0;
  for (const auto& id : ids) held_by_b += get(id).pull.verifier_id == "verifier-b";
  EXPECT_GT(held_by_b, 0);
  EXPECT_LT(held_by_b, kAgents);
  const std::string victim = held_by_b * 2 >= kAgents ? "verifier-b" : "verifier-a";
  const std::string survivor = victim == "verifier-b" ? "verifier-a" : "verifier-b";
  RedisPool pool(redis_->pool_options(1));
  auto in_flight = [&] {
    std::set<std::string> out;
    auto r = pool.Eval(kInFlight, {"attestd:{pull}:due", "attestd:{pull}:lease"}, {victim + "#"});
    for (size_t i = 0; r.ok() && i < r->size(); ++i) out.insert((*r)[i].to_string());
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return in_flight().size() >= 2; }, 10s));
  procs.Kill(victim);
  auto killed = std::chrono::steady_clock::now();
  std::set<std::string> dying = in_flight();  // polls cut short by the kill
  EXPECT_GE(dying.size(), 1u);
  std::map<std::string, int64_t> count_at_kill;
  for (const auto& id : ids) count_at_kill[id] = get(id).attestation_count;
  // When the survivor attested each agent again (ms after the kill);
  // measured up to 15 s so that a failure shows the real figure.
  std::map<std::string, int64_t> taken;
  while (taken.size() < ids.size() && std::chrono::steady_clock::now() - killed < 15s) {
    for (const auto& id : ids) {
      if (taken.count(id)) continue;
      VerifierAgent a = get(id);
      if (a.pull.verifier_id == survivor && a.attestation_count > count_at_kill[id]) {
        taken[id] = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - killed)
                        .count();
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  int64_t all_ms = 0, dying_ms = 0;
  std::string each;  // id:ms, cut polls marked *
  for (const auto& id : ids) {
    int64_t ms = taken.count(id) ? taken[id] : 15000;
    all_ms = std::max(all_ms, ms);
    if (dying.count(id)) dying_ms = std::max(dying_ms, ms);
    each += " " + id.substr(5) + (dying.count(id) ? "*" : "") + ":" + std::to_string(ms);
  }
  SCOPED_TRACE("after the kill, ms:" + each);
  RecordProperty("takeover_all_ms", std::to_string(all_ms));
  RecordProperty("takeover_in_flight_ms", std::to_string(dying_ms));
  std::printf(
      "[ takeover ] %zu polls cut by SIGKILL attested again after %lld ms, every agent "
      "after %lld ms\n",
      dying.size(), static_cast<long long>(dying_ms), static_cast<long long>(all_ms));
  EXPECT_EQ(taken.size(), ids.size());
  // Interval 2 s + grace 1 s + a 0.5 s poll, and a margin for a loaded host.
  EXPECT_LE(all_ms, 5000);
  // A poll cut short: its claim ends within the grace (1 s), then a poll.
  EXPECT_LE(dying_ms, 4000);
}

// A runtime policy: the agent's IMA list (real files, PCR 10 of its own
// swtpm extended in step) is appraised at every poll, only from the entry
// the last poll stopped at (from the start again after a reboot), and a
// file not in the policy fails the agent.
TEST_P(PullTest, TheImaListIsAppraisedIncrementallyAtEveryPoll) {
  testing::Swtpm tpm;  // PCR 10 of its own
  ASSERT_TRUE(tpm.ok());
  bool extended = true;
  testing::ImaLogBuilder log;
  log.SetExtendHook([&](const std::string& bank, const std::string& value) {
    extended &= tpm.Extend(10, bank, HexEncode(value));
  });
  testing::ImaPolicyBuilder policy;
  log.BootAggregate();
  policy.Digest("boot_aggregate", tpm::Digest(*tpm::HashAlgByName("sha256"), "boot"));
  for (const char* f : {"/bin/ls", "/bin/true", "/bin/cat"}) policy.Digest(f, log.AddFile(f));
  ASSERT_TRUE(extended);
  auto agent = NewAgent("pull-ima", &tpm);
  agent->Change([&](testing::PullAgent::Logs& l) { l.ima_list = log.text(); });
  HttpResponse r = tenant_->Request("POST", "/v2.1/agents/pull-ima", {},
                                    PolicyEnrolBody(*agent, tpm, policy.Json(), ""));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor([&] { return Field("pull-ima", "attestation_count") != "0"; }, 10s))
      << Field("pull-ima", "last_event_id");
  EXPECT_EQ(Field("pull-ima", "attestation_status"), "PASS");
  EXPECT_EQ(agent->ima_ml_entries().front(), 0);

  // Two more entries: the next poll asks from entry 4 on, the one after
  // from entry 6 on (both were appraised and passed).
  agent->Change([&](testing::PullAgent::Logs& l) {
    for (const char* f : {"/bin/ls", "/bin/true"}) log.AddFile(f);
    l.ima_list = log.text();
  });
  ASSERT_TRUE(extended);
  auto asked = [&](int64_t entry) {
    auto e = agent->ima_ml_entries();
    return std::find(e.begin(), e.end(), entry) != e.end();
  };
  EXPECT_TRUE(WaitFor([&] { return asked(4) && asked(6); }, 10s))
      << ::testing::PrintToString(agent->ima_ml_entries()) << " "
      << Field("pull-ima", "last_event_id");
  EXPECT_EQ(Field("pull-ima", "attestation_status"), "PASS");
  EXPECT_EQ(Field("pull-ima", "operational_state"), "3");

  // A reboot: PCR 10 and the list start over. Asked from entry 6 on, the
  // agent answers with its whole shorter list from entry 0, which passes;
  // then it is asked from entry 2 on.
  agent->Change([&](testing::PullAgent::Logs& l) {
    extended &= tpm.Restart();
    log = testing::ImaLogBuilder();
    log.SetExtendHook([&](const std::string& bank, const std::string& value) {
      extended &= tpm.Extend(10, bank, HexEncode(value));
    });
    log.BootAggregate();
    log.AddFile("/bin/ls");
    l.ima_list = log.text();
  });
  ASSERT_TRUE(extended);
  EXPECT_TRUE(WaitFor([&] { return asked(2); }, 10s))
      << ::testing::PrintToString(agent->ima_ml_entries()) << " "
      << Field("pull-ima", "last_event_id");
  EXPECT_EQ(Field("pull-ima", "attestation_status"), "PASS");

  // A file whose digest the policy does not list.
  std::string unlisted = data_.path() + "/evil.sh";
  std::ofstream(unlisted) << "echo evil\n";
  agent->Change([&](testing::PullAgent::Logs& l) {
    log.AddFile(unlisted);
    l.ima_list = log.text();
  });
  ASSERT_TRUE(extended);
  ASSERT_TRUE(WaitFor([&] { return Field("pull-ima", "operational_state") == "9"; }, 10s))
      << Field("pull-ima", "last_event_id");
  EXPECT_EQ(Field("pull-ima", "attestation_status"), "FAIL");
  EXPECT_EQ(Field("pull-ima", "last_event_id"), "ima.validation.ima-ng.not_in_allowlist");
}

// A measured-boot policy: the agent's UEFI boot log (a real one, replayed
// into its swtpm) is appraised against the refstate; another refstate fails.
TEST_P(PullTest, TheBootLogIsAppraisedAgainstTheMeasuredBootPolicy) {
  testing::Swtpm tpm;  // PCRs 0-9 and 14 of its own
  ASSERT_TRUE(tpm.ok());
  std::string boot = testing::EventLogFile("event-moklisttrusted.bin");
  ASSERT_TRUE(testing::ExtendLogIntoTpm(tpm, boot, "sha256"));
  std::string ref = testing::RefstateFor(boot, false);
  ASSERT_FALSE(ref.empty());
  auto good = NewAgent("pull-mb", &tpm);
  good->Change([&](testing::PullAgent::Logs& l) { l.boot_log = boot; });
  ASSERT_EQ(
      tenant_->Request("POST", "/v2.1/agents/pull-mb", {}, PolicyEnrolBody(*good, tpm, "", ref))
          .status,
      200);
  EXPECT_TRUE(WaitFor([&] { return Field("pull-mb", "attestation_status") == "PASS"; }, 10s))
      << Field("pull-mb", "last_event_id");
  EXPECT_TRUE(WaitFor([&] { return std::stoi(Field("pull-mb", "attestation_count")) >= 2; }, 10s));

  // The same machine against a refstate with another kernel command line.
  std::string other = ref;
  size_t at = other.find("\"kernel_cmdline\":\"");
  ASSERT_NE(at, std::string::npos);
  other.insert(at + std::string("\"kernel_cmdline\":\"").size(), "quiet-other ");
  auto bad = NewAgent("pull-mb-bad", &tpm);
  bad->Change([&](testing::PullAgent::Logs& l) { l.boot_log = boot; });
  ASSERT_EQ(
      tenant_
          ->Request("POST", "/v2.1/agents/pull-mb-bad", {}, PolicyEnrolBody(*bad, tpm, "", other))
          .status,
      200);
  ASSERT_TRUE(WaitFor([&] { return Field("pull-mb-bad", "operational_state") == "9"; }, 10s))
      << Field("pull-mb-bad", "last_event_id");
  EXPECT_EQ(Field("pull-mb-bad", "last_event_id"), "measured_boot.kernel_cmdline");
  EXPECT_EQ(Field("pull-mb", "attestation_status"), "PASS");
}

INSTANTIATE_TEST_SUITE_P(Stores, PullTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
