#include "store/redis/redis_pipeline.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <optional>
#include <utility>

#include "common/log.h"
#include "store/redis/redis_internal.h"
#include "store/redis/redis_pool.h"

namespace attestd {

namespace {

// Where a blocking Call waits for its callback.
struct Waiter {
  std::mutex mu;
  std::condition_variable answered;
  bool done = false;  // guarded by mu
  std::optional<Result<RedisReply>> result;
};

void AppendLength(std::string* out, char tag, size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out->push_back(tag);
  out->append(digits, end);
  out->append("\r\n", 2);
}

// Runs the call's callback. One that throws must not take the I/O thread
// (and the process) down with it.
void Answer(PipelinedCall& call, Result<RedisReply> result) {
  RedisCallback done = std::move(call.done);
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    LogError("redis callback threw", {{"what", e.what()}});
  } catch (...) {
    LogError("redis callback threw", {});
  }
}

}  // namespace

std::string RedisPipeline::Format(const RedisArgs& args) {
  size_t size = 16;
  for (std::string_view a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  AppendLength(&out, '*', args.size());
  for (std::string_view a : args) {
    AppendLength(&out, '$', a.size());
    out.append(a.data() != nullptr ? a.data() : "", a.size());
    out.append("\r\n", 2);
  }
  return out;
}

RedisPipeline::RedisPipeline(RedisPool* pool) : pool_(pool) {}

RedisPipeline::~RedisPipeline() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void RedisPipeline::Submit(std::string command, RedisCallback done) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread(&RedisPipeline::Run, this);
    queue_.push_back(PipelinedCall{std::move(command), std::move(done)});
    wake = queue_.size() == 1;  // otherwise the I/O thread has been told already
  }
  if (wake) queued_.notify_one();
}

Result<RedisReply> RedisPipeline::Call(const RedisArgs& args) {
  Waiter waiter;
  // The callback hands the result over under the waiter's mutex, so the
  // waiter (on this stack) outlives every use the I/O thread makes of it.
  Submit(Format(args), [&waiter](Result<RedisReply> result) {
    std::lock_guard lock(waiter.mu);
    waiter.result.emplace(std::move(result));
    waiter.done = true;
    waiter.answered.notify_one();
  });
  std::unique_lock lock(waiter.mu);
  // No deadline here: the I/O thread answers every call it takes within its
  // own bounds (socket timeouts, the pool's wait for a connection).
  waiter.answered.wait(lock, [&] { return waiter.done; });
  return std::move(*waiter.result);
}

void RedisPipeline::Run() {
  // hiredis writes with write(2): block SIGPIPE in this thread for its whole
  // life, so a write to a closed socket fails with EPIPE instead.
  redis_internal::SigpipeGuard guard;
  std::vector<PipelinedCall> batch;
  while (TakeBatch(&batch)) {
    Serve(&batch);
    batch.clear();
    ReleaseIfIdle();
  }
  if (context_ != nullptr) {
    pool_->Return(context_, false);
    context_ = nullptr;
  }
}

bool RedisPipeline::TakeBatch(std::vector<PipelinedCall>* batch) {
  std::unique_lock lock(mu_);
  queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  batch->swap(queue_);
  return true;
}

void RedisPipeline::Serve(std::vector<PipelinedCall>* batch) {
  if (context_ == nullptr) {
    Result<redisContext*> leased = pool_->Lease();
    if (!leased.ok()) {
      FailAll(*batch, 0, leased.status());
      return;
    }
    context_ = *leased;
    std::lock_guard lock(mu_);
    for (PipelinedCall& call : queue_) batch->push_back(std::move(call));
    queue_.clear();
  }
  Exchange(*batch);
}

void RedisPipeline::Exchange(std::vector<PipelinedCall>& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::string& command = batch[i].command;
    if (redisAppendFormattedCommand(context_, command.data(), command.size()) != REDIS_OK) {
      // Out of memory: nothing of this batch is on the wire yet, but the
      // output buffer holds part of it, so the connection is unusable.
      FailAll(batch, 0, Unavailable("redis: cannot queue a command"));
      pool_->Return(context_, true);
      context_ = nullptr;
      return;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    void* raw = nullptr;
    // The first call writes the whole batch; each then reads until its reply.
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      std::string what = context_->errstr[0] != '\0' ? context_->errstr : "connection failed";
      FailAll(batch, i, Unavailable("redis " + pool_->options().endpoint.ToString() + ": " + what));
      pool_->Return(context_, true);
      context_ = nullptr;
      return;
    }
    RedisReply reply(static_cast<redisReply*>(raw));
    if (reply.is_error()) {
      pool_->error_replies_.fetch_add(1, std::memory_order_relaxed);
      Answer(batch[i], redis_internal::ErrorReplyStatus(reply.str()));
    } else {
      Answer(batch[i], std::move(reply));
    }
  }
}

void RedisPipeline::FailAll(std::vector<PipelinedCall>& batch, size_t from, const Status& status) {
  for (size_t i = from; i < batch.size(); ++i) {
    pool_->errors_.fetch_add(1, std::memory_order_relaxed);
    Answer(batch[i], status);
  }
}

void RedisPipeline::ReleaseIfIdle() {
  if (context_ == nullptr) return;
  {
    std::lock_guard lock(mu_);
    if (!queue_.empty()) return;
  }
  pool_->Return(context_, false);
  context_ = nullptr;
}

}  // namespace attestd
