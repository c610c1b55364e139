// attestd under store trouble and unauthenticated load: a full Redis
// (maxmemory 2mb, noeviction) and a stopped one answer 503 with Retry-After
// in each listener's format and no Redis internals, /readyz says not ready
// until writes work again; --max-sessions refuses new sessions at the cap
// on both stores (with Redis, across instances) without touching waiting
// ones; --rate-limit answers 429 per client address; a Redis outage under
// load leaves a log of a few lines, not one per failed request.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "server/application.h"
#include "store/redis/redis_pool.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/test_verifiers.h"

namespace attestd {
namespace {

using namespace std::chrono_literals;
using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr char kNew[] = "/challenge-response/v1/newSession";

// The value of an unlabelled series in /metrics; -1 if absent.
double MetricValue(const std::string& text, const std::string& name) {
  std::regex line("(^|\n)" + name + " ([0-9.e+]+)");
  std::smatch m;
  if (!std::regex_search(text, m, line)) return -1;
  return std::stod(m[2]);
}

// A body that says nothing of Redis: no address, no Redis words, no hash.
void ExpectNoRedisInternals(const HttpResponse& r, const std::string& what) {
  for (const char* leak : {"127.0.0.1", "redis", "OOM", "maxmemory", "script", "refused"}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << what << ": " << r.body;
  }
  EXPECT_FALSE(std::regex_search(r.body, std::regex("[0-9a-f]{40}"))) << what << ": " << r.body;
}

void Expect503(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.status, 503) << what << ": " << r.body;
  EXPECT_FALSE(r.header("retry-after").empty()) << what;
  ExpectNoRedisInternals(r, what);
}

Config BaseConfig() {
  Config c;
  c.listen = "127.0.0.1:0";
  c.threads = 2;
  c.workers = 1;
  c.log_level = "off";
  return c;
}

std::unique_ptr<Application> Start(const Config& c) {
  auto app = Application::Create(c, testing::MakeTestRegistry());
  EXPECT_TRUE(app.ok()) << app.status().ToString();
  if (!app.ok()) return nullptr;
  EXPECT_TRUE((*app)->Start().ok());
  return std::move(*app);
}

// Puts 3 MiB of data in Redis, then sets maxmemory 2mb: Redis is then
// clearly over its limit (filling up to the limit would leave it hovering
// around it) and, with noeviction, refuses every write. True once a write
// is refused as kUnavailable.
bool FillUntilFull(const testing::RedisServer& redis) {
  RedisPool pool(redis.pool_options(1));
  std::string value(1024, 'x');
  for (int i = 0; i < 3072; ++i) {
    if (!pool.Command({"SET", "fill:" + std::to_string(i), value}).ok()) return false;
  }
  if (redis.Cli("CONFIG SET maxmemory 2mb") != "OK") return false;
  Result<RedisReply> r = pool.Command({"SET", "one-more", value});
  return !r.ok() && r.status().code() == StatusCode::kUnavailable;
}

TEST(RedisFull, WritesAnswer503AndReadyzIsNotReadyUntilFlushed) {
  SetLogLevel(LogLevel::kOff);
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  ASSERT_EQ(redis.Cli("CONFIG SET maxmemory-policy noeviction"), "OK");
  testing::TempDir dir;
  Config c = BaseConfig();
  c.store = redis.url();
  c.verifier_listen = "127.0.0.1:0";
  c.insecure_verifier = true;
  c.data_dir = dir.path();
  auto app = Start(c);
  ASSERT_TRUE(app);
  HttpClient cr(app->port()), verifier(app->verifier_port());
  HttpResponse before = cr.Request("POST", kNew);
  ASSERT_EQ(before.status, 201) << before.body;

  ASSERT_TRUE(FillUntilFull(redis)) << "Redis never refused a write";
  HttpResponse created = cr.Request("POST", kNew);
  Expect503(created, "newSession");
  EXPECT_EQ(created.header("content-type"), "application/problem+json");
  HttpResponse evidence =
      cr.Request("POST", before.header("location"), {{"Content-Type", testing::kEchoType}}, "x");
  Expect503(evidence, "evidence");
  HttpResponse ready = cr.Request("GET", "/readyz");
  Expect503(ready, "readyz");
  HttpResponse policy =
      verifier.Request("POST", "/v2.1/allowlists/p1", {}, R"({"runtime_policy":"e30="})");
  Expect503(policy, "Keylime allowlist");
  EXPECT_EQ(JsonAt(policy.body, "/code"), "503") << policy.body;
  // The session made before the store filled up is still readable.
  EXPECT_EQ(cr.Request("GET", before.header("location")).status, 200);

  ASSERT_EQ(redis.Cli("FLUSHALL"), "OK");
  std::this_thread::sleep_for(1100ms);  // /readyz caches its probe for 1 s
  EXPECT_EQ(cr.Request("GET", "/readyz").status, 200);
  EXPECT_EQ(cr.Request("POST", kNew).status, 201);
}

TEST(RedisDown, EveryListenerAnswers503InItsFormatWithoutTheAddress) {
  SetLogLevel(LogLevel::kOff);
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  testing::TempDir dir;
  Config c = BaseConfig();
  c.store = redis.url();
  c.registrar_listen = "127.0.0.1:0";
  c.registrar_admin_listen = "127.0.0.1:0";
  c.insecure_registrar = true;
  c.verifier_listen = "127.0.0.1:0";
  c.insecure_verifier = true;
  c.data_dir = dir.path();
  auto app = Start(c);
  ASSERT_TRUE(app);
  redis.Stop();
  HttpClient cr(app->port()), admin(app->registrar_admin_port()), verifier(app->verifier_port());
  HttpResponse created = cr.Request("POST", kNew);
  Expect503(created, "newSession");
  EXPECT_EQ(JsonAt(created.body, "/status"), "503");
  Expect503(cr.Request("GET", "/readyz"), "readyz");
  HttpResponse list = admin.Request("GET", "/v2.1/agents/");
  Expect503(list, "registrar list");
  EXPECT_EQ(JsonAt(list.body, "/code"), "503") << list.body;
  HttpResponse agent = verifier.Request("GET", "/v2.1/agents/a1");
  Expect503(agent, "verifier agent");
  EXPECT_EQ(JsonAt(agent.body, "/code"), "503") << agent.body;
  HttpResponse pop = verifier.Request(
      "POST", "/v3/sessions", {},
      R"({"data":{"type":"session","attributes":{"agent_id":"a1","authentication_supported":[{"authentication_class":"pop","authentication_type":"tpm_pop"}]}}})");
  Expect503(pop, "v3 session");
  EXPECT_EQ(JsonAt(pop.body, "/errors/0/status"), "503") << pop.body;
  EXPECT_EQ(pop.header("content-type"), "application/vnd.api+json");

  ASSERT_TRUE(redis.Start());
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    std::this_thread::sleep_for(100ms);
    back = cr.Request("POST", kNew).status == 201;
  }
  EXPECT_TRUE(back);
}

class SessionCapTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    GlobalMetrics().set_enabled(true);
    config_ = BaseConfig();
    config_.max_sessions = 3;
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config_.store = redis_->url();
    }
  }
  Config config_;
  std::unique_ptr<testing::RedisServer> redis_;
};

TEST_P(SessionCapTest, NewSessionIs503AtTheCapAndWaitingSessionsStay) {
  auto app = Start(config_);
  ASSERT_TRUE(app);
  HttpClient c(app->port());
  std::vector<std::string> sessions;
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = c.Request("POST", kNew);
    ASSERT_EQ(r.status, 201) << r.body;
    sessions.push_back(r.header("location"));
  }
  double refused_before =
      MetricValue(c.Request("GET", "/metrics").body, "attestd_sessions_refused_total");
  HttpResponse full = c.Request("POST", kNew);
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_FALSE(full.header("retry-after").empty());
  EXPECT_EQ(JsonAt(full.body, "/detail"), "too many live sessions; retry later");
  std::string metrics = c.Request("GET", "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "attestd_sessions_refused_total"), refused_before + 1);
  EXPECT_EQ(MetricValue(metrics, "attestd_max_sessions"), 3);
  // Nothing was evicted: every waiting session is still there, and takes
  // its evidence.
  for (const std::string& s : sessions) {
    EXPECT_EQ(JsonAt(c.Request("GET", s).body, "/state"), "waiting") << s;
  }
  // A deleted session makes room.
  EXPECT_EQ(c.Request("DELETE", sessions[0]).status, 204);
  EXPECT_EQ(c.Request("POST", kNew).status, 201);
  EXPECT_EQ(c.Request("POST", kNew).status, 503);
}

TEST_P(SessionCapTest, ExpiredSessionsMakeRoom) {
  config_.session_ttl_s = 1;
  auto app = Start(config_);
  ASSERT_TRUE(app);
  HttpClient c(app->port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.Request("POST", kNew).status, 201);
  EXPECT_EQ(c.Request("POST", kNew).status, 503);
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(c.Request("POST", kNew).status, 201);
}

INSTANTIATE_TEST_SUITE_P(Stores, SessionCapTest, ::testing::Values("memory", "redis"));

TEST(SessionCapSharedRedis, TheCapHoldsAcrossInstances) {
  SetLogLevel(LogLevel::kOff);
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  Config c = BaseConfig();
  c.store = redis.url();
  c.max_sessions = 4;
  auto one = Start(c);
  auto two = Start(c);
  ASSERT_TRUE(one && two);
  HttpClient a(one->port()), b(two->port());
  EXPECT_EQ(a.Request("POST", kNew).status, 201);
  EXPECT_EQ(b.Request("POST", kNew).status, 201);
  EXPECT_EQ(a.Request("POST", kNew).status, 201);
  EXPECT_EQ(b.Request("POST", kNew).status, 201);
  EXPECT_EQ(a.Request("POST", kNew).status, 503);
  EXPECT_EQ(b.Request("POST", kNew).status, 503);
}

TEST(RateLimit, NewSessionAndEvidenceAre429PerClientAddress) {
  SetLogLevel(LogLevel::kOff);
  GlobalMetrics().set_enabled(true);
  Config c = BaseConfig();
  c.rate_limit = 1;
  c.rate_limit_burst = 3;
  auto app = Start(c);
  ASSERT_TRUE(app);
  HttpClient client(app->port());
  HttpResponse first = client.Request("POST", kNew);
  ASSERT_EQ(first.status, 201);
  EXPECT_EQ(client.Request("POST", kNew).status, 201);
  // The third token goes to evidence, a POST of the same address.
  HttpResponse evidence = client.Request("POST", first.header("location"),
                                         {{"Content-Type", testing::kEchoType}}, "wrong");
  EXPECT_EQ(evidence.status, 200) << evidence.body;
  HttpResponse limited = client.Request("POST", kNew);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.header("retry-after"), "1");
  EXPECT_EQ(limited.header("content-type"), "application/problem+json");
  EXPECT_EQ(JsonAt(limited.body, "/status"), "429");
  HttpResponse limited_evidence =
      client.Request("POST", first.header("location"), {{"Content-Type", testing::kEchoType}}, "x");
  EXPECT_EQ(limited_evidence.status, 429);
  // Reads are not limited.
  EXPECT_EQ(client.Request("GET", first.header("location")).status, 200);
  std::string metrics = client.Request("GET", "/metrics").body;
  EXPECT_GE(MetricValue(metrics, "attestd_rate_limited_total"), 2);
  EXPECT_EQ(MetricValue(metrics, "attestd_rate_limit_clients"), 1);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(client.Request("POST", kNew).status, 201);
}

TEST(RateLimit, OffByDefault) {
  SetLogLevel(LogLevel::kOff);
  auto app = Start(BaseConfig());
  ASSERT_TRUE(app);
  HttpClient client(app->port());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(client.Request("POST", kNew).status, 201) << i;
}

int CountLines(const std::string& path, const std::string& needle = "") {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (needle.empty() || line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// The attestd binary, its log in a file, four clients asking for sessions
// as fast as they can while Redis is stopped for 5 s: thousands of 503s, a
// few dozen log lines.
TEST(LogSummary, RedisOutageUnderLoadWritesFewLines) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  testing::TempDir dir;
  int port = testing::FreePort();
  std::string log = dir.path() + "/attestd.log";
  pid_t pid = testing::Spawn(
      {ATTESTD_BINARY, "--listen", "127.0.0.1:" + std::to_string(port), "--store", redis.url(),
       "--registrar-listen", "none", "--registrar-admin-listen", "none", "--verifier-listen",
       "none", "--max-sessions", "0", "--threads", "2", "--workers", "1"},
      log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(testing::WaitForPort(port, 10000));
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, created{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      HttpClient c(port);
      while (!stop.load()) {
        int status = c.Request("POST", kNew).status;
        if (status == 201) {
          created.fetch_add(1);
        } else if (status == 503) {
          failed.fetch_add(1);
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  // At info level every answered request has its access line; those of the
  // outage's 503s are warnings, summarised like every repeated warning.
  redis.Stop();  // returns once redis-server has exited
  int lines_before = CountLines(log);
  int failed_before = failed.load();
  std::this_thread::sleep_for(5s);
  int lines = CountLines(log) - lines_before;
  int failed_during = failed.load() - failed_before;
  ASSERT_TRUE(redis.Start());
  std::this_thread::sleep_for(1s);
  stop.store(true);
  for (auto& t : clients) t.join();
  testing::StopProcess(pid);
  EXPECT_GT(failed_during, 1000) << "not enough load to prove anything";
  EXPECT_GT(created.load(), 0);
  // One line per kind of event (request 503, store unavailable, redis
  // unreachable, ...), not one per request.
  EXPECT_LT(lines, 20) << failed_during << " failed requests";
  std::cout << "outage: " << lines << " log lines for " << failed_during << " failed requests\n";
  // The first of each kind is written, with the details the answers lack.
  EXPECT_GT(CountLines(log, "status=503"), 0);
  EXPECT_GT(CountLines(log, "msg=\"store unavailable\""), 0);
  EXPECT_GT(CountLines(log, "127.0.0.1:" + std::to_string(redis.port())), 0)
      << "the log keeps the store's address";
}

}  // namespace
}  // namespace attestd
