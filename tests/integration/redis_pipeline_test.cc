// RedisPipeline through RedisPool::Command/Eval: many threads share one
// connection, each gets its own reply, and a Redis that dies with a batch on
// the wire fails exactly those calls, after which the pool recovers.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/redis/redis_pool.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

using namespace std::chrono_literals;

RedisPoolOptions OptionsFor(const testing::RedisServer& redis, int size) {
  RedisPoolOptions options = redis.pool_options(size);
  options.command_timeout_ms = 3000;
  options.pipeline_blocking_calls = true;  // Command and Eval too, to test them
  return options;
}

// The value of `field` in the text of INFO, or "".
std::string InfoField(const std::string& info, const std::string& field) {
  size_t at = info.find(field + ":");
  if (at == std::string::npos) return "";
  size_t start = at + field.size() + 1;
  size_t end = info.find_first_of("\r\n", start);
  return info.substr(start, end - start);
}

TEST(RedisPipeline, ConcurrentCallersEachGetTheirOwnReply) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  RedisPool pool(OptionsFor(redis, 4));
  ASSERT_TRUE(pool.Command({"SET", "a-string", "v"}).ok());
  static const RedisScript kEcho("return ARGV[1] .. KEYS[1]");
  std::string connections_before = InfoField(redis.Cli("INFO stats"), "total_connections_received");

  constexpr int kThreads = 16;
  constexpr int kCalls = 1000;
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kCalls; ++i) {
        std::string mine = std::to_string(t) + ":" + std::to_string(i);
        switch (i % 4) {
          case 0: {  // binary-safe arguments and replies
            std::string payload = mine + std::string(1, '\0') + "\r\n$3\r\n";
            Result<RedisReply> r = pool.Command({"ECHO", payload});
            if (!r.ok())
              ++failed;
            else if (r->str() != payload)
              ++wrong;
            break;
          }
          case 1: {  // an error reply in the middle of a batch
            Result<RedisReply> r = pool.Command({"HGET", "a-string", mine});
            if (!IsRedisError(r.status(), "WRONGTYPE")) ++wrong;
            break;
          }
          case 2: {
            Result<RedisReply> r = pool.Eval(kEcho, {"-k"}, {mine});
            if (!r.ok())
              ++failed;
            else if (r->str() != mine + "-k")
              ++wrong;
            break;
          }
          default: {
            Result<RedisReply> r = pool.Command({"INCR", "counter:" + std::to_string(t)});
            if (!r.ok())
              ++failed;
            else if (r->integer() != i / 4 + 1)
              ++wrong;
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(pool.errors(), 0);
  // WRONGTYPE, and NOSCRIPT for the first EVALSHA of some threads.
  EXPECT_GE(pool.error_replies(), kThreads * kCalls / 4);
  EXPECT_LE(pool.error_replies(), kThreads * kCalls / 4 + kThreads);
  // All of that went over one connection: the pipeline's.
  std::string connections_after = InfoField(redis.Cli("INFO stats"), "total_connections_received");
  // +1: the redis-cli that asks.
  EXPECT_EQ(std::stoi(connections_after), std::stoi(connections_before) + 1);
}

TEST(RedisPipeline, AsynchronousCallsEachGetTheirOwnReplyWithoutWaiting) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  RedisPool pool(OptionsFor(redis, 2));
  static const RedisScript kTwice("return ARGV[1] .. ARGV[1]");
  ASSERT_TRUE(pool.Eval(kTwice, {}, {"x"}).ok());
  ASSERT_EQ(redis.Cli("SCRIPT FLUSH"), "OK");  // the next EVALSHA answers NOSCRIPT

  constexpr int kThreads = 8;
  constexpr int kCalls = 500;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::latch answered(kThreads * kCalls * 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        std::string mine = std::to_string(t) + ":" + std::to_string(i);
        // The arguments die before the replies arrive.
        pool.CommandAsync({"ECHO", mine}, [&, mine](Result<RedisReply> r) {
          (r.ok() && r->str() == mine ? right : wrong)++;
          answered.count_down();
        });
        pool.EvalAsync(kTwice, {}, {mine}, [&, mine](Result<RedisReply> r) {
          (r.ok() && r->str() == mine + mine ? right : wrong)++;
          answered.count_down();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  answered.wait();
  EXPECT_EQ(right.load(), kThreads * kCalls * 2);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(pool.errors(), 0);
}

TEST(RedisPipeline, RedisDyingMidBatchFailsThoseCallsAndALaterCallSucceeds) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  RedisPoolOptions options = OptionsFor(redis, 1);
  options.command_timeout_ms = 5000;  // longer than the test waits: failures are I/O errors
  RedisPool pool(options);
  Result<RedisReply> info = pool.Command({"INFO", "server"});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  pid_t pid = std::stoi(InfoField(info->to_string(), "process_id"));
  ASSERT_GT(pid, 0);

  // Hold the only connection so that the callers queue up in the pipeline;
  // once it is free they all go to Redis in one batch.
  std::optional<Result<RedisConnection>> held(pool.Borrow());
  ASSERT_TRUE(held->ok());
  constexpr int kThreads = 12;
  std::vector<Status> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      outcomes[t] = pool.Command({"SET", "k" + std::to_string(t), "v"}).status();
    });
  }
  std::this_thread::sleep_for(300ms);  // all queued
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);  // Redis stops answering
  held.reset();                        // the batch goes on the wire
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // and Redis dies with it unanswered
  auto killed = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 2s);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(outcomes[t].code(), StatusCode::kUnavailable) << t << ": " << outcomes[t].ToString();
  }
  EXPECT_GE(pool.errors(), kThreads);

  redis.Stop();  // reaps the killed server
  EXPECT_EQ(pool.Ping().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(redis.Start());
  auto restarted = std::chrono::steady_clock::now();
  Status ping = pool.Ping();
  while (!ping.ok() && std::chrono::steady_clock::now() - restarted < 5s) {
    std::this_thread::sleep_for(50ms);
    ping = pool.Ping();
  }
  ASSERT_TRUE(ping.ok()) << ping.ToString();
  Result<RedisReply> set = pool.Command({"SET", "after", "restart"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(pool.Command({"GET", "after"})->str(), "restart");
  EXPECT_GT(pool.reconnects(), 0);
}

TEST(RedisPipeline, CallsWhileRedisIsDownFailFastAndConcurrently) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  RedisPool pool(OptionsFor(redis, 2));
  ASSERT_TRUE(pool.Ping().ok());
  redis.Stop();
  std::vector<std::thread> threads;
  std::atomic<int> unavailable{0};
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (pool.Command({"GET", "k"}).status().code() == StatusCode::kUnavailable) ++unavailable;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unavailable.load(), 8 * 50);
  EXPECT_EQ(pool.errors(), 8 * 50);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace attestd
