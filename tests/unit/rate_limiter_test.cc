// RateLimiter: the token bucket's arithmetic on a given clock, per-address
// (IPv6: per /64) buckets, and a table that stays bounded however many
// addresses come.
#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace attestd::api {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(RateLimiter, BurstThenRateWithRetryAfter) {
  RateLimiter limiter(2, 4);  // 2 per second, 4 at once
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Take("10.0.0.1", t0), 0) << i;
  EXPECT_EQ(limiter.Take("10.0.0.1", t0), 1);  // 0.5 s until a token: whole seconds
  EXPECT_EQ(limiter.Take("10.0.0.1", t0 + 500ms), 0);
  EXPECT_EQ(limiter.Take("10.0.0.1", t0 + 500ms), 1);
  EXPECT_EQ(limiter.refused(), 2u);
  // Another address has its own bucket.
  EXPECT_EQ(limiter.Take("10.0.0.2", t0), 0);
  // A long pause refills to the burst, not beyond.
  Clock::time_point later = t0 + 60s;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Take("10.0.0.1", later), 0) << i;
  EXPECT_GT(limiter.Take("10.0.0.1", later), 0);
}

TEST(RateLimiter, SlowRatesWaitWholeSeconds) {
  RateLimiter limiter(0.1, 1);  // one per 10 s
  Clock::time_point t0 = Clock::now();
  EXPECT_EQ(limiter.Take("10.0.0.1", t0), 0);
  EXPECT_EQ(limiter.Take("10.0.0.1", t0), 10);
  int wait = limiter.Take("10.0.0.1", t0 + 4s);  // 6 s, give or take rounding
  EXPECT_GE(wait, 6);
  EXPECT_LE(wait, 7);
}

TEST(RateLimiter, Ipv6ClientsAreCountedPerSlash64) {
  EXPECT_EQ(RateLimiter::ClientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(RateLimiter::ClientKey("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
  EXPECT_EQ(RateLimiter::ClientKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(RateLimiter::ClientKey("192.0.2.7"), "192.0.2.7");
  RateLimiter limiter(1, 1);
  Clock::time_point t0 = Clock::now();
  EXPECT_EQ(limiter.Take("2001:db8::1", t0), 0);
  EXPECT_GT(limiter.Take("2001:db8::2", t0), 0);  // the same /64
  EXPECT_EQ(limiter.Take("2001:db8:0:1::1", t0), 0);
}

TEST(RateLimiter, TableStaysBoundedUnderManyAddresses) {
  RateLimiter limiter(1, 2, /*max_clients=*/64);
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 10000; ++i) {
    (void)limiter.Take("10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) +
                           "." + std::to_string(i % 256),
                       t0);
  }
  EXPECT_LE(limiter.clients(), 64u);
  // Addresses beyond the table share an overflow bucket: limited together.
  EXPECT_GT(limiter.refused(), 9000u);
  // Buckets that refilled make room for new addresses.
  Clock::time_point later = t0 + 10s;
  EXPECT_EQ(limiter.Take("192.0.2.1", later), 0);
  EXPECT_EQ(limiter.Take("192.0.2.2", later), 0);
  EXPECT_LE(limiter.clients(), 64u);
}

TEST(RateLimiter, ConcurrentTakesGrantExactlyTheBurst) {
  RateLimiter limiter(0.001, 100, /*max_clients=*/256);  // no refill during the test
  Clock::time_point t0 = Clock::now();
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.Take("10.0.0.1", t0) == 0) granted.fetch_add(1);
        (void)limiter.Take("10.1." + std::to_string(t) + "." + std::to_string(i), t0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_LE(limiter.clients(), 256u);
}

}  // namespace
}  // namespace attestd::api
