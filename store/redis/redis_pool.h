// RedisPool: a fixed number of hiredis connections shared by threads.
//
// Every Redis-backed store (sessions, work queue, attester directory,
// agents, policies) talks to Redis through a RedisPool. What it promises:
//
// - Thread-safe. At most `size` connections are open; they are opened
//   lazily, so a pool costs nothing until it is used and OpenStores works
//   while Redis is down.
// - Bounded waits. Connecting takes at most connect_timeout_ms, a command at
//   most command_timeout_ms (socket timeouts), and waiting for a free
//   connection at most command_timeout_ms.
// - Failing fast. A connection that hits an I/O error or a timeout is closed
//   (with the idle ones, which likely share its fate) and reopened on demand.
//   After a failed connect the pool waits before trying again (50 ms,
//   doubling to 2 s), and meanwhile every call that needs a new connection
//   answers kUnavailable at once: a dead Redis is neither hammered nor
//   allowed to stall callers.
// - Status values only. Not reaching Redis, and Redis errors that mean "try
//   later" (LOADING, BUSY, READONLY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, and
//   OOM or MISCONF: Redis is full or cannot persist, so it refuses writes) or
//   "not for you" (NOAUTH), are kUnavailable; any other error reply is kInternal whose message is
//   "redis: " + Redis's own text (test it with IsRedisError).
// - Pipelined. CommandAsync and EvalAsync (and, with
//   pipeline_blocking_calls, Command, Eval and Ping) share one connection
//   (see RedisPipeline): calls made while others are on the wire go to Redis
//   together in one write, so concurrent callers cost Redis and this process
//   one read and one write per batch rather than per call. Otherwise a call
//   runs on a connection borrowed for its duration. Borrow gives a
//   connection of one's own, for blocking commands and MULTI/WATCH.
// - SIGPIPE cannot kill the process: hiredis 0.14 writes with write(2), not
//   send(MSG_NOSIGNAL), so each command blocks SIGPIPE in the calling thread
//   and discards one it raised (the way libpq does). The server also ignores
//   SIGPIPE in main; this keeps tests and tools safe without that.
// - Authenticated. With a password in the endpoint, every connection (the
//   pool's, the pipeline's, the work queue's blocking ones) sends
//   AUTH [user] password right after connecting, before SELECT. A refused
//   AUTH is kUnavailable "redis <endpoint>: authentication failed (<code>)";
//   no message, log line or Status names the user's password.
//
// Usage:
//   RedisPool pool(options);
//   Result<RedisReply> r = pool.Command({"HGET", key, "state"});
//   static const RedisScript kScript("return redis.call('GET', KEYS[1])");
//   Result<RedisReply> v = pool.Eval(kScript, {key}, {});
//   // Several commands on one connection (MULTI/EXEC, WATCH):
//   Result<RedisConnection> c = pool.Borrow();
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/redis/redis_reply.h"
#include "store/redis/redis_url.h"

struct redisContext;

namespace attestd {

struct RedisPoolOptions {
  RedisEndpoint endpoint;
  int size = 4;                   // connections at most
  int connect_timeout_ms = 500;   // per connection attempt
  int command_timeout_ms = 2000;  // per command; must exceed any BLOCK time used
  int min_backoff_ms = 50;        // first wait after a failed connect
  int max_backoff_ms = 2000;      // the wait doubles up to this
  // Whether the blocking Command/Eval also go through the pipeline. Off by
  // default: a caller that waits anyway gains nothing from batching and
  // pays a hand-off to the I/O thread and back (measured: the evidence
  // POST, four blocking calls, serves 1.5x the sessions per second on a
  // borrowed connection). CommandAsync/EvalAsync are always pipelined.
  bool pipeline_blocking_calls = false;
};

// Arguments of one command. Binary-safe: each element may hold any bytes,
// NULs included. Elements must outlive the call only.
using RedisArgs = std::vector<std::string_view>;

// A Lua script run with EVALSHA, falling back to EVAL (which also loads it)
// when Redis answers NOSCRIPT, e.g. after a restart. Make it a long-lived
// (static) object: the SHA-1 is computed once, in the constructor. The
// source gets a "#!lua" first line (Redis 7 flags syntax, no flags): Redis
// then refuses the script as a whole with OOM while over maxmemory, rather
// than only its first write (needs Redis 7, as Debian 12 ships).
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // lower-case hex

 private:
  std::string source_;
  std::string sha1_;
};

class RedisPool;
class RedisPipeline;

// One connection borrowed from a RedisPool, for a sequence of commands that
// must share a connection. Returned to the pool when destroyed (or closed if
// it failed). Use from one thread at a time; do not outlive the pool.
class RedisConnection {
 public:
  RedisConnection(RedisConnection&& other) noexcept;
  RedisConnection& operator=(RedisConnection&&) = delete;
  RedisConnection(const RedisConnection&) = delete;
  ~RedisConnection();

  // Runs one command; see RedisPool::Command. After an I/O error every
  // later call answers kUnavailable without touching the network.
  Result<RedisReply> Command(const RedisArgs& args);
  // Runs a script with EVALSHA, or EVAL on NOSCRIPT.
  Result<RedisReply> Eval(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args);

 private:
  friend class RedisPool;
  RedisConnection(RedisPool* pool, redisContext* context);
  Status IoError();

  RedisPool* pool_;
  redisContext* context_;
  bool broken_ = false;
};

class RedisPool {
 public:
  explicit RedisPool(RedisPoolOptions options);
  // Closes idle connections. Every RedisConnection must be gone by then.
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // A connection for exclusive use, or kUnavailable (Redis unreachable, in
  // backoff, or all connections busy for command_timeout_ms).
  Result<RedisConnection> Borrow();

  // Runs one command (see pipeline_blocking_calls). A command
  // that blocks (BLOCK, BLPOP, ...) or changes the connection's state
  // (SELECT, MULTI, WATCH, ...) needs Borrow instead. A top-level error
  // reply becomes a Status (see above); errors nested in an array (EXEC
  // results) are left in the reply for the caller.
  Result<RedisReply> Command(const RedisArgs& args);

  // Runs `script` with these KEYS and ARGV (like Command).
  Result<RedisReply> Eval(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args);

  // Command and Eval without waiting: `done` gets what they would return,
  // on the pipeline's I/O thread. `done` must not wait for this pool (Command,
  // Eval, Borrow); it may make further asynchronous calls. Arguments need
  // not outlive the call.
  using Callback = std::function<void(Result<RedisReply>)>;
  void CommandAsync(const RedisArgs& args, Callback done);
  void EvalAsync(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args,
                 Callback done);

  // OK if Redis answers PING.
  Status Ping();

  const RedisPoolOptions& options() const { return options_; }

  // For metrics, monotonically increasing:
  // connections opened to replace ones that failed or went stale;
  int64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  // calls answered kUnavailable because Redis could not be reached (failed
  // connects, I/O errors and timeouts, fast failures during backoff, no free
  // connection in time);
  int64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  // error replies from Redis (WRONGTYPE, NOSCRIPT, BUSYGROUP, ...).
  int64_t error_replies() const { return error_replies_.load(std::memory_order_relaxed); }

 private:
  friend class RedisConnection;
  friend class RedisPipeline;
  using Clock = std::chrono::steady_clock;

  // A connection for exclusive use until Return, as Borrow, but not counted
  // in errors() when it fails.
  Result<redisContext*> Lease();
  // Requires mu_ (held by `lock`). An idle connection that still looks
  // alive, or nullptr.
  redisContext* TakeLiveIdle(std::unique_lock<std::mutex>& lock);
  // Requires mu_. Opens a new connection unless the pool is backing off.
  Result<redisContext*> OpenWithBackoff(std::unique_lock<std::mutex>& lock);
  // A new connected context, with timeouts set, authenticated and the
  // database selected.
  Result<redisContext*> Connect();
  // Called by RedisConnection and RedisPipeline: keep the connection, or
  // close it (`failed`).
  void Return(redisContext* context, bool failed);
  void CloseIdleLocked();
  Status CountedUnavailable(std::string message);

  const RedisPoolOptions options_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<redisContext*> idle_;
  int leased_ = 0;              // borrowed connections and connects in progress
  int dropped_ = 0;             // closed connections not yet replaced
  int backoff_ms_ = 0;          // 0 while connecting works
  bool probing_ = false;        // a connect attempt during backoff is in flight
  Clock::time_point retry_at_;  // no connect attempt before this while backing off
  std::string last_connect_error_;
  std::atomic<int64_t> reconnects_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> error_replies_{0};
  std::unique_ptr<RedisPipeline> pipeline_;  // after everything it uses
};

// True if `status` carries a Redis error reply whose first word is `code`
// (e.g. "NOGROUP", "BUSYGROUP", "NOSCRIPT").
bool IsRedisError(const Status& status, std::string_view code);

// Every key starting with `prefix`, each once, sorted, by SCAN (never KEYS,
// which blocks Redis for the whole keyspace). For listings of a few
// thousand keys; on a cluster, only the node `pool` talks to is scanned.
Result<std::vector<std::string>> ScanKeys(RedisPool& pool, std::string_view prefix);

}  // namespace attestd
