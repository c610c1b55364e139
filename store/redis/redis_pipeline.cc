#include "store/redis/redis_pipeline.h"

#include <hiredis/hiredis.h>

#include <optional>
#include <utility>

#include "store/redis/redis_internal.h"
#include "store/redis/redis_pool.h"

namespace attestd {

// One caller's command, on the caller's stack while it waits. The caller
// formats the command itself, so that work is spread over the callers
// rather than done by the I/O thread.
struct PipelinedCall {
  char* command = nullptr;  // RESP, from redisFormatCommandArgv
  size_t length = 0;
  std::mutex mu;
  std::condition_variable answered;
  bool done = false;                         // guarded by mu
  std::optional<Result<RedisReply>> result;  // set before done
};

namespace {

// Hands `result` to the caller of `call`, which may return (and destroy
// `call`) as soon as mu is released: nothing touches `call` after that.
void Answer(PipelinedCall* call, Result<RedisReply> result) {
  std::lock_guard lock(call->mu);
  call->result.emplace(std::move(result));
  call->done = true;
  call->answered.notify_one();
}

}  // namespace

RedisPipeline::RedisPipeline(RedisPool* pool) : pool_(pool) {}

RedisPipeline::~RedisPipeline() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

Result<RedisReply> RedisPipeline::Call(const RedisArgs& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data() != nullptr ? a.data() : "");  // hiredis copies len bytes
    lengths.push_back(a.size());
  }
  PipelinedCall call;
  int length = redisFormatCommandArgv(&call.command, static_cast<int>(argv.size()), argv.data(),
                                      lengths.data());
  if (length < 0) return Internal("redis: cannot format a command");
  call.length = static_cast<size_t>(length);
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread(&RedisPipeline::Run, this);
    queue_.push_back(&call);
    wake = queue_.size() == 1;  // otherwise the I/O thread has been told already
  }
  if (wake) queued_.notify_one();
  std::unique_lock lock(call.mu);
  // No deadline here: the I/O thread answers every call it takes within its
  // own bounds (socket timeouts, the pool's wait for a connection).
  call.answered.wait(lock, [&] { return call.done; });
  redisFreeCommand(call.command);
  return std::move(*call.result);
}

void RedisPipeline::Run() {
  // hiredis writes with write(2): block SIGPIPE in this thread for its whole
  // life, so a write to a closed socket fails with EPIPE instead.
  redis_internal::SigpipeGuard guard;
  std::vector<PipelinedCall*> batch;
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

bool RedisPipeline::TakeBatch(std::vector<PipelinedCall*>* batch) {
  std::unique_lock lock(mu_);
  queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  batch->swap(queue_);
  return true;
}

void RedisPipeline::Serve(std::vector<PipelinedCall*>* batch) {
  if (context_ == nullptr) {
    Result<redisContext*> leased = pool_->Lease();
    if (!leased.ok()) {
      FailAll(*batch, 0, leased.status());
      return;
    }
    context_ = *leased;
    std::lock_guard lock(mu_);
    batch->insert(batch->end(), queue_.begin(), queue_.end());
    queue_.clear();
  }
  Exchange(*batch);
}

void RedisPipeline::Exchange(const std::vector<PipelinedCall*>& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    if (redisAppendFormattedCommand(context_, batch[i]->command, batch[i]->length) != REDIS_OK) {
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

void RedisPipeline::FailAll(const std::vector<PipelinedCall*>& batch, size_t from,
                            const Status& status) {
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
