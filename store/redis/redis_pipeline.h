// RedisPipeline: one Redis connection shared by many threads at once, with
// their commands sent in batches (automatic pipelining).
//
// Why: a request that waits for its own round trip costs a write and a read
// in this process and a read, a write and an epoll wake-up in redis-server,
// and leaves Redis idle while the reply travels back. Callers that arrive
// while a batch is on the wire are instead sent together with one write,
// and Redis answers them with one read and one write.
//
// What it promises (RedisPool relies on these to keep its own promises):
// - Each caller gets the reply to its own command; replies are matched to
//   commands by order, as Redis answers them in order.
// - Bounded waits. A call waits for the batch ahead of it (its I/O is bounded
//   by the socket timeouts), then for a connection (at most
//   command_timeout_ms, or a connect), then for its own batch.
// - An I/O error or timeout fails the calls of that batch that have no reply
//   yet with kUnavailable and closes the connection; the pool's backoff then
//   decides when the next batch may connect again.
// - The connection is leased from the pool while there is work and returned
//   when the queue runs dry, so pipelining never holds more connections than
//   the pool's size, nor keeps one from RedisPool::Borrow for long.
// - The I/O thread starts on the first call and stops in the destructor.
// - Asynchronous calls (Submit) never block the caller: their callback runs
//   on the I/O thread once the reply is in (or the call failed), so a server
//   thread can go on serving other requests meanwhile. A callback must not
//   wait for the pool (Command, Eval, Borrow): that would stall the I/O
//   thread; it may submit further calls.
//
// Only for commands that neither block (BLOCK, BLPOP, ...) nor change the
// connection's state (SELECT, MULTI, WATCH, SUBSCRIBE, ...): use
// RedisPool::Borrow for those.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/redis/redis_reply.h"

struct redisContext;

namespace attestd {

class RedisPool;
using RedisArgs = std::vector<std::string_view>;
using RedisCallback = std::function<void(Result<RedisReply>)>;

// One command waiting for its batch.
struct PipelinedCall {
  std::string command;  // RESP
  RedisCallback done;
};

class RedisPipeline {
 public:
  // `pool` supplies the connection, the timeouts, the backoff and the
  // counters; it must outlive this object.
  explicit RedisPipeline(RedisPool* pool);
  // Stops the I/O thread. No call may be in progress.
  ~RedisPipeline();
  RedisPipeline(const RedisPipeline&) = delete;
  RedisPipeline& operator=(const RedisPipeline&) = delete;

  // Runs one command, with the same answers as RedisConnection::Command.
  // Blocks the calling thread until its reply (or failure) is in.
  Result<RedisReply> Call(const RedisArgs& args);

  // Queues a command formatted by Format and returns at once; `done` gets
  // the reply (as Call would return it) on the I/O thread.
  void Submit(std::string command, RedisCallback done);

  // A command in the Redis protocol (RESP), binary-safe.
  static std::string Format(const RedisArgs& args);

 private:
  void Run();
  // Blocks until calls are queued (false: stopping), then takes them all.
  bool TakeBatch(std::vector<PipelinedCall>* batch);
  // Leases a connection if it has none (calls queued meanwhile join the
  // batch), then runs the batch.
  void Serve(std::vector<PipelinedCall>* batch);
  // Sends the batch and hands each reply to its caller as it arrives.
  void Exchange(std::vector<PipelinedCall>& batch);
  void FailAll(std::vector<PipelinedCall>& batch, size_t from, const Status& status);
  // Returns the connection to the pool unless more calls are waiting.
  void ReleaseIfIdle();

  RedisPool* const pool_;
  redisContext* context_ = nullptr;  // leased from pool_; used by the I/O thread only

  std::mutex mu_;
  std::condition_variable queued_;
  std::vector<PipelinedCall> queue_;  // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::thread thread_;                // started by the first Call
};

}  // namespace attestd
