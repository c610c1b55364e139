// The challenge-response API end to end over loopback HTTP, against the
// memory store and a real redis-server: every status of the contract, in
// its order, plus concurrency, expiry, async completion and keep-alive.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "api/session_json.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/time_util.h"
#include "server/application.h"
#include "service/worker_pool.h"
#include "store/stores.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/test_verifiers.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;
using testing::kEchoType;
using testing::kSlowType;

constexpr char kNew[] = "/challenge-response/v1/newSession";

class SessionApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config_.store = redis_->url();
    }
    config_.listen = "127.0.0.1:0";
    config_.threads = 4;
    config_.workers = 2;
    config_.log_level = "off";
    config_.max_body = 4096;
  }

  void StartServer() {
    auto app = Application::Create(config_, testing::MakeTestRegistry());
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<HttpClient>(app_->port());
  }

  void TearDown() override {
    client_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  // Creates a session; returns its path and raw nonce.
  std::pair<std::string, std::string> NewSession(const std::string& query = "") {
    HttpResponse r = client_->Request("POST", std::string(kNew) + query);
    EXPECT_EQ(r.status, 201) << r.body;
    auto nonce = Base64DecodeAny(JsonAt(r.body, "/nonce").value_or(""));
    return {r.header("location"), nonce.value_or("")};
  }

  HttpResponse Post(const std::string& path, const std::string& body, const std::string& type,
                    std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("Content-Type", type);
    return client_->Request("POST", path, extra, body);
  }

  HttpResponse WaitForState(const std::string& path, const std::string& state) {
    HttpResponse r;
    for (int i = 0; i < 300; ++i) {
      r = client_->Request("GET", path);
      if (JsonAt(r.body, "/state") == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return r;
  }

  Config config_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(SessionApiTest, NewSessionReturnsWaitingDocumentAndLocation) {
  StartServer();
  HttpResponse r = client_->Request("POST", kNew);
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.header("content-type"), api::kSessionMediaType);
  EXPECT_EQ(r.header("location").rfind("/challenge-response/v1/session/", 0), 0u);
  EXPECT_EQ(JsonAt(r.body, "/state"), "waiting");
  EXPECT_EQ(Base64DecodeStd(*JsonAt(r.body, "/nonce"))->size(), 32u);
  EXPECT_EQ(JsonAt(r.body, "/accept"),
            std::string("[\"") + kEchoType + "\",\"" + kSlowType + "\"]");
  EXPECT_FALSE(JsonAt(r.body, "/evidence").has_value());
  // Two sessions never share a nonce or an id.
  HttpResponse r2 = client_->Request("POST", kNew);
  EXPECT_NE(JsonAt(r.body, "/nonce"), JsonAt(r2.body, "/nonce"));
  EXPECT_NE(r.header("location"), r2.header("location"));
}

TEST_P(SessionApiTest, NonceSizeBounds) {
  StartServer();
  for (const char* ok : {"8", "32", "64"}) {
    HttpResponse r = client_->Request("POST", std::string(kNew) + "?nonceSize=" + ok);
    ASSERT_EQ(r.status, 201) << ok;
    EXPECT_EQ(Base64DecodeStd(*JsonAt(r.body, "/nonce"))->size(), std::stoul(ok));
  }
  for (const char* bad : {"7", "65", "0", "-8", "abc", "", "8x", "+8", "99999999999999999999"}) {
    HttpResponse r = client_->Request("POST", std::string(kNew) + "?nonceSize=" + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    EXPECT_EQ(JsonAt(r.body, "/status"), "400");
  }
}

TEST_P(SessionApiTest, ClientNonceInEveryBase64Form) {
  StartServer();
  std::string raw = "\xfb\xff\x01\x02\x03\x04\x05\x06\x07";  // 9 bytes with + and / in base64
  for (const std::string& enc : {Base64Encode(raw), Base64UrlEncode(raw),
                                 std::string("-_8BAgMEBQYH"), std::string("%2B%2F8BAgMEBQYH")}) {
    HttpResponse r = client_->Request("POST", std::string(kNew) + "?nonce=" + enc);
    ASSERT_EQ(r.status, 201) << enc;
    EXPECT_EQ(Base64DecodeStd(*JsonAt(r.body, "/nonce")), raw) << enc;
  }
  // 7 bytes, 65 bytes, not base64, both parameters.
  for (const std::string& q :
       {"?nonce=" + Base64Encode("1234567"), "?nonce=" + Base64Encode(std::string(65, 'x')),
        std::string("?nonce=@@@@"), std::string("?nonce=%zz"),
        "?nonceSize=8&nonce=" + Base64Encode("12345678")}) {
    EXPECT_EQ(client_->Request("POST", std::string(kNew) + q).status, 400) << q;
  }
}

TEST_P(SessionApiTest, AcceptNegotiation) {
  StartServer();
  for (const char* ok : {"*/*", "application/*", "application/json", api::kSessionMediaType,
                         "text/html, application/json;q=0.5", "APPLICATION/JSON"}) {
    EXPECT_EQ(client_->Request("POST", kNew, {{"Accept", ok}}).status, 201) << ok;
  }
  for (const char* bad : {"text/html", "application/json;q=0", "image/*", "application/xml"}) {
    HttpResponse r = client_->Request("POST", kNew, {{"Accept", bad}});
    EXPECT_EQ(r.status, 406) << bad;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
  }
  auto [path, nonce] = NewSession();
  EXPECT_EQ(client_->Request("GET", path, {{"Accept", "text/plain"}}).status, 406);
  // 406 comes before every other check: a bad query does not change it.
  EXPECT_EQ(client_->Request("POST", std::string(kNew) + "?nonceSize=1", {{"Accept", "text/html"}})
                .status,
            406);
}

TEST_P(SessionApiTest, EvidenceChecksInContractOrder) {
  StartServer();
  auto [path, nonce] = NewSession();
  // 3. empty body → 400; larger than max-body → 413.
  EXPECT_EQ(Post(path, "", kEchoType).status, 400);
  EXPECT_EQ(Post(path, std::string(5000, 'x'), kEchoType).status, 413);
  // 4. missing or unknown Content-Type → 415 with the Accept list.
  HttpResponse none = client_->Request("POST", path, {}, "x");
  EXPECT_EQ(none.status, 415);
  EXPECT_EQ(none.header("accept"), std::string(kEchoType) + ", " + kSlowType);
  HttpResponse unknown = Post(path, "x", "application/json");
  EXPECT_EQ(unknown.status, 415);
  EXPECT_EQ(unknown.header("accept"), std::string(kEchoType) + ", " + kSlowType);
  // Content-Types no MIME parser would accept still reach the route's check.
  for (const std::string type : {"garbage", "a/b", "/json", "application/", ""}) {
    HttpResponse odd = Post(path, "x", type);
    EXPECT_EQ(odd.status, 415) << type;
    EXPECT_EQ(odd.header("content-type"), "application/problem+json") << type;
    EXPECT_EQ(odd.header("accept"), std::string(kEchoType) + ", " + kSlowType) << type;
  }
  // 5. not a UUID → 400 (even with a bad type, 415 comes first); unknown → 404.
  EXPECT_EQ(Post("/challenge-response/v1/session/nope", "x", "application/json").status, 415);
  EXPECT_EQ(Post("/challenge-response/v1/session/nope", "x", kEchoType).status, 400);
  EXPECT_EQ(
      Post("/challenge-response/v1/session/6f0c5c5e-6b0e-4b8e-9a3c-1d2e3f4a5b6c", "x", kEchoType)
          .status,
      404);
  // The session survived all of that untouched.
  EXPECT_EQ(JsonAt(client_->Request("GET", path).body, "/state"), "waiting");
}

TEST_P(SessionApiTest, SyncAppraisalCompletesInTheRequest) {
  StartServer();
  auto [path, nonce] = NewSession();
  HttpResponse r = Post(path, nonce, std::string("Application/VND.Attestd.Test-Echo; charset=x"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/state"), "complete");
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "true");
  EXPECT_EQ(JsonAt(r.body, "/evidence/type"), kEchoType);
  EXPECT_EQ(Base64DecodeStd(*JsonAt(r.body, "/evidence/value")), nonce);
  HttpResponse g = client_->Request("GET", path);
  EXPECT_EQ(g.body, r.body);
}

TEST_P(SessionApiTest, FailedAppraisalIsNotAnHttpError) {
  StartServer();
  auto [path, nonce] = NewSession();
  HttpResponse r = Post(path, "wrong", kEchoType);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "false");
  EXPECT_EQ(JsonAt(r.body, "/result/failures/0/type"), "quote_validation.nonce");
}

TEST_P(SessionApiTest, VerifierThatCannotAppraiseLeavesSessionFailed) {
  StartServer();
  auto [path, nonce] = NewSession();
  HttpResponse r = Post(path, "unavailable", kEchoType);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  HttpResponse g = client_->Request("GET", path);
  EXPECT_EQ(JsonAt(g.body, "/state"), "failed");
  EXPECT_TRUE(JsonAt(g.body, "/error").has_value());
}

TEST_P(SessionApiTest, SecondSubmissionIsConflictNamingTheState) {
  StartServer();
  auto [path, nonce] = NewSession();
  ASSERT_EQ(Post(path, nonce, kEchoType).status, 200);
  HttpResponse r = Post(path, nonce, kEchoType);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(JsonAt(r.body, "/detail")->find("complete"), std::string::npos);
}

TEST_P(SessionApiTest, ConcurrentSubmissionsExactlyOneWins) {
  StartServer();
  for (int round = 0; round < 5; ++round) {
    auto [path, nonce] = NewSession();
    std::atomic<int> won{0}, conflict{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, path = path, nonce = nonce] {
        HttpClient c(app_->port());
        int s = c.Request("POST", path, {{"Content-Type", kEchoType}}, nonce).status;
        (s == 200 ? won : s == 409 ? conflict : other)++;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(conflict.load(), 7);
    EXPECT_EQ(other.load(), 0);
  }
}

TEST_P(SessionApiTest, RespondAsyncGives202ThenCompleteViaGet) {
  StartServer();
  auto [path, nonce] = NewSession();
  HttpResponse r = Post(path, nonce, kEchoType, {{"Prefer", "respond-async"}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/state"), "processing");
  HttpResponse done = WaitForState(path, "complete");
  EXPECT_EQ(JsonAt(done.body, "/result/is_valid"), "true");
}

TEST_P(SessionApiTest, ExpensiveVerifierQueuesAndPreferWaitWaits) {
  StartServer();
  auto [path, nonce] = NewSession();
  HttpResponse r = Post(path, nonce, kSlowType);
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(JsonAt(r.body, "/state"), "processing");
  EXPECT_EQ(JsonAt(WaitForState(path, "complete").body, "/result/is_valid"), "true");

  auto [path2, nonce2] = NewSession();
  HttpResponse w = Post(path2, nonce2, kSlowType, {{"Prefer", "wait=5"}});
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(JsonAt(w.body, "/state"), "complete");
  // wait=0 does not wait.
  auto [path3, nonce3] = NewSession();
  EXPECT_EQ(Post(path3, nonce3, kSlowType, {{"Prefer", "wait=0"}}).status, 202);
}

TEST_P(SessionApiTest, ShortTtlReallyExpires) {
  config_.session_ttl_s = 1;
  config_.result_retention_s = 1;
  StartServer();
  auto [path, nonce] = NewSession();
  EXPECT_EQ(client_->Request("GET", path).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(client_->Request("GET", path).status, 404);
  EXPECT_EQ(Post(path, nonce, kEchoType).status, 404);
}

TEST_P(SessionApiTest, ProcessingExtendsExpiryToResultRetention) {
  config_.session_ttl_s = 2;
  config_.result_retention_s = 30;
  StartServer();
  auto [path, nonce] = NewSession();
  std::string before = *JsonAt(client_->Request("GET", path).body, "/expiry");
  HttpResponse r = Post(path, nonce, kEchoType);
  std::string after = *JsonAt(r.body, "/expiry");
  EXPECT_GT(after, before);  // RFC 3339 UTC strings order like instants
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  EXPECT_EQ(client_->Request("GET", path).status, 200);
}

TEST_P(SessionApiTest, ExpiryEqualsTheStoresExpiry) {
  if (GetParam() != "redis") GTEST_SKIP() << "the memory store's expiry is the field itself";
  StartServer();
  HttpResponse r = client_->Request("POST", kNew);
  std::string id = r.header("location").substr(r.header("location").rfind('/') + 1);
  std::string pexpiretime = redis_->Cli("PEXPIRETIME 'attestd:session:{" + id + "}'");
  ASSERT_FALSE(pexpiretime.empty());
  int64_t ms = std::stoll(pexpiretime);
  EXPECT_EQ(JsonAt(r.body, "/expiry"), FormatRfc3339Millis(ms));
}

TEST_P(SessionApiTest, DeleteIsIdempotent) {
  StartServer();
  auto [path, nonce] = NewSession();
  EXPECT_EQ(client_->Request("DELETE", path).status, 204);
  EXPECT_EQ(client_->Request("DELETE", path).status, 204);
  EXPECT_EQ(client_->Request("GET", path).status, 404);
  EXPECT_EQ(client_->Request("DELETE", "/challenge-response/v1/session/not-a-uuid").status, 400);
}

TEST_P(SessionApiTest, PersistentConnectionWithoutConnectionHeader) {
  StartServer();
  HttpClient c(app_->port());
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = c.Request("POST", kNew);
    ASSERT_EQ(r.status, 201);
    EXPECT_NE(r.header("connection"), "Close");
  }
  EXPECT_EQ(c.connections_opened(), 1);
  // A client that asks to close is told so.
  HttpResponse r = c.Request("POST", kNew, {{"Connection", "close"}});
  EXPECT_EQ(r.header("connection"), "Close");
}

TEST_P(SessionApiTest, BadInputGets4xxAndServerKeepsServing) {
  StartServer();
  HttpClient c(app_->port());
  std::vector<std::pair<std::string, int>> raw = {
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(66000, 'b') + "\r\n\r\n", 431},
      {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"POST /challenge-response/v1/newSession HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
      // Not HTTP at all.
      {"\x01\x02\x03\r\n\r\n", 400},
  };
  for (const auto& [req, want] : raw) {
    HttpClient one(app_->port());
    one.set_timeout_ms(500);
    EXPECT_EQ(one.Raw(req).status, want) << req.substr(0, 40);
  }
  EXPECT_EQ(c.Request("GET", "/challenge-response/v1/session/../../etc/passwd").status, 404);
  EXPECT_EQ(c.Request("PUT", kNew).status, 405);
  EXPECT_EQ(c.Request("GET", "/nowhere").status, 404);
  EXPECT_EQ(c.Request("POST", kNew).status, 201);
}

TEST_P(SessionApiTest, HealthAndReadiness) {
  StartServer();
  EXPECT_EQ(client_->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(client_->Request("GET", "/readyz").status, 200);
  HttpResponse d = client_->Request("GET", "/.well-known/veraison/verification");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(JsonAt(d.body, "/service-state"), "READY");
  EXPECT_EQ(JsonAt(d.body, "/api-endpoints/newChallengeResponseSession"), kNew);
}

TEST_P(SessionApiTest, StoreOutageAnswers503ThenRecovers) {
  if (GetParam() != "redis") GTEST_SKIP() << "needs a store that can go away";
  StartServer();
  auto [path, nonce] = NewSession();
  redis_->Stop();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Request("POST", kNew).status, 503);
  EXPECT_EQ(client_->Request("GET", path).status, 503);
  EXPECT_EQ(client_->Request("GET", "/readyz").status, 503);
  EXPECT_EQ(
      JsonAt(client_->Request("GET", "/.well-known/veraison/verification").body, "/service-state"),
      "DOWN");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ASSERT_TRUE(redis_->Start());
  int status = 0;
  for (int i = 0; i < 100 && status != 201; ++i) {
    status = client_->Request("POST", kNew).status;
    if (status != 201) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 201);
  // /readyz caches its write probe for a second.
  int ready = 0;
  for (int i = 0; i < 30 && ready != 200; ++i) {
    ready = client_->Request("GET", "/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready, 200);
}

// A queued appraisal whose workers keep dying (here: a consumer that takes
// the item and never acknowledges it, three times) must not be handed out
// forever: the next worker fails the session with a reason instead.
TEST_P(SessionApiTest, QueuedWorkWhoseWorkersKeepDyingFailsTheSession) {
  if (GetParam() != "redis") GTEST_SKIP() << "the memory queue dies with its process";
  config_.workers = 0;
  config_.reclaim_after_s = 1;
  StartServer();
  auto [path, nonce] = NewSession();
  ASSERT_EQ(Post(path, nonce, kEchoType, {{"Prefer", "respond-async"}}).status, 202);

  StoreOptions dying;
  dying.url = redis_->url();
  dying.reclaim_after_ms = 1000;
  dying.consumer_name = "dying-worker";
  Result<Stores> stores = OpenStores(dying);
  ASSERT_TRUE(stores.ok());
  for (int64_t delivery = 1; delivery <= WorkerPool::kMaxDeliveries; ++delivery) {
    std::optional<WorkItem> item;
    for (int i = 0; i < 40 && !item; ++i) {
      auto got = stores->queue->Dequeue(std::chrono::milliseconds(100));
      ASSERT_TRUE(got.ok());
      item = *got;
    }
    ASSERT_TRUE(item.has_value()) << "delivery " << delivery;
    EXPECT_EQ(item->deliveries, delivery);
  }
  EXPECT_EQ(JsonAt(client_->Request("GET", path).body, "/state"), "processing");

  Config with_workers = config_;
  with_workers.workers = 1;
  auto other = Application::Create(with_workers, testing::MakeTestRegistry());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Start().ok());
  HttpResponse r = WaitForState(path, "failed");
  (*other)->Shutdown(std::chrono::milliseconds(2000));
  EXPECT_EQ(JsonAt(r.body, "/state"), "failed") << r.body;
  EXPECT_NE(JsonAt(r.body, "/error").value_or("").find("abandoned"), std::string::npos) << r.body;
}

TEST_P(SessionApiTest, ShutdownFinishesInFlightRequests) {
  StartServer();
  auto [path, nonce] = NewSession();
  std::atomic<int> status{0};
  std::thread slow([&, path = path, nonce = nonce] {
    HttpClient c(app_->port());
    status =
        c.Request("POST", path, {{"Content-Type", kSlowType}, {"Prefer", "wait=5"}}, nonce).status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  app_->Shutdown(std::chrono::milliseconds(5000));
  slow.join();
  EXPECT_EQ(status.load(), 200);
}

INSTANTIATE_TEST_SUITE_P(Stores, SessionApiTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
