#include "store/redis/redis_pool.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <optional>
#include <string>

#include "common/base64.h"
#include "common/log.h"
#include "store/redis/redis_internal.h"
#include "store/redis/redis_pipeline.h"

namespace attestd {
namespace {

constexpr std::string_view kErrorPrefix = "redis: ";

timeval ToTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

namespace redis_internal {

SigpipeGuard::SigpipeGuard() {
  sigemptyset(&sigpipe_);
  sigaddset(&sigpipe_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_);
}

SigpipeGuard::~SigpipeGuard() {
  if (sigismember(&previous_, SIGPIPE)) return;  // the caller blocks it already
  sigset_t pending;
  sigemptyset(&pending);
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
    timespec zero{};
    while (sigtimedwait(&sigpipe_, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

namespace {

// Errors after which the same command may well succeed soon (a loading or
// failing-over server, a full one: OOM under maxmemory with noeviction,
// MISCONF when it cannot persist), or that mean Redis will not serve us at
// all (NOAUTH: a password is required), as opposed to errors in what we
// asked. A script's failing call keeps its code first (Redis 7); older
// servers wrap it as "ERR Error running script ...: -OOM ...", which is
// matched too.
bool IsTransientError(std::string_view text) {
  for (std::string_view code :
       {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS",
        "NOAUTH", "WRONGPASS", "OOM", "MISCONF"}) {
    if (text.substr(0, code.size()) == code &&
        (text.size() == code.size() || text[code.size()] == ' ')) {
      return true;
    }
    std::string wrapped = "-" + std::string(code) + " ";
    if (text.substr(0, 4) == "ERR " && text.find(wrapped) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

Status ErrorReplyStatus(std::string_view text) {
  std::string message = std::string(kErrorPrefix) + std::string(text);
  return IsTransientError(text) ? Unavailable(std::move(message)) : Internal(std::move(message));
}

// A pooled connection is stale if the server closed it while it sat idle
// (restart, idle timeout): the socket then reads EOF or an error at once.
// Any unread byte would also be a protocol desync.
bool LooksAlive(redisContext* context) {
  if (context->err != 0) return false;
  char byte;
  ssize_t n = ::recv(context->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace redis_internal

namespace {

using redis_internal::ErrorReplyStatus;
using redis_internal::LooksAlive;
using redis_internal::SigpipeGuard;

// Runs one command on `context`. nullptr from hiredis means an I/O error
// or timeout (context->err says which); an error reply becomes a Status.
Result<RedisReply> Execute(redisContext* context, const RedisArgs& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data() != nullptr ? a.data() : "");  // hiredis copies len bytes
    lengths.push_back(a.size());
  }
  void* raw;
  {
    SigpipeGuard guard;
    raw = redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }
  if (raw == nullptr) return Unavailable(context->errstr[0] ? context->errstr : "I/O error");
  RedisReply reply(static_cast<redisReply*>(raw));
  if (reply.is_error()) return ErrorReplyStatus(reply.str());
  return reply;
}

std::string Sha1Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    return "";  // EVALSHA then answers NOSCRIPT and Eval falls back to EVAL
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

RedisArgs ScriptArgs(std::string_view verb, std::string_view body, const std::string& numkeys,
                     const RedisArgs& keys, const RedisArgs& args) {
  RedisArgs argv{verb, body, numkeys};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// AUTH [user] password, when the endpoint has a password. The error names
// neither: kUnavailable "redis <endpoint>: authentication failed (<code>)",
// <code> being the first word of Redis's answer (WRONGPASS, ERR, ...).
Status Authenticate(redisContext* context, const RedisEndpoint& ep) {
  if (ep.password.empty()) return Status::Ok();
  RedisArgs args =
      ep.user.empty() ? RedisArgs{"AUTH", ep.password} : RedisArgs{"AUTH", ep.user, ep.password};
  Result<RedisReply> reply = Execute(context, args);
  if (reply.ok()) return Status::Ok();
  if (context->err != 0) return Unavailable("redis " + ep.ToString() + ": " + context->errstr);
  Status refused = reply.status();
  std::string_view text = refused.message();
  text.remove_prefix(std::min(text.size(), kErrorPrefix.size()));
  std::string code(text.substr(0, text.find(' ')));
  return Unavailable("redis " + ep.ToString() + ": authentication failed (" + code + ")");
}

// Keeps a misconfiguration from turning into a pool that waits forever.
RedisPoolOptions Sanitized(RedisPoolOptions o) {
  o.size = std::max(o.size, 1);
  o.connect_timeout_ms = std::max(o.connect_timeout_ms, 1);
  o.command_timeout_ms = std::max(o.command_timeout_ms, 1);
  o.min_backoff_ms = std::max(o.min_backoff_ms, 1);
  o.max_backoff_ms = std::max(o.max_backoff_ms, o.min_backoff_ms);
  return o;
}

}  // namespace

bool IsRedisError(const Status& status, std::string_view code) {
  std::string_view m = status.message();
  if (m.substr(0, kErrorPrefix.size()) != kErrorPrefix) return false;
  m.remove_prefix(kErrorPrefix.size());
  return m.substr(0, code.size()) == code && (m.size() == code.size() || m[code.size()] == ' ');
}

Result<std::vector<std::string>> ScanKeys(RedisPool& pool, std::string_view prefix) {
  std::vector<std::string> out;
  std::string cursor = "0";
  std::string pattern = std::string(prefix) + "*";
  do {
    Result<RedisReply> r = pool.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "500"});
    if (!r.ok()) return r.status();
    cursor = (*r)[0].to_string();
    RedisValue keys = (*r)[1];
    for (size_t i = 0; i < keys.size(); ++i) out.push_back(keys[i].to_string());
  } while (cursor != "0");
  // SCAN may return a key more than once.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The EVALSHA → EVAL fallback, written once for every way of sending a
// script: EVALSHA by SHA-1 first and, only if Redis answers NOSCRIPT (after
// a restart or SCRIPT FLUSH), EVAL with the source, which also loads it.
// `prepare` turns arguments into what `send` takes. Both forms are prepared
// before the first send, while `keys` and `args` are alive: an asynchronous
// `send` answers after they are gone. `send(command, then)` runs one command
// and hands its reply to `then`, at once or later; `done` gets the last reply.
template <typename Prepare, typename Send, typename Done>
void EvalWithFallback(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args,
                      Prepare prepare, Send send, Done done) {
  std::string numkeys = std::to_string(keys.size());
  auto eval = prepare(ScriptArgs("EVAL", script.source(), numkeys, keys, args));
  auto evalsha = prepare(ScriptArgs("EVALSHA", script.sha1(), numkeys, keys, args));
  send(std::move(evalsha),
       [send, eval = std::move(eval), done = std::move(done)](Result<RedisReply> reply) mutable {
         if (reply.ok() || !IsRedisError(reply.status(), "NOSCRIPT")) return done(std::move(reply));
         send(std::move(eval), std::move(done));
       });
}

// EvalWithFallback over a blocking `call` (RedisArgs → Result<RedisReply>).
// The prepared arguments may view `numkeys` there: every send ends before
// EvalWithFallback returns.
template <typename Call>
Result<RedisReply> EvalBlocking(const RedisScript& script, const RedisArgs& keys,
                                const RedisArgs& args, Call call) {
  std::optional<Result<RedisReply>> last;
  EvalWithFallback(
      script, keys, args, [](RedisArgs a) { return a; },
      [&call](const RedisArgs& command, auto then) { then(call(command)); },
      [&last](Result<RedisReply> reply) { last.emplace(std::move(reply)); });
  return std::move(*last);
}

}  // namespace

// The "#!lua" line (Redis 7 script flags, none given) makes Redis refuse
// the whole script with OOM while it is over maxmemory. Without it, Redis
// checks only the first write a script makes: a script that starts with a
// write that frees memory (DEL, HDEL, ZREM...) may then write beyond
// maxmemory, so a full Redis would keep growing.
RedisScript::RedisScript(std::string source)
    : source_("#!lua\n" + std::move(source)), sha1_(Sha1Hex(source_)) {}

// ---- RedisConnection ----

RedisConnection::RedisConnection(RedisPool* pool, redisContext* context)
    : pool_(pool), context_(context) {}

RedisConnection::RedisConnection(RedisConnection&& other) noexcept
    : pool_(other.pool_), context_(other.context_), broken_(other.broken_) {
  other.context_ = nullptr;
}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) pool_->Return(context_, broken_);
}

Status RedisConnection::IoError() {
  broken_ = true;
  std::string what = context_->errstr[0] != '\0' ? context_->errstr : "connection failed";
  return pool_->CountedUnavailable("redis " + pool_->options_.endpoint.ToString() + ": " + what);
}

Result<RedisReply> RedisConnection::Command(const RedisArgs& args) {
  if (broken_) return pool_->CountedUnavailable("redis connection failed earlier");
  Result<RedisReply> reply = Execute(context_, args);
  if (reply.ok()) return reply;
  if (context_->err != 0) return IoError();
  pool_->error_replies_.fetch_add(1, std::memory_order_relaxed);
  return reply;
}

Result<RedisReply> RedisConnection::Eval(const RedisScript& script, const RedisArgs& keys,
                                         const RedisArgs& args) {
  return EvalBlocking(script, keys, args, [this](const RedisArgs& a) { return Command(a); });
}

// ---- RedisPool ----

RedisPool::RedisPool(RedisPoolOptions options)
    : options_(Sanitized(std::move(options))), pipeline_(std::make_unique<RedisPipeline>(this)) {}

RedisPool::~RedisPool() {
  pipeline_.reset();  // its I/O thread returns the connection it holds
  std::lock_guard lock(mu_);
  CloseIdleLocked();
}

Status RedisPool::CountedUnavailable(std::string message) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  return Unavailable(std::move(message));
}

Result<RedisConnection> RedisPool::Borrow() {
  Result<redisContext*> context = Lease();
  if (!context.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return context.status();
  }
  return RedisConnection(this, *context);
}

Result<redisContext*> RedisPool::Lease() {
  std::unique_lock lock(mu_);
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.command_timeout_ms);
  if (!returned_.wait_until(lock, deadline, [&] { return leased_ < options_.size; })) {
    return Unavailable("all " + std::to_string(options_.size) + " redis connections are busy");
  }
  ++leased_;
  if (redisContext* context = TakeLiveIdle(lock)) return context;
  Result<redisContext*> opened = OpenWithBackoff(lock);
  if (!opened.ok()) {
    --leased_;
    returned_.notify_one();
  }
  return opened;
}

redisContext* RedisPool::TakeLiveIdle(std::unique_lock<std::mutex>& lock) {
  while (!idle_.empty()) {
    redisContext* context = idle_.back();
    idle_.pop_back();
    lock.unlock();
    bool alive = LooksAlive(context);
    if (!alive) redisFree(context);
    lock.lock();
    if (alive) return context;
    ++dropped_;
  }
  return nullptr;
}

Result<redisContext*> RedisPool::OpenWithBackoff(std::unique_lock<std::mutex>& lock) {
  bool backing_off = backoff_ms_ > 0;
  if (backing_off && (probing_ || Clock::now() < retry_at_)) {
    return Unavailable("redis " + options_.endpoint.ToString() + " unreachable (" +
                       last_connect_error_ + "); retrying later");
  }
  probing_ = backing_off;  // during backoff, one thread tries; the others fail fast
  lock.unlock();
  Result<redisContext*> opened = Connect();
  lock.lock();
  probing_ = false;
  if (!opened.ok()) {
    if (backoff_ms_ == 0) {
      LogWarn("redis unreachable",
              {{"endpoint", options_.endpoint.ToString()}, {"error", opened.status().message()}});
    }
    backoff_ms_ = backoff_ms_ == 0 ? options_.min_backoff_ms
                                   : std::min(2 * backoff_ms_, options_.max_backoff_ms);
    retry_at_ = Clock::now() + std::chrono::milliseconds(backoff_ms_);
    last_connect_error_ = opened.status().message();
    return opened.status();
  }
  if (backing_off) LogInfo("redis reachable again", {{"endpoint", options_.endpoint.ToString()}});
  backoff_ms_ = 0;
  if (dropped_ > 0) {
    --dropped_;
    reconnects_.fetch_add(1, std::memory_order_relaxed);
  }
  return opened;
}

Result<redisContext*> RedisPool::Connect() {
  const RedisEndpoint& ep = options_.endpoint;
  timeval connect_timeout = ToTimeval(options_.connect_timeout_ms);
  redisContext* context = ep.is_unix()
                              ? redisConnectUnixWithTimeout(ep.unix_path.c_str(), connect_timeout)
                              : redisConnectWithTimeout(ep.host.c_str(), ep.port, connect_timeout);
  if (context == nullptr) return Unavailable("redis: cannot allocate a connection");
  if (context->err != 0) {
    std::string why = "redis " + ep.ToString() + ": " + context->errstr;
    redisFree(context);
    return Unavailable(std::move(why));
  }
  if (redisSetTimeout(context, ToTimeval(options_.command_timeout_ms)) != REDIS_OK ||
      (!ep.is_unix() && redisEnableKeepAlive(context) != REDIS_OK)) {
    std::string why = "redis " + ep.ToString() + ": cannot set socket options";
    redisFree(context);
    return Unavailable(std::move(why));
  }
  if (Status auth = Authenticate(context, ep); !auth.ok()) {
    redisFree(context);
    return auth;
  }
  if (ep.db != 0) {
    Result<RedisReply> selected = Execute(context, {"SELECT", std::to_string(ep.db)});
    if (!selected.ok()) {
      redisFree(context);
      return Unavailable("redis " + ep.ToString() +
                         ": SELECT failed: " + selected.status().message());
    }
  }
  return context;
}

void RedisPool::Return(redisContext* context, bool failed) {
  std::lock_guard lock(mu_);
  --leased_;
  if (failed || context->err != 0) {
    redisFree(context);
    ++dropped_;
    // The idle connections most likely share the failure (server restarted
    // or unreachable): close them too rather than let each caller find out
    // by waiting for a timeout.
    CloseIdleLocked();
  } else {
    idle_.push_back(context);
  }
  returned_.notify_one();
}

void RedisPool::CloseIdleLocked() {
  for (redisContext* context : idle_) redisFree(context);
  dropped_ += static_cast<int>(idle_.size());
  idle_.clear();
}

Result<RedisReply> RedisPool::Command(const RedisArgs& args) {
  if (options_.pipeline_blocking_calls) return pipeline_->Call(args);
  Result<RedisConnection> connection = Borrow();
  if (!connection.ok()) return connection.status();
  return connection->Command(args);
}

Result<RedisReply> RedisPool::Eval(const RedisScript& script, const RedisArgs& keys,
                                   const RedisArgs& args) {
  if (options_.pipeline_blocking_calls) {
    RedisPipeline* pipeline = pipeline_.get();
    return EvalBlocking(script, keys, args,
                        [pipeline](const RedisArgs& a) { return pipeline->Call(a); });
  }
  Result<RedisConnection> connection = Borrow();
  if (!connection.ok()) return connection.status();
  return connection->Eval(script, keys, args);
}

void RedisPool::CommandAsync(const RedisArgs& args, Callback done) {
  pipeline_->Submit(RedisPipeline::Format(args), std::move(done));
}

void RedisPool::EvalAsync(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args,
                          Callback done) {
  RedisPipeline* pipeline = pipeline_.get();
  EvalWithFallback(
      script, keys, args, [](const RedisArgs& a) { return RedisPipeline::Format(a); },
      [pipeline](std::string command, auto then) {
        pipeline->Submit(std::move(command), std::move(then));
      },
      std::move(done));
}

Status RedisPool::Ping() {
  Result<RedisReply> reply = Command({"PING"});
  if (!reply.ok()) return reply.status();
  if (reply->str() != "PONG") return Internal("redis: unexpected PING answer");
  return Status::Ok();
}

}  // namespace attestd
