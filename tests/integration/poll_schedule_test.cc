// The PollSchedule contract on both stores: due times, leases held by one
// instance at a time, a dead instance's agents claimable once its lease
// runs out, Renew keeping a short claim alive without ever taking another
// instance's lease, and Release refusing an instance that lost its lease.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "store/stores.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

using namespace std::chrono_literals;

class PollScheduleContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StoreOptions options;
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      options.url = redis_->url();
    }
    auto stores = OpenStores(options);
    ASSERT_TRUE(stores.ok()) << stores.status().ToString();
    stores_ = std::move(*stores);
    ASSERT_TRUE(stores_.pull);
    s_ = stores_.pull.get();
  }

  std::vector<std::string> Claim(const std::string& who, int64_t lease_ms = 10000,
                                 size_t max = 100) {
    auto r = s_->Claim(who, lease_ms, max);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto v = r.ok() ? *r : std::vector<std::string>{};
    std::sort(v.begin(), v.end());
    return v;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  Stores stores_;
  PollSchedule* s_ = nullptr;
};

TEST_P(PollScheduleContract, DueAgentsAreClaimedOnceAndNotBeforeTheirTime) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_TRUE(s_->Add("b", 0).ok());
  ASSERT_TRUE(s_->Add("later", 60000).ok());
  // Add does not move an agent already scheduled.
  ASSERT_TRUE(s_->Add("a", 60000).ok());
  EXPECT_EQ(*s_->Size(), 3);
  EXPECT_EQ(Claim("i1"), (std::vector<std::string>{"a", "b"}));
  // Claimed: not due again while the lease runs.
  EXPECT_TRUE(Claim("i1").empty());
  EXPECT_TRUE(Claim("i2").empty());
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i1"));
  EXPECT_EQ(*s_->Holder("later"), std::nullopt);
  // Reschedule moves it.
  ASSERT_TRUE(s_->Reschedule("later", 0).ok());
  EXPECT_EQ(Claim("i2"), std::vector<std::string>{"later"});
}

TEST_P(PollScheduleContract, MaxBoundsOneClaim) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s_->Add("agent-" + std::to_string(i), 0).ok());
  EXPECT_EQ(Claim("i1", 10000, 4).size(), 4u);
  EXPECT_EQ(Claim("i2", 10000, 100).size(), 6u);
}

TEST_P(PollScheduleContract, TheHolderKeepsItsAgentOthersWaitForTheLease) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_EQ(Claim("i1").size(), 1u);
  // Due again at once, lease kept 300 ms: only i1 may take it.
  ASSERT_TRUE(*s_->Release("a", "i1", 0, 300));
  EXPECT_TRUE(Claim("i2").empty());
  EXPECT_EQ(Claim("i1"), std::vector<std::string>{"a"});
  ASSERT_TRUE(*s_->Release("a", "i1", 0, 300));
  // i1 dies: once the lease ran out, i2 takes the agent.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(*s_->Holder("a"), std::nullopt);
  EXPECT_EQ(Claim("i2"), std::vector<std::string>{"a"});
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i2"));
  // i1 comes back late: its release changes nothing.
  EXPECT_FALSE(*s_->Release("a", "i1", 0, 300));
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i2"));
}

TEST_P(PollScheduleContract, AnInstanceDyingMidPollLosesTheAgentWhenTheLeaseEnds) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_EQ(Claim("i1", 300).size(), 1u);  // never released
  EXPECT_TRUE(Claim("i2", 300).empty());
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(Claim("i2", 300), std::vector<std::string>{"a"});
}

TEST_P(PollScheduleContract, RenewalKeepsAShortClaimPastItsLease) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_EQ(Claim("i1", 300).size(), 1u);
  // A poll longer than the claim: renewed every 100 ms, i2 never gets in.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(100ms);
    auto lost = s_->Renew("i1", {"a"}, 300);
    ASSERT_TRUE(lost.ok()) << lost.status().ToString();
    EXPECT_TRUE(lost->empty());
    EXPECT_TRUE(Claim("i2", 300).empty()) << "after " << (i + 1) * 100 << " ms";
  }
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i1"));
  // i1 dies: no more renewals, the lease runs out, i2 takes the agent.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(Claim("i2", 300), std::vector<std::string>{"a"});
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i2"));
}

TEST_P(PollScheduleContract, RenewReportsLostLeasesAndStealsNone) {
  ASSERT_TRUE(s_->Add("others", 0).ok());
  ASSERT_EQ(Claim("i2", 60000), std::vector<std::string>{"others"});
  for (const char* id : {"kept", "expired", "removed"}) ASSERT_TRUE(s_->Add(id, 0).ok());
  ASSERT_EQ(Claim("i1", 600), (std::vector<std::string>{"expired", "kept", "removed"}));
  ASSERT_TRUE(s_->Remove("removed").ok());
  // Only "kept" is renewed; "expired" runs out and i2 takes it.
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(s_->Renew("i1", {"kept"}, 600).ok());
  std::this_thread::sleep_for(450ms);
  EXPECT_EQ(Claim("i2", 60000), std::vector<std::string>{"expired"});
  auto lost = s_->Renew("i1", {"kept", "expired", "removed", "others", "never-added"}, 5000);
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();
  std::sort(lost->begin(), lost->end());
  EXPECT_EQ(*lost, (std::vector<std::string>{"expired", "never-added", "others", "removed"}));
  // Nothing was taken from i2, nothing removed came back.
  EXPECT_EQ(*s_->Holder("kept"), std::optional<std::string>("i1"));
  EXPECT_EQ(*s_->Holder("expired"), std::optional<std::string>("i2"));
  EXPECT_EQ(*s_->Holder("others"), std::optional<std::string>("i2"));
  EXPECT_EQ(*s_->Holder("removed"), std::nullopt);
  EXPECT_EQ(*s_->Holder("never-added"), std::nullopt);
  EXPECT_EQ(*s_->Size(), 3);
  // An empty renewal is no error.
  auto none = s_->Renew("i1", {}, 5000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(PollScheduleContract, RenewNeverShortensAReleasedLease) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_EQ(Claim("i1", 300).size(), 1u);
  // The poll ended (due in 1 s, held 1.3 s) just before a renewal that
  // still counted it in flight: the release stands.
  ASSERT_TRUE(*s_->Release("a", "i1", 1000, 1300));
  auto lost = s_->Renew("i1", {"a"}, 300);
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();
  EXPECT_TRUE(lost->empty());
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(Claim("i1", 300).empty()) << "due again before the release said";
  EXPECT_TRUE(Claim("i2", 300).empty());
  EXPECT_EQ(*s_->Holder("a"), std::optional<std::string>("i1"));
}

TEST_P(PollScheduleContract, RemoveForgetsAgentAndLease) {
  ASSERT_TRUE(s_->Add("a", 0).ok());
  ASSERT_EQ(Claim("i1").size(), 1u);
  ASSERT_TRUE(s_->Remove("a").ok());
  ASSERT_TRUE(s_->Remove("a").ok());
  EXPECT_EQ(*s_->Size(), 0);
  EXPECT_EQ(*s_->Holder("a"), std::nullopt);
  // A release after removal does not bring it back.
  EXPECT_FALSE(*s_->Release("a", "i1", 0, 1000));
  EXPECT_EQ(*s_->Size(), 0);
}

TEST_P(PollScheduleContract, ConcurrentInstancesNeverShareAnAgent) {
  constexpr int kAgents = 200;
  for (int i = 0; i < kAgents; ++i) ASSERT_TRUE(s_->Add("agent-" + std::to_string(i), 0).ok());
  std::atomic<int> claimed{0};
  std::vector<std::set<std::string>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        auto r = s_->Claim("i" + std::to_string(t), 60000, 16);
        if (!r.ok()) continue;
        for (auto& id : *r) got[t].insert(id);
        claimed += static_cast<int>(r->size());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(claimed.load(), kAgents);
  std::set<std::string> all;
  for (auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kAgents));
}

INSTANTIATE_TEST_SUITE_P(Stores, PollScheduleContract, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
