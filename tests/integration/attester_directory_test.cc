// AttesterDirectory promises, for the memory store and a real redis-server:
// get/put/remove, the clock baseline kept or cleared by Put, the atomic
// compare-and-update of AdvanceClock under concurrency, 64-bit clocks, and
// kUnavailable (and a verifier error) when Redis is down.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/memory/memory_attester_directory.h"
#include "store/redis/redis_attester_directory.h"
#include "tests/support/processes.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd {
namespace {

class AttesterDirectoryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      RedisPoolOptions o = redis_->pool_options();
      o.command_timeout_ms = 500;
      pool_ = std::make_shared<RedisPool>(o);
      dir_ = std::make_shared<RedisAttesterDirectory>(pool_);
    } else {
      dir_ = std::make_shared<MemoryAttesterDirectory>();
    }
  }

  static Attester Make(const std::string& ak, const std::string& policy = "", bool trusted = true) {
    Attester a;
    a.ak_tpm = ak;
    a.tpm_policy = policy;
    a.trusted = trusted;
    return a;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::shared_ptr<RedisPool> pool_;
  std::shared_ptr<AttesterDirectory> dir_;
};

TEST_P(AttesterDirectoryTest, PutGetRemove) {
  EXPECT_EQ(dir_->Get("a").status().code(), StatusCode::kNotFound);
  std::string binary("\x00\x01\xff\x00ak", 6);
  ASSERT_TRUE(dir_->Put("a", Make(binary, R"({"15":["00"]})", false)).ok());
  auto got = dir_->Get("a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->ak_tpm, binary);
  EXPECT_EQ(got->tpm_policy, R"({"15":["00"]})");
  EXPECT_FALSE(got->trusted);
  EXPECT_FALSE(got->clock.has_value());
  ASSERT_TRUE(dir_->Put("a", Make(binary, "", true)).ok());
  EXPECT_TRUE(dir_->Get("a")->trusted);
  EXPECT_EQ(dir_->Get("a")->tpm_policy, "");
  EXPECT_EQ(dir_->Get("b").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(dir_->Remove("a").ok());
  ASSERT_TRUE(dir_->Remove("a").ok());
  EXPECT_EQ(dir_->Get("a").status().code(), StatusCode::kNotFound);
  if (redis_) {
    EXPECT_EQ(RedisAttesterDirectory::KeyFor("x"), "attestd:attester:{x}");
  }
}

TEST_P(AttesterDirectoryTest, ClockBaselineMovesOnlyForward) {
  EXPECT_EQ(dir_->AdvanceClock("a", {10, 1, 0}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(dir_->Put("a", Make("ak")).ok());
  auto first = dir_->AdvanceClock("a", {100, 1, 0});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->advanced);
  EXPECT_FALSE(first->previous.has_value());
  // Same clock, lower clock, lower restart, lower reset: refused.
  for (ClockState c : {ClockState{100, 1, 0}, ClockState{99, 1, 0}, ClockState{500, 0, 9}}) {
    auto r = dir_->AdvanceClock("a", c);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->advanced) << c.clock;
    EXPECT_EQ(r->previous, (ClockState{100, 1, 0}));
  }
  EXPECT_TRUE(dir_->AdvanceClock("a", {101, 1, 0})->advanced);
  // A restart or reset may bring the clock back.
  EXPECT_TRUE(dir_->AdvanceClock("a", {50, 1, 1})->advanced);
  EXPECT_FALSE(dir_->AdvanceClock("a", {60, 1, 0})->advanced);
  EXPECT_TRUE(dir_->AdvanceClock("a", {5, 2, 0})->advanced);
  EXPECT_EQ(dir_->Get("a")->clock, (ClockState{5, 2, 0}));
  // 64-bit clocks are compared exactly (beyond a double's 53 bits).
  uint64_t big = (uint64_t{1} << 62) + 1;
  EXPECT_TRUE(dir_->AdvanceClock("a", {big, 2, 0})->advanced);
  EXPECT_FALSE(dir_->AdvanceClock("a", {big - 1, 2, 0})->advanced);
  EXPECT_FALSE(dir_->AdvanceClock("a", {big, 2, 0})->advanced);
  EXPECT_TRUE(dir_->AdvanceClock("a", {big + 1, 2, 0})->advanced);
  EXPECT_TRUE(dir_->AdvanceClock("a", {UINT64_MAX, 2, 0})->advanced);
  EXPECT_EQ(dir_->Get("a")->clock->clock, UINT64_MAX);
  EXPECT_TRUE(dir_->AdvanceClock("a", {0, UINT32_MAX, UINT32_MAX})->advanced);
}

TEST_P(AttesterDirectoryTest, PutKeepsBaselineForSameAkAndClearsItForNewAk) {
  ASSERT_TRUE(dir_->Put("a", Make("ak1")).ok());
  ASSERT_TRUE(dir_->AdvanceClock("a", {100, 1, 0})->advanced);
  ASSERT_TRUE(dir_->Put("a", Make("ak1", R"({"1":["00"]})")).ok());
  EXPECT_EQ(dir_->Get("a")->clock, (ClockState{100, 1, 0}));
  ASSERT_TRUE(dir_->Put("a", Make("ak2")).ok());
  EXPECT_FALSE(dir_->Get("a")->clock.has_value());
  // Put's clock field is ignored.
  Attester with_clock = Make("ak2");
  with_clock.clock = ClockState{7, 7, 7};
  ASSERT_TRUE(dir_->Put("a", with_clock).ok());
  EXPECT_FALSE(dir_->Get("a")->clock.has_value());
}

// Many threads race to advance: the baseline ends at the maximum, and no
// caller ever sees it go backwards (each successful advance saw a smaller
// predecessor).
TEST_P(AttesterDirectoryTest, AdvanceClockIsAtomic) {
  ASSERT_TRUE(dir_->Put("a", Make("ak")).ok());
  constexpr int kThreads = 8, kPerThread = 100;
  std::atomic<int> advanced{0}, errors{0}, backwards{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t clock = static_cast<uint64_t>(i * kThreads + t + 1);
        auto r = dir_->AdvanceClock("a", {clock, 3, 0});
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if (r->advanced) {
          ++advanced;
          if (r->previous && r->previous->clock >= clock) ++backwards;
        } else if (!r->previous || r->previous->clock < clock) {
          ++backwards;  // refused although it was newer
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GE(advanced.load(), kPerThread);
  EXPECT_EQ(dir_->Get("a")->clock->clock, static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_P(AttesterDirectoryTest, UnavailableWhenRedisIsDown) {
  if (!redis_) GTEST_SKIP() << "the memory store is never down";
  ASSERT_TRUE(dir_->Put("a", Make(testing::KeylimeVector(testing::kVectorB, "ak.pub"))).ok());
  redis_->Stop();
  EXPECT_EQ(dir_->Get("a").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(dir_->Put("a", Make("x")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(dir_->AdvanceClock("a", {1, 1, 1}).status().code(), StatusCode::kUnavailable);
  // The verifier cannot appraise: an error Status, not an invalid appraisal.
  tpm::TpmQuoteVerifier v(dir_);
  std::string q = testing::KeylimeVector(testing::kVectorB, "keylime_quote_string.txt");
  q = q.substr(0, q.find('\n'));
  auto r = v.Appraise(testing::QuoteJson("a", q), tpm::kTpmQuoteJsonType,
                      testing::KeylimeVector(testing::kVectorB, "rand.out"));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  // Back up: it works again (data gone, the server has no persistence).
  ASSERT_TRUE(redis_->Start());
  Status st;
  for (int i = 0; i < 100; ++i) {
    st = dir_->Put("a", Make(testing::KeylimeVector(testing::kVectorB, "ak.pub")));
    if (st.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto again = v.Appraise(testing::QuoteJson("a", q), tpm::kTpmQuoteJsonType,
                          testing::KeylimeVector(testing::kVectorB, "rand.out"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->is_valid);
}

INSTANTIATE_TEST_SUITE_P(Stores, AttesterDirectoryTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
