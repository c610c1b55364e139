// The non-blocking evidence POST (SessionService::SubmitAsync) on both
// stores: the two store steps that bracket an appraisal (begin: session to
// processing plus the attester record; complete: result plus clock
// baseline), the number of Redis round trips a whole TPM flow makes, and a
// Redis that goes away in the middle of a flow.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/base64.h"
#include "common/log.h"
#include "common/time_util.h"
#include "server/application.h"
#include "store/stores.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/swtpm.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/evidence.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr char kNew[] = "/challenge-response/v1/newSession";
constexpr char kAgent[] = "5d0c2a1e-5b7d-4c3a-9e6f-112233445566";

// ---- The two store steps, on both stores ----

class AppraisalStepsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    StoreOptions so;
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      so.url = redis_->url();
    }
    auto stores = OpenStores(so);
    ASSERT_TRUE(stores.ok());
    stores_ = std::move(*stores);
  }

  std::string NewSession() {
    Session s;
    s.id = "6a3c2a1e-5b7d-4c3a-9e6f-" + std::to_string(100000000000 + next_++);
    s.nonce = "nonce-bytes-0123";
    s.state = SessionState::kWaiting;
    s.expiry_ms = NowMillis() + 60'000;
    EXPECT_TRUE(stores_.sessions->Create(s).ok());
    return s.id;
  }

  void Enrol(std::optional<ClockState> clock = std::nullopt) {
    Attester a{"ak-bytes", "", true, std::nullopt};
    ASSERT_TRUE(stores_.attesters->Put(kAgent, a).ok());
    if (clock) {
      ASSERT_TRUE(stores_.attesters->AdvanceClock(kAgent, *clock).ok());
    }
  }

  Result<SessionStore::AppraisalStart> Begin(const std::string& id, const std::string& agent) {
    std::promise<Result<SessionStore::AppraisalStart>> p;
    stores_.sessions->BeginAppraisalAsync(
        id, "application/x-test", "the evidence", NowMillis() + 1000, stores_.attesters.get(),
        agent, [&p](Result<SessionStore::AppraisalStart> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  Result<bool> Complete(const std::string& id, std::optional<ClockCommit> clock) {
    SessionResult result;
    result.appraisal.is_valid = true;
    result.ear = "ear";
    std::promise<Result<bool>> p;
    stores_.sessions->CompleteAppraisalAsync(id, result, stores_.attesters.get(), clock,
                                             [&p](Result<bool> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::unique_ptr<testing::RedisServer> redis_;
  Stores stores_;
  int next_ = 0;
};

TEST_P(AppraisalStepsTest, BeginMovesTheSessionAndReadsTheAttester) {
  Enrol(ClockState{100, 2, 3});
  std::string id = NewSession();
  auto start = Begin(id, kAgent);
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(start->session.state, SessionState::kProcessing);
  EXPECT_EQ(start->session.nonce, "nonce-bytes-0123");
  EXPECT_EQ(start->session.evidence, "the evidence");
  EXPECT_EQ(start->session.evidence_type, "application/x-test");
  ASSERT_TRUE(start->attester.has_value());
  EXPECT_EQ(start->attester->ak_tpm, "ak-bytes");
  EXPECT_TRUE(start->attester->trusted);
  EXPECT_EQ(start->attester->clock, (ClockState{100, 2, 3}));
  auto stored = stores_.sessions->Get(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, SessionState::kProcessing);
  EXPECT_EQ(stored->evidence, "the evidence");
}

TEST_P(AppraisalStepsTest, BeginOfAnUnknownAttesterStillMovesTheSession) {
  std::string id = NewSession();
  auto start = Begin(id, "no-such-agent");
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_FALSE(start->attester.has_value());
  EXPECT_EQ(start->session.state, SessionState::kProcessing);
}

TEST_P(AppraisalStepsTest, BeginIsConflictWhenNotWaitingAndNotFoundWhenAbsent) {
  std::string id = NewSession();
  ASSERT_TRUE(Begin(id, "").ok());
  auto again = Begin(id, "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kConflict);
  EXPECT_NE(again.status().message().find("processing"), std::string::npos);
  auto absent = Begin("6a3c2a1e-5b7d-4c3a-9e6f-000000000000", "");
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
}

TEST_P(AppraisalStepsTest, CompleteWritesTheResultAndMovesTheClock) {
  Enrol(ClockState{100, 2, 3});
  std::string id = NewSession();
  ASSERT_TRUE(Begin(id, kAgent).ok());
  auto done = Complete(id, ClockCommit{kAgent, ClockState{200, 2, 3}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(*done);
  auto stored = stores_.sessions->Get(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, SessionState::kComplete);
  ASSERT_TRUE(stored->result.has_value());
  EXPECT_EQ(stored->result->ear, "ear");
  EXPECT_EQ(stores_.attesters->Get(kAgent)->clock, (ClockState{200, 2, 3}));
}

TEST_P(AppraisalStepsTest, CompleteWithAClockThatMayNotMoveWritesNothing) {
  Enrol(ClockState{100, 2, 3});
  std::string id = NewSession();
  ASSERT_TRUE(Begin(id, kAgent).ok());
  auto refused = Complete(id, ClockCommit{kAgent, ClockState{50, 2, 3}});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_FALSE(*refused);
  EXPECT_EQ(stores_.sessions->Get(id)->state, SessionState::kProcessing);
  EXPECT_EQ(stores_.attesters->Get(kAgent)->clock, (ClockState{100, 2, 3}));

  ASSERT_TRUE(stores_.attesters->Remove(kAgent).ok());
  auto gone = Complete(id, ClockCommit{kAgent, ClockState{300, 2, 3}});
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
  EXPECT_EQ(stores_.sessions->Get(id)->state, SessionState::kProcessing);
}

TEST_P(AppraisalStepsTest, CompleteWithoutClockAndOfAFinishedSession) {
  std::string id = NewSession();
  ASSERT_TRUE(Begin(id, "").ok());
  auto done = Complete(id, std::nullopt);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  auto again = Complete(id, std::nullopt);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kConflict);
}

INSTANTIATE_TEST_SUITE_P(Stores, AppraisalStepsTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

// ---- Whole TPM flows over HTTP ----

// The commands clients sent Redis while `flow` ran, one per line as MONITOR
// shows them; the commands scripts ran (marked `[db lua]`) are not
// counted: a round trip is one command of ours.
std::vector<std::string> RoundTrips(const testing::RedisServer& redis,
                                    const std::function<void()>& flow) {
  testing::TempDir dir;
  std::string log = dir.path() + "/monitor.log";
  pid_t monitor = testing::Spawn({"redis-cli", "-p", std::to_string(redis.port()), "MONITOR"}, log);
  auto contents = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (int i = 0; i < 100 && contents().find("OK") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  flow();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // MONITOR lags a little
  testing::StopProcess(monitor);
  std::vector<std::string> commands;
  std::istringstream lines(contents());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(" [") == std::string::npos || line.find(" lua] ") != std::string::npos) continue;
    commands.push_back(line.substr(line.find(" [") + 1, 160));
  }
  return commands;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class TpmEvidenceFlowTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { tpm_ = new testing::Swtpm(); }
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
    config.workers = 0;  // no queue polling between the counts
    config.verifier_listen = "none";
    config.registrar_listen = "none";
    config.registrar_admin_listen = "none";
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config.store = redis_->url();
    }
    auto app = Application::Create(config);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<HttpClient>(app_->port());
    Attester a{tpm_->AkPublic("rsa"), "", true, std::nullopt};
    ASSERT_TRUE(app_->stores().attesters->Put(kAgent, a).ok());
  }
  void TearDown() override {
    client_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  struct Prepared {
    std::string path;
    std::string body;
  };
  // A session and the evidence for it (quoted before anything is counted).
  Prepared Prepare() {
    HttpResponse s = client_->Request("POST", kNew);
    EXPECT_EQ(s.status, 201) << s.body;
    std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
    auto q = tpm_->Quote("rsa", nonce, "sha256:0,16");
    EXPECT_TRUE(q.has_value());
    return {s.header("location"), q ? testing::QuoteJson(kAgent, q->quote) : ""};
  }
  HttpResponse Post(const Prepared& p) {
    return client_->Request("POST", p.path, {{"Content-Type", tpm::kTpmQuoteJsonType}}, p.body);
  }

  static testing::Swtpm* tpm_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> client_;
};
testing::Swtpm* TpmEvidenceFlowTest::tpm_ = nullptr;

TEST_P(TpmEvidenceFlowTest, QuoteIsAppraisedAndTheClockBaselineMoves) {
  Prepared p = Prepare();
  HttpResponse r = Post(p);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/state"), "complete");
  EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "true") << r.body;
  auto attester = app_->stores().attesters->Get(kAgent);
  ASSERT_TRUE(attester.ok());
  ASSERT_TRUE(attester->clock.has_value()) << "the completion step moved no baseline";
  // The same quote again, in a new session: its nonce differs, and its clock
  // is not newer than the baseline it set.
  Prepared again = Prepare();
  again.body = p.body;
  HttpResponse replay = Post(again);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(JsonAt(replay.body, "/result/is_valid"), "false");
  EXPECT_NE(replay.body.find("clock.reset_rollback"), std::string::npos) << replay.body;
  EXPECT_EQ(app_->stores().attesters->Get(kAgent)->clock, attester->clock);
}

TEST_P(TpmEvidenceFlowTest, EvidencePostMakesTwoRedisRoundTrips) {
  if (GetParam() != "redis") GTEST_SKIP() << "round trips are Redis commands";
  // Warm up: the scripts are loaded on their first use (EVALSHA, NOSCRIPT, EVAL).
  ASSERT_EQ(Post(Prepare()).status, 200);
  std::vector<Prepared> flows;
  for (int i = 0; i < 3; ++i) flows.push_back(Prepare());
  std::vector<std::string> commands = RoundTrips(*redis_, [&] {
    for (const Prepared& p : flows) {
      HttpResponse r = Post(p);
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(JsonAt(r.body, "/result/is_valid"), "true") << r.body;
    }
  });
  EXPECT_EQ(commands.size(), 2 * flows.size()) << Joined(commands);
  for (const std::string& c : commands) EXPECT_NE(c.find("\"EVALSHA\""), std::string::npos) << c;
  // newSession: one more.
  EXPECT_EQ(RoundTrips(*redis_, [&] { Prepare(); }).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, TpmEvidenceFlowTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

// ---- Redis going away mid-flow ----

// Cheap; holds each appraisal until the test opens the gate, so Redis can be
// stopped between the two store steps. Valid when the evidence is the nonce.
class GatedVerifier : public Verifier {
 public:
  static constexpr char kType[] = "application/vnd.attestd.test-gated";
  std::vector<std::string> MediaTypes() const override { return {kType}; }
  bool IsCheap() const override { return true; }
  Result<Appraisal> Appraise(const AppraisalRequest& request) const override {
    std::unique_lock lock(mu_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    Appraisal a;
    a.is_valid = request.evidence == request.nonce;
    return a;
  }
  void WaitEntered(int n) const {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  void Open() const {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  mutable int entered_ = 0;
  mutable bool open_ = false;
};

TEST(EvidenceOutageTest, RedisStoppedAndRestartedMidFlowLosesNoSessionAndAnswers503) {
  SetLogLevel(LogLevel::kOff);
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  auto gated = std::make_shared<GatedVerifier>();
  auto registry = std::make_shared<Registry>();
  ASSERT_TRUE(registry->Register(gated).ok());
  Config config;
  config.listen = "127.0.0.1:0";
  config.log_level = "off";
  config.workers = 0;
  config.store = redis.url();
  config.verifier_listen = "none";
  config.registrar_listen = "none";
  config.registrar_admin_listen = "none";
  auto app = Application::Create(config, registry);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  HttpClient client((*app)->port());

  HttpResponse s = client.Request("POST", kNew);
  ASSERT_EQ(s.status, 201);
  std::string path = s.header("location");
  std::string nonce = *Base64DecodeAny(*JsonAt(s.body, "/nonce"));
  auto post = [&](HttpClient& c) {
    return c.Request("POST", path, {{"Content-Type", GatedVerifier::kType}}, nonce);
  };
  // Redis keeps what SAVE wrote across its restarts (the test server has no
  // other persistence).
  ASSERT_EQ(redis.Cli("SAVE"), "OK");

  // 1. Down before the evidence arrives: 503, and the session still waits.
  redis.Stop();
  EXPECT_EQ(post(client).status, 503);
  ASSERT_TRUE(redis.Start());
  HttpResponse waiting;
  for (int i = 0; i < 100; ++i) {
    waiting = client.Request("GET", path);
    if (waiting.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(waiting.status, 200) << waiting.body;
  EXPECT_EQ(JsonAt(waiting.body, "/state"), "waiting");

  // 2. Down between the two steps: the appraisal runs, its result cannot be
  // written, the client gets 503; once Redis is back the result is written.
  std::promise<int> answered;
  std::thread poster([&] {
    HttpClient c((*app)->port());
    answered.set_value(post(c).status);
  });
  gated->WaitEntered(1);
  ASSERT_EQ(redis.Cli("SAVE"), "OK");  // the session as processing
  redis.Stop();
  gated->Open();
  std::future<int> status = answered.get_future();
  ASSERT_EQ(status.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(status.get(), 503);
  poster.join();
  EXPECT_EQ(client.Request("GET", path).status, 503);
  ASSERT_TRUE(redis.Start());
  HttpResponse complete;
  for (int i = 0; i < 100; ++i) {
    complete = client.Request("GET", path);
    if (JsonAt(complete.body, "/state") == "complete") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(JsonAt(complete.body, "/state"), "complete") << complete.body;
  EXPECT_EQ(JsonAt(complete.body, "/result/is_valid"), "true") << complete.body;
  (*app)->Shutdown(std::chrono::milliseconds(2000));
}

// --handshake-timeout reaches every TLS listener: a client that connects
// to the (mTLS) verifier listener and sends nothing is closed after it.
TEST(HandshakeFlagsTest, HandshakeTimeoutFlagClosesASilentConnection) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir dir;
  Config config;
  config.listen = "127.0.0.1:0";
  config.log_level = "off";
  config.verifier_listen = "127.0.0.1:0";
  config.data_dir = dir.path() + "/data";
  config.handshake_timeout_s = 0.3;
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*app)->verifier_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval wait{3, 0};  // well past 0.3 s, well short of the 10 s default
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  auto t0 = std::chrono::steady_clock::now();
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, 0);
  auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_EQ(n, 0) << "the server should have closed the connection";
  EXPECT_LT(waited, std::chrono::seconds(3));
  (*app)->Shutdown(std::chrono::milliseconds(2000));
}

}  // namespace
}  // namespace attestd
