// The RegistrarStore contract, for the memory store and a real redis-server:
// identity rules, regcount, and the compare-on-challenge operations that
// keep a stale activation from touching a newer registration.
#include <gtest/gtest.h>

#include "store/memory/memory_registrar_store.h"
#include "store/redis/redis_registrar_store.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

class RegistrarStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      pool_ = std::make_shared<RedisPool>(redis_->pool_options(4));
      store_ = std::make_shared<RedisRegistrarStore>(pool_);
    } else {
      store_ = std::make_shared<MemoryRegistrarStore>();
    }
  }

  static RegistrarAgent Agent(const std::string& id, const std::string& challenge_key,
                              const std::string& ak = std::string("ak\0bytes", 8)) {
    RegistrarAgent a;
    a.agent_id = id;
    a.aik_tpm = ak;
    a.ek_tpm = std::string("ek\0bytes", 8);
    a.mtls_cert = "disabled";
    a.ip = "10.0.0.1";
    a.port = 9002;
    a.challenge_key = challenge_key;
    a.regcount = 99;  // ignored
    a.active = true;  // ignored
    return a;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::shared_ptr<RedisPool> pool_;
  std::shared_ptr<RegistrarStore> store_;
};

TEST_P(RegistrarStoreTest, RegisterActivateAndList) {
  auto first = store_->Register(Agent("a1", "key-1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->regcount, 1);
  EXPECT_FALSE(first->active);
  auto got = store_->Get("a1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->aik_tpm, std::string("ak\0bytes", 8));
  EXPECT_EQ(got->port, 9002);
  EXPECT_EQ(got->challenge_key, "key-1");
  EXPECT_TRUE(store_->ListActive()->empty());

  EXPECT_EQ(store_->Activate("a1", "wrong").code(), StatusCode::kConflict);
  ASSERT_TRUE(store_->Activate("a1", "key-1").ok());
  got = store_->Get("a1");
  EXPECT_TRUE(got->active);
  EXPECT_TRUE(got->challenge_key.empty());
  EXPECT_EQ(store_->Activate("a1", "key-1").code(), StatusCode::kConflict);  // one-shot
  EXPECT_EQ(*store_->ListActive(), std::vector<std::string>{"a1"});
  EXPECT_EQ(store_->Activate("nobody", "k").code(), StatusCode::kNotFound);
}

TEST_P(RegistrarStoreTest, SameIdentityCountsOtherIdentityIsRefused) {
  ASSERT_TRUE(store_->Register(Agent("a1", "key-1")).ok());
  ASSERT_TRUE(store_->Activate("a1", "key-1").ok());
  auto again = store_->Register(Agent("a1", "key-2"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->regcount, 2);
  EXPECT_FALSE(store_->Get("a1")->active);
  auto other = store_->Register(Agent("a1", "key-3", "another ak"));
  EXPECT_EQ(other.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->Get("a1")->challenge_key, "key-2");
  EXPECT_EQ(store_->Get("a1")->regcount, 2);
}

TEST_P(RegistrarStoreTest, StaleChallengeCannotDeleteANewerRegistration) {
  ASSERT_TRUE(store_->Register(Agent("a1", "key-1")).ok());
  ASSERT_TRUE(store_->Register(Agent("a1", "key-2")).ok());
  EXPECT_EQ(store_->DeleteIfChallenge("a1", "key-1").code(), StatusCode::kConflict);
  EXPECT_TRUE(store_->Get("a1").ok());
  EXPECT_TRUE(store_->DeleteIfChallenge("a1", "key-2").ok());
  EXPECT_EQ(store_->Get("a1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteIfChallenge("a1", "key-2").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("a1").code(), StatusCode::kNotFound);
}

TEST_P(RegistrarStoreTest, ListIsSortedAndOnlyActive) {
  for (const char* id : {"c", "a", "b", "d"}) {
    ASSERT_TRUE(store_->Register(Agent(id, std::string("k-") + id)).ok());
  }
  for (const char* id : {"c", "a", "b"})
    ASSERT_TRUE(store_->Activate(id, std::string("k-") + id).ok());
  EXPECT_EQ(*store_->ListActive(), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(store_->Delete("b").ok());
  EXPECT_EQ(*store_->ListActive(), (std::vector<std::string>{"a", "c"}));
  if (redis_) {
    EXPECT_EQ(redis_->Cli("EXISTS attestd:registrar:{a}"), "1");
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, RegistrarStoreTest, ::testing::Values("memory", "redis"));

}  // namespace
}  // namespace attestd
