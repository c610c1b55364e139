// The SessionStore and WorkQueue contracts, checked against every store:
// each StoreContract case runs on the memory store and on a real
// redis-server of its own. RedisStore cases cover what only Redis has
// (redelivery to another worker, the key's real expiry, losing and regaining
// the server); StoreUrl cases cover OpenStores' URL handling.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "common/time_util.h"
#include "store/redis/redis_pool.h"
#include "store/redis/redis_session_store.h"
#include "store/redis/redis_url.h"
#include "store/redis/redis_work_queue.h"
#include "store/stores.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

// A result with every kind of member, to prove the store keeps it whole.
SessionResult SampleResult() {
  SessionResult r;
  r.appraisal.is_valid = true;
  r.appraisal.claims =
      Value::MakeMap({{"agent_id", "a"},
                      {"clock", Value(uint64_t{1} << 40)},
                      {"safe", true},
                      {"pcrs", Value::MakeMap({{"sha256", Value::MakeMap({{"0", "00ff"}})}})}});
  r.appraisal.failures = {
      Failure{"pcr_validation.invalid_pcr_23", Value::MakeMap({{"reason", "r"}, {"pcr", 23}})}};
  r.appraisal.trust.hardware = 2;
  r.appraisal.trust.executables = 33;
  r.appraisal.policy_id = "p";
  r.ear = "h.p.s";
  return r;
}

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Every byte value, NULs first: stored bytes must round-trip exactly.
std::string AllBytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 256);
  return bytes;
}

// A waiting session that expires in a minute.
Session SessionFor(std::string id, std::string nonce) {
  Session s;
  s.id = std::move(id);
  s.nonce = std::move(nonce);
  s.expiry_ms = NowMillis() + 60000;
  return s;
}

class Stopwatch {
 public:
  milliseconds elapsed() const {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start_);
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

RedisPoolOptions PoolOptionsFor(const std::string& url) {
  RedisPoolOptions options;
  options.endpoint = *ParseRedisUrl(url);
  return options;
}

// ---- The contract, on both stores ----

enum class Backend { kMemory, kRedis };

void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::kMemory ? "memory" : "redis");
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    StoreOptions options;
    if (GetParam() == Backend::kRedis) {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok()) << "could not start redis-server";
      options.url = redis_->url();
      inspector_ = std::make_unique<RedisPool>(PoolOptionsFor(options.url));
    }
    options.reclaim_after_ms = 300;
    Result<Stores> stores = OpenStores(options);
    ASSERT_TRUE(stores.ok()) << stores.status().ToString();
    sessions_ = stores->sessions;
    queue_ = stores->queue;
  }

  bool is_redis() const { return GetParam() == Backend::kRedis; }

  Session NewSession(std::string id, milliseconds ttl) {
    Session s;
    s.id = std::move(id);
    s.nonce = std::string("\x00nonce\xff\x00\x01", 9);
    s.expiry_ms = NowMillis() + ttl.count();
    return s;
  }

  // The promise behind the API's `expiry`: the store forgets the session at
  // exactly the stored expiry_ms. For Redis, the key's own expiry instant.
  void ExpectRealExpiry(const std::string& id, int64_t expiry_ms) {
    Result<Session> got = sessions_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->expiry_ms, expiry_ms);
    if (!is_redis()) return;
    std::string key = RedisSessionStore::KeyFor(id);
    Result<RedisReply> at = inspector_->Command({"PEXPIRETIME", key});
    ASSERT_TRUE(at.ok()) << at.status().ToString();
    EXPECT_EQ(at->integer(), expiry_ms);
    int64_t now = NowMillis();
    Result<RedisReply> ttl = inspector_->Command({"PTTL", key});
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_NEAR(static_cast<double>(ttl->integer()), static_cast<double>(expiry_ms - now), 5.0);
  }

  // Declared first so the server outlives the stores' connections.
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<RedisPool> inspector_;  // raw access to the Redis under test
  std::shared_ptr<SessionStore> sessions_;
  std::shared_ptr<WorkQueue> queue_;
};

TEST_P(StoreContract, CreateThenGetReturnsWhatWasStored) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000001", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  Result<Session> got = sessions_->Get(s.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, s.id);
  EXPECT_EQ(got->nonce, s.nonce);
  EXPECT_EQ(got->state, SessionState::kWaiting);
  EXPECT_TRUE(got->evidence.empty());
  EXPECT_FALSE(got->result.has_value());
  ExpectRealExpiry(s.id, s.expiry_ms);
}

TEST_P(StoreContract, CreateOfAnExistingIdConflicts) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000002", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  Session again = NewSession(s.id, 120s);
  EXPECT_EQ(sessions_->Create(again).code(), StatusCode::kConflict);
  ExpectRealExpiry(s.id, s.expiry_ms);  // the first one is untouched
}

TEST_P(StoreContract, GetOfUnknownIdIsNotFound) {
  EXPECT_EQ(sessions_->Get("2f1c0c3e-4d5b-4a8e-9f00-00000000dead").status().code(),
            StatusCode::kNotFound);
}

TEST_P(StoreContract, DeleteRemovesAndIsIdempotent) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000003", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  EXPECT_TRUE(sessions_->Delete(s.id).ok());
  EXPECT_EQ(sessions_->Get(s.id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(sessions_->Delete(s.id).ok());
  EXPECT_TRUE(sessions_->Delete("2f1c0c3e-4d5b-4a8e-9f00-00000000dead").ok());
}

TEST_P(StoreContract, SessionIsGoneAfterItsExpiry) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000004", 300ms);
  ASSERT_TRUE(sessions_->Create(s).ok());
  ASSERT_TRUE(sessions_->Get(s.id).ok());
  std::this_thread::sleep_for(milliseconds(s.expiry_ms - NowMillis() + 50));
  EXPECT_EQ(sessions_->Get(s.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sessions_->TransitionToProcessing(s.id, "t", "e", NowMillis() + 60000).status().code(),
            StatusCode::kNotFound);
  if (is_redis()) {
    Result<RedisReply> exists = inspector_->Command({"EXISTS", RedisSessionStore::KeyFor(s.id)});
    ASSERT_TRUE(exists.ok());
    EXPECT_EQ(exists->integer(), 0);
  }
}

TEST_P(StoreContract, ProcessingStoresEvidenceAndExtendsExpiry) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000005", 300ms);
  ASSERT_TRUE(sessions_->Create(s).ok());
  std::string evidence = AllBytes(256 * 1024);
  int64_t min_expiry = NowMillis() + 5000;
  Result<Session> moved =
      sessions_->TransitionToProcessing(s.id, "application/x-test", evidence, min_expiry);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->state, SessionState::kProcessing);
  EXPECT_EQ(moved->evidence_type, "application/x-test");
  EXPECT_TRUE(moved->evidence == evidence) << "evidence bytes differ";
  EXPECT_EQ(moved->nonce, s.nonce);
  EXPECT_EQ(moved->expiry_ms, min_expiry);
  ExpectRealExpiry(s.id, min_expiry);
  // Past the original expiry the session is still there.
  std::this_thread::sleep_for(milliseconds(s.expiry_ms - NowMillis() + 100));
  Result<Session> got = sessions_->Get(s.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->evidence == evidence) << "evidence bytes differ";
}

TEST_P(StoreContract, ProcessingNeverShortensExpiry) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000006", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  Result<Session> moved = sessions_->TransitionToProcessing(s.id, "t", "e", NowMillis() + 1000);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->expiry_ms, s.expiry_ms);
  ExpectRealExpiry(s.id, s.expiry_ms);
}

TEST_P(StoreContract, ProcessingOfUnknownIdIsNotFound) {
  EXPECT_EQ(sessions_
                ->TransitionToProcessing("2f1c0c3e-4d5b-4a8e-9f00-00000000dead", "t", "e",
                                         NowMillis() + 1000)
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST_P(StoreContract, ConflictNamesTheCurrentState) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000007", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  ASSERT_TRUE(sessions_->TransitionToProcessing(s.id, "t", "first", NowMillis()).ok());
  Result<Session> second = sessions_->TransitionToProcessing(s.id, "t", "second", NowMillis());
  EXPECT_EQ(second.status().code(), StatusCode::kConflict);
  EXPECT_EQ(second.status().message(), "session is processing");
  ASSERT_TRUE(sessions_->TransitionToComplete(s.id, SessionResult{}).ok());
  Result<Session> third = sessions_->TransitionToProcessing(s.id, "t", "third", NowMillis());
  EXPECT_EQ(third.status().code(), StatusCode::kConflict);
  EXPECT_EQ(third.status().message(), "session is complete");
  EXPECT_EQ(sessions_->Get(s.id)->evidence, "first");
}

TEST_P(StoreContract, CompleteOnlyFromProcessingAndKeepsExpiry) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000008", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  Status early = sessions_->TransitionToComplete(s.id, SessionResult{});
  EXPECT_EQ(early.code(), StatusCode::kConflict);
  EXPECT_EQ(early.message(), "session is waiting");
  ASSERT_TRUE(sessions_->TransitionToProcessing(s.id, "t", "e", NowMillis()).ok());
  ASSERT_TRUE(sessions_->TransitionToComplete(s.id, SampleResult()).ok());
  Result<Session> got = sessions_->Get(s.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, SessionState::kComplete);
  ASSERT_TRUE(got->result.has_value());
  EXPECT_EQ(*got->result, SampleResult());
  ExpectRealExpiry(s.id, s.expiry_ms);
  Status again = sessions_->TransitionToComplete(s.id, SessionResult{});
  EXPECT_EQ(again.code(), StatusCode::kConflict);
  EXPECT_EQ(again.message(), "session is complete");
  Status fail = sessions_->TransitionToFailed(s.id, "late");
  EXPECT_EQ(fail.code(), StatusCode::kConflict);
  EXPECT_EQ(sessions_->Get(s.id)->state, SessionState::kComplete);
}

TEST_P(StoreContract, FailedOnlyFromProcessingAndStoresTheError) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-000000000009", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  EXPECT_EQ(sessions_->TransitionToFailed(s.id, "x").code(), StatusCode::kConflict);
  ASSERT_TRUE(sessions_->TransitionToProcessing(s.id, "t", "e", NowMillis()).ok());
  ASSERT_TRUE(sessions_->TransitionToFailed(s.id, "verifier unavailable").ok());
  Result<Session> got = sessions_->Get(s.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, SessionState::kFailed);
  EXPECT_EQ(got->error, "verifier unavailable");
  EXPECT_EQ(sessions_->TransitionToComplete(s.id, SessionResult{}).message(), "session is failed");
}

TEST_P(StoreContract, FinishingAVanishedSessionIsNotFound) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-00000000000a", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  ASSERT_TRUE(sessions_->TransitionToProcessing(s.id, "t", "e", NowMillis()).ok());
  ASSERT_TRUE(sessions_->Delete(s.id).ok());
  EXPECT_EQ(sessions_->TransitionToComplete(s.id, SessionResult{}).code(), StatusCode::kNotFound);
  EXPECT_EQ(sessions_->TransitionToFailed(s.id, "x").code(), StatusCode::kNotFound);
}

TEST_P(StoreContract, ExactlyOneOfConcurrentTransitionsWins) {
  Session s = NewSession("2f1c0c3e-4d5b-4a8e-9f00-00000000000b", 60s);
  ASSERT_TRUE(sessions_->Create(s).ok());
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::atomic<int> won{0};
  std::atomic<int> conflicted{0};
  std::vector<std::string> winners(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      std::string evidence = "evidence-" + std::to_string(i);
      Result<Session> r = sessions_->TransitionToProcessing(s.id, "t", evidence, NowMillis());
      if (r.ok()) {
        ++won;
        winners[i] = evidence;
      } else if (r.status().code() == StatusCode::kConflict &&
                 r.status().message() == "session is processing") {
        ++conflicted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(conflicted.load(), kThreads - 1);
  std::string winner;
  for (const auto& w : winners) winner += w;
  EXPECT_EQ(sessions_->Get(s.id)->evidence, winner);
}

TEST_P(StoreContract, PingAnswers) { EXPECT_TRUE(sessions_->Ping().ok()); }

TEST_P(StoreContract, QueueDeliversInOrderAndAckRemoves) {
  ASSERT_TRUE(queue_->Enqueue("session-a").ok());
  ASSERT_TRUE(queue_->Enqueue("session-b").ok());
  EXPECT_EQ(queue_->Depth(), 2);
  Result<std::optional<WorkItem>> a = queue_->Dequeue(1s);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status().ToString();
  EXPECT_EQ((*a)->session_id, "session-a");
  Result<std::optional<WorkItem>> b = queue_->Dequeue(1s);
  ASSERT_TRUE(b.ok() && b->has_value()) << b.status().ToString();
  EXPECT_EQ((*b)->session_id, "session-b");
  EXPECT_EQ(queue_->Depth(), 2);  // taken but not acknowledged
  ASSERT_TRUE(queue_->Ack(**a).ok());
  EXPECT_EQ(queue_->Depth(), 1);
  ASSERT_TRUE(queue_->Ack(**b).ok());
  EXPECT_EQ(queue_->Depth(), 0);
  Result<std::optional<WorkItem>> none = queue_->Dequeue(100ms);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreContract, DequeueWaitsAboutItsTimeoutWhenEmpty) {
  Stopwatch watch;
  Result<std::optional<WorkItem>> none = queue_->Dequeue(600ms);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  EXPECT_GE(watch.elapsed(), 550ms);
  EXPECT_LT(watch.elapsed(), 1500ms);
}

TEST_P(StoreContract, BlockedDequeueWakesForANewItem) {
  Result<std::optional<WorkItem>> got = std::optional<WorkItem>();
  milliseconds took{0};
  std::thread worker([&] {
    Stopwatch watch;
    got = queue_->Dequeue(5s);
    took = watch.elapsed();
  });
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(queue_->Enqueue("session-late").ok());
  worker.join();
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_EQ((*got)->session_id, "session-late");
  EXPECT_LT(took, 1500ms);
}

TEST_P(StoreContract, ShutdownUnblocksDequeue) {
  Result<std::optional<WorkItem>> got = std::optional<WorkItem>(WorkItem{"x", "x"});
  std::atomic<bool> returned{false};
  std::thread worker([&] {
    got = queue_->Dequeue(10s);
    returned = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(returned.load()) << "Dequeue returned before Shutdown";
  Stopwatch watch;
  queue_->Shutdown();
  worker.join();
  EXPECT_LT(watch.elapsed(), 1000ms);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract,
                         ::testing::Values(Backend::kMemory, Backend::kRedis),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kMemory ? "Memory" : "Redis";
                         });

// ---- Redis only ----

class RedisStore : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.ok()) << "could not start redis-server"; }

  std::shared_ptr<RedisPool> NewPool(int command_timeout_ms = 1000) {
    RedisPoolOptions options = PoolOptionsFor(redis_.url());
    options.command_timeout_ms = command_timeout_ms;
    return std::make_shared<RedisPool>(options);
  }

  testing::RedisServer redis_;
};

TEST_F(RedisStore, SessionIsOneHashKeyWithTheIdAsHashTag) {
  auto pool = NewPool();
  RedisSessionStore store(pool);
  Session s = SessionFor("2f1c0c3e-4d5b-4a8e-9f00-00000000000c", std::string("n\0n", 3));
  ASSERT_TRUE(store.Create(s).ok());
  EXPECT_EQ(RedisSessionStore::KeyFor(s.id), "attestd:session:{" + s.id + "}");
  Result<RedisReply> type = pool->Command({"TYPE", RedisSessionStore::KeyFor(s.id)});
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->str(), "hash");
  Result<RedisReply> nonce = pool->Command({"HGET", RedisSessionStore::KeyFor(s.id), "nonce"});
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(nonce->str(), s.nonce);
}

TEST_F(RedisStore, ScriptsStillRunAfterTheScriptCacheIsFlushed) {
  auto pool = NewPool();
  RedisSessionStore store(pool);
  Session s = SessionFor("2f1c0c3e-4d5b-4a8e-9f00-00000000000d", "nonce-123");
  ASSERT_TRUE(store.Create(s).ok());
  ASSERT_TRUE(pool->Command({"SCRIPT", "FLUSH"}).ok());
  Result<Session> moved = store.TransitionToProcessing(s.id, "t", "e", NowMillis());
  EXPECT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_GE(pool->error_replies(), 1);  // the NOSCRIPT that made it fall back
}

TEST_F(RedisStore, UnackedItemIsRedeliveredToAnotherWorker) {
  auto pool = NewPool();
  RedisWorkQueue worker_a(pool, {300, "worker-a"});
  RedisWorkQueue worker_b(pool, {300, "worker-b"});
  ASSERT_TRUE(worker_a.Enqueue("session-1").ok());
  Result<std::optional<WorkItem>> taken = worker_a.Dequeue(1s);
  ASSERT_TRUE(taken.ok() && taken->has_value()) << taken.status().ToString();
  // worker-a "dies" here without acknowledging.
  Result<std::optional<WorkItem>> too_soon = worker_b.Dequeue(50ms);
  ASSERT_TRUE(too_soon.ok()) << too_soon.status().ToString();
  EXPECT_FALSE(too_soon->has_value()) << "redelivered before reclaim_after_ms";
  std::this_thread::sleep_for(400ms);
  Result<std::optional<WorkItem>> again = worker_b.Dequeue(50ms);
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status().ToString();
  EXPECT_EQ((*again)->session_id, "session-1");
  EXPECT_EQ((*again)->entry_id, (*taken)->entry_id);
  ASSERT_TRUE(worker_b.Ack(**again).ok());
  EXPECT_EQ(worker_b.Depth(), 0);
  // Acknowledged work is never delivered again.
  std::this_thread::sleep_for(400ms);
  Result<std::optional<WorkItem>> after_ack = worker_a.Dequeue(50ms);
  ASSERT_TRUE(after_ack.ok()) << after_ack.status().ToString();
  EXPECT_FALSE(after_ack->has_value());
}

TEST_F(RedisStore, QueueRecoversWhenTheStreamDisappears) {
  auto pool = NewPool();
  RedisWorkQueue queue(pool, {30000, "worker"});
  ASSERT_TRUE(queue.Enqueue("before").ok());
  Result<std::optional<WorkItem>> first = queue.Dequeue(1s);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status().ToString();
  ASSERT_TRUE(pool->Command({"FLUSHALL"}).ok());  // stream and group gone
  ASSERT_TRUE(queue.Enqueue("after").ok());
  Result<std::optional<WorkItem>> second = queue.Dequeue(1s);
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status().ToString();
  EXPECT_EQ((*second)->session_id, "after");
  EXPECT_TRUE(queue.Ack(**second).ok());
}

TEST_F(RedisStore, GeneratedConsumerNamesAreUnique) {
  auto pool = NewPool();
  RedisWorkQueue a(pool, {30000, ""});
  RedisWorkQueue b(pool, {30000, ""});
  EXPECT_FALSE(a.consumer_name().empty());
  EXPECT_NE(a.consumer_name(), b.consumer_name());
}

TEST_F(RedisStore, BusyPoolAnswersUnavailableAfterTheCommandTimeout) {
  RedisPoolOptions options = PoolOptionsFor(redis_.url());
  options.size = 1;
  options.command_timeout_ms = 200;
  RedisPool pool(options);
  Result<RedisConnection> held = pool.Borrow();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  Stopwatch watch;
  EXPECT_EQ(pool.Ping().code(), StatusCode::kUnavailable);
  EXPECT_GE(watch.elapsed(), 150ms);
  EXPECT_LT(watch.elapsed(), 1000ms);
}

TEST_F(RedisStore, ErrorRepliesAreStatusesThatNameTheRedisError) {
  auto pool = NewPool();
  ASSERT_TRUE(pool->Command({"SET", "k", "v"}).ok());
  Result<RedisReply> wrong = pool->Command({"HGET", "k", "f"});
  EXPECT_EQ(wrong.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(IsRedisError(wrong.status(), "WRONGTYPE")) << wrong.status().ToString();
  EXPECT_FALSE(IsRedisError(wrong.status(), "WRONG"));
}

// Every call made while Redis is down must answer kUnavailable quickly.
template <typename Call>
void ExpectFastUnavailable(const char* what, Call call) {
  Stopwatch watch;
  Status status = call();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << what << ": " << status.ToString();
  EXPECT_LT(watch.elapsed(), 1000ms) << what << " took too long";
}

TEST_F(RedisStore, SurvivesRedisGoingAwayAndComingBack) {
  auto pool = NewPool();
  RedisSessionStore store(pool);
  RedisWorkQueue queue(pool, {300, "worker"});
  Session s = SessionFor("2f1c0c3e-4d5b-4a8e-9f00-00000000000e", "nonce-123");
  ASSERT_TRUE(store.Create(s).ok());
  ASSERT_TRUE(queue.Enqueue(s.id).ok());
  ASSERT_TRUE(queue.Ack(**queue.Dequeue(1s)).ok());

  // A worker blocked on the queue when Redis goes away is let go.
  Result<std::optional<WorkItem>> blocked = std::optional<WorkItem>();
  std::thread worker([&] { blocked = queue.Dequeue(10s); });
  std::this_thread::sleep_for(200ms);
  Stopwatch since_stop;
  redis_.Stop();
  worker.join();
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable) << blocked.status().ToString();
  EXPECT_LT(since_stop.elapsed(), 3000ms);  // includes redis-server's own shutdown

  for (int round = 0; round < 3; ++round) {
    ExpectFastUnavailable("Get", [&] { return store.Get(s.id).status(); });
    ExpectFastUnavailable("Create", [&] {
      return store.Create(SessionFor("2f1c0c3e-4d5b-4a8e-9f00-00000000000f", "n"));
    });
    ExpectFastUnavailable("TransitionToProcessing", [&] {
      return store.TransitionToProcessing(s.id, "t", "e", NowMillis()).status();
    });
    ExpectFastUnavailable("Delete", [&] { return store.Delete(s.id); });
    ExpectFastUnavailable("Ping", [&] { return store.Ping(); });
    ExpectFastUnavailable("Enqueue", [&] { return queue.Enqueue(s.id); });
    ExpectFastUnavailable("Dequeue", [&] { return queue.Dequeue(5s).status(); });
    std::this_thread::sleep_for(100ms);  // let the backoff expire now and then
  }
  EXPECT_EQ(queue.Depth(), -1);
  EXPECT_GT(pool->errors(), 0);

  ASSERT_TRUE(redis_.Start());
  Stopwatch since_start;
  while (!store.Ping().ok() && since_start.elapsed() < 5s) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(store.Ping().ok()) << "no recovery within 5 s";
  EXPECT_GT(pool->reconnects(), 0);

  // A fresh Redis (no persistence): empty, no scripts cached, no queue group.
  EXPECT_EQ(store.Get(s.id).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.Create(s).ok());
  EXPECT_TRUE(store.TransitionToProcessing(s.id, "t", "e", NowMillis()).ok());
  ASSERT_TRUE(queue.Enqueue(s.id).ok());
  Result<std::optional<WorkItem>> item = queue.Dequeue(1s);
  ASSERT_TRUE(item.ok() && item->has_value()) << item.status().ToString();
  EXPECT_TRUE(queue.Ack(**item).ok());
}

TEST_F(RedisStore, RestartWhileIdleCostsCallersNothing) {
  auto pool = NewPool();
  // Open several connections at once so the pool holds more than one.
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { (void)pool->Ping(); });
  for (auto& t : threads) t.join();
  redis_.Stop();
  ASSERT_TRUE(redis_.Start());
  // Stale connections are noticed before use, not by failing a call.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(pool->Ping().ok()) << "call " << i;
  EXPECT_EQ(pool->errors(), 0);
  EXPECT_GE(pool->reconnects(), 1);
}

TEST_F(RedisStore, OpensWhileRedisIsDownAndAnswersUnavailable) {
  StoreOptions options;
  options.url = "redis://127.0.0.1:" + std::to_string(testing::FreePort()) + "/0";
  Result<Stores> stores = OpenStores(options);
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  ExpectFastUnavailable("Ping", [&] { return stores->sessions->Ping(); });
  ExpectFastUnavailable("Dequeue", [&] { return stores->queue->Dequeue(5s).status(); });
  EXPECT_EQ(stores->queue->Depth(), -1);
}

TEST_F(RedisStore, ConnectsOverAUnixSocketToTheChosenDatabase) {
  testing::TempDir dir;
  std::string socket = dir.path() + "/redis.sock";
  pid_t pid = testing::Spawn({"redis-server", "--port", "0", "--unixsocket", socket, "--save", "",
                              "--appendonly", "no", "--dir", dir.path()});
  ASSERT_GT(pid, 0);
  StoreOptions options;
  options.url = "redis+unix://" + socket + "?db=3";
  Result<Stores> stores = OpenStores(options);
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  Stopwatch watch;
  while (!stores->sessions->Ping().ok() && watch.elapsed() < 5s) {
    std::this_thread::sleep_for(50ms);
  }
  Session s = SessionFor("2f1c0c3e-4d5b-4a8e-9f00-000000000010", "nonce-123");
  EXPECT_TRUE(stores->sessions->Create(s).ok());
  EXPECT_TRUE(stores->sessions->Get(s.id).ok());
  RedisPoolOptions db3 = PoolOptionsFor(options.url);
  RedisPool in_db3(db3);
  db3.endpoint.db = 0;
  RedisPool in_db0(db3);
  std::string key = RedisSessionStore::KeyFor(s.id);
  EXPECT_EQ(in_db3.Command({"EXISTS", key})->integer(), 1);
  EXPECT_EQ(in_db0.Command({"EXISTS", key})->integer(), 0);
  testing::StopProcess(pid);
}

// ---- Faults Redis will not produce on demand ----

// A loopback listener that is not Redis. The kernel completes handshakes up
// to the backlog whether or not anyone calls Accept.
class FakeServer {
 public:
  FakeServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
          ::listen(fd_, 16) == 0 &&
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
  }
  ~FakeServer() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  int Accept() { return ::accept(fd_, nullptr, nullptr); }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
};

// Several attestd instances share one Redis: an attester enrolled or
// activated through one instance must be known to every other, so the Redis
// store set keeps the attester directory in Redis too.
TEST(RedisStores, AttestersAreSharedBetweenInstances) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok()) << "could not start redis-server";
  StoreOptions options;
  options.url = redis.url();
  Result<Stores> first = OpenStores(options);
  Result<Stores> second = OpenStores(options);
  ASSERT_TRUE(first.ok() && second.ok());
  Attester attester;
  attester.ak_tpm = "ak";
  attester.trusted = true;
  ASSERT_TRUE(first->attesters->Put("agent-1", attester).ok());
  Result<Attester> seen = second->attesters->Get("agent-1");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->ak_tpm, "ak");
}

TEST(RedisStoreFaults, UnresponsiveServerTimesOutInsteadOfHanging) {
  FakeServer silent;  // accepts (in the kernel) and never answers
  ASSERT_TRUE(silent.ok());
  RedisPoolOptions options = PoolOptionsFor(silent.url());
  options.command_timeout_ms = 300;
  RedisPool pool(options);
  Stopwatch watch;
  EXPECT_EQ(pool.Ping().code(), StatusCode::kUnavailable);
  EXPECT_GE(watch.elapsed(), 250ms);
  EXPECT_LT(watch.elapsed(), 1000ms);
}

TEST(RedisStoreFaults, BackoffLimitsConnectAttemptsWhileRedisIsDown) {
  RedisPoolOptions options =
      PoolOptionsFor("redis://127.0.0.1:" + std::to_string(testing::FreePort()) + "/0");
  RedisPool pool(options);
  int attempts = 0;
  int calls = 0;
  Stopwatch watch;
  while (watch.elapsed() < 1000ms) {
    Status status = pool.Ping();
    ASSERT_EQ(status.code(), StatusCode::kUnavailable);
    ++calls;
    // Calls that did not try to connect say so.
    if (status.message().find("retrying later") == std::string::npos) ++attempts;
    std::this_thread::sleep_for(1ms);
  }
  // 50, 100, 200, 400 ms waits: about five attempts in a second.
  EXPECT_GE(attempts, 3);
  EXPECT_LE(attempts, 8);
  EXPECT_GT(calls, 100);
  EXPECT_EQ(pool.errors(), calls);
}

TEST(RedisStoreFaults, WritingToAPeerThatHasGoneDoesNotRaiseSigpipe) {
  FakeServer gone;
  ASSERT_TRUE(gone.ok());
  std::thread peer([&] { ::close(gone.Accept()); });
  RedisPool pool(PoolOptionsFor(gone.url()));
  Result<RedisConnection> connection = pool.Borrow();
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  peer.join();
  std::this_thread::sleep_for(50ms);  // the peer's FIN has arrived
  // The first write(2) reaches the closed peer, which answers with a reset;
  // hiredis writes this much in several calls, and the next one fails with
  // EPIPE, raising SIGPIPE unless the pool guards against it.
  std::string big(16 << 20, 'x');
  Result<RedisReply> reply = connection->Command({"SET", "k", big});
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable) << reply.status().ToString();
}

// ---- OpenStores URLs ----

TEST(StoreUrl, ParsesTheRedisForms) {
  Result<RedisEndpoint> tcp = ParseRedisUrl("redis://cache.local:6380/2");
  ASSERT_TRUE(tcp.ok()) << tcp.status().ToString();
  EXPECT_EQ(tcp->host, "cache.local");
  EXPECT_EQ(tcp->port, 6380);
  EXPECT_EQ(tcp->db, 2);
  Result<RedisEndpoint> defaults = ParseRedisUrl("redis://cache.local");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->port, 6379);
  EXPECT_EQ(defaults->db, 0);
  Result<RedisEndpoint> v6 = ParseRedisUrl("redis://[::1]:7000/");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  Result<RedisEndpoint> unix_socket = ParseRedisUrl("redis+unix:///run/redis/redis.sock?db=5");
  ASSERT_TRUE(unix_socket.ok()) << unix_socket.status().ToString();
  EXPECT_EQ(unix_socket->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(unix_socket->db, 5);
  EXPECT_EQ(ParseRedisUrl("redis+unix:///tmp/r.sock")->db, 0);
}

TEST(StoreUrl, BadUrlsAreInvalidArgumentsNamingTheProblem) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"redis://", "missing host"},
      {"redis://:6379/0", "missing host"},
      {"redis://host:port/0", "port 'port'"},
      {"redis://host:70000/0", "port '70000'"},
      {"redis://host:/0", "empty port"},
      {"redis://host:6379/x", "database 'x'"},
      {"redis://host:6379/-1", "database '-1'"},
      {"redis://user:%zz@host:6379/0", "percent-encoding"},
      {"redis://host:6379/0?timeout=1", "query"},
      {"redis://[::1:6379/0", "unterminated"},
      {"redis+unix://relative/path", "three slashes"},
      {"redis+unix:///tmp/r.sock?db=x", "database 'x'"},
      {"redis+unix:///tmp/r.sock?timeout=1", "db=N"},
      {"rediss://host:6379/0", "unsupported store URL"},
      {"mongodb://host", "unsupported store URL"},
  };
  for (const Case& c : cases) {
    StoreOptions options;
    options.url = c.url;
    Result<Stores> stores = OpenStores(options);
    EXPECT_EQ(stores.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(stores.status().message().find(c.says), std::string::npos)
        << c.url << " -> " << stores.status().message();
  }
}

}  // namespace
}  // namespace attestd
