#include "store/redis/redis_work_queue.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/random.h"
#include "common/time_util.h"

namespace attestd {
namespace {

using std::chrono::milliseconds;

// KEYS[1] stream; ARGV group, entry id. One script so an item is never left
// acknowledged but still counted in the stream's length.
const RedisScript kAck(R"lua(
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
)lua");

constexpr std::string_view kSessionField = "session";

// host-pid-random: unique across hosts, restarts and queue objects.
std::string DefaultConsumerName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "attestd");
  }
  Result<std::string> suffix = RandomAlphanumeric(8);
  return std::string(host) + "-" + std::to_string(::getpid()) + "-" +
         (suffix.ok() ? *suffix : std::to_string(NowMillis()));
}

// Blocking reads wait up to kBlockSlice on the server, so their socket
// timeout must be that much longer than an ordinary command's.
RedisPoolOptions BlockingPoolOptions(const RedisPoolOptions& shared) {
  RedisPoolOptions options = shared;
  options.command_timeout_ms =
      shared.command_timeout_ms + static_cast<int>(RedisWorkQueue::kBlockSlice.count());
  return options;
}

// The value of `name` in a flat [field, value, ...] list, if present.
std::optional<std::string_view> FieldValue(const RedisValue& fields, std::string_view name) {
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == name) return fields[i + 1].str();
  }
  return std::nullopt;
}

}  // namespace

RedisWorkQueue::RedisWorkQueue(std::shared_ptr<RedisPool> pool, RedisWorkQueueOptions options)
    : pool_(std::move(pool)),
      blocking_pool_(BlockingPoolOptions(pool_->options())),
      reclaim_after_ms_(std::max(options.reclaim_after_ms, 1)),
      consumer_(options.consumer_name.empty() ? DefaultConsumerName()
                                              : std::move(options.consumer_name)) {}

Status RedisWorkQueue::Enqueue(std::string_view session_id) {
  Result<RedisReply> added = pool_->Command({"XADD", kStreamKey, "*", kSessionField, session_id});
  return added.status();
}

Status RedisWorkQueue::EnsureGroup() {
  Result<RedisReply> created =
      pool_->Command({"XGROUP", "CREATE", kStreamKey, kGroup, "0", "MKSTREAM"});
  if (!created.ok() && !IsRedisError(created.status(), "BUSYGROUP")) return created.status();
  group_ready_ = true;
  return Status::Ok();
}

Result<RedisReply> RedisWorkQueue::WithGroup(RedisPool& pool, const RedisArgs& command) {
  if (!group_ready_) {
    if (Status s = EnsureGroup(); !s.ok()) return s;
  }
  Result<RedisReply> reply = pool.Command(command);
  if (reply.ok() || !IsRedisError(reply.status(), "NOGROUP")) return reply;
  group_ready_ = false;
  if (Status s = EnsureGroup(); !s.ok()) return s;
  return pool.Command(command);
}

Result<std::optional<WorkItem>> RedisWorkQueue::Dequeue(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (shutdown_) return std::optional<WorkItem>();
  Result<std::optional<WorkItem>> claimed = ClaimIdle();
  if (!claimed.ok() || claimed->has_value()) return claimed;
  for (bool first = true; !shutdown_; first = false) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!first && left.count() <= 0) break;
    Result<std::optional<WorkItem>> item = ReadNew(std::clamp(left, milliseconds(0), kBlockSlice));
    if (!item.ok() || item->has_value()) return item;
  }
  return std::optional<WorkItem>();
}

Result<std::optional<WorkItem>> RedisWorkQueue::ClaimIdle() {
  std::string start;
  {
    std::lock_guard lock(claim_mu_);
    start = claim_cursor_;
  }
  std::string min_idle = std::to_string(reclaim_after_ms_);
  Result<RedisReply> reply = WithGroup(
      *pool_, {"XAUTOCLAIM", kStreamKey, kGroup, consumer_, min_idle, start, "COUNT", "1"});
  if (!reply.ok()) return reply.status();
  {
    // Resume after what this scan covered, so entries deep in a long
    // pending list are reached too; "0-0" means the scan wrapped around.
    std::lock_guard lock(claim_mu_);
    claim_cursor_ = (*reply)[0].is_string() ? (*reply)[0].to_string() : "0-0";
  }
  std::optional<WorkItem> item = FirstItem((*reply)[1]);
  if (item) CountDeliveries(&*item);
  return item;
}

void RedisWorkQueue::CountDeliveries(WorkItem* item) {
  // XAUTOCLAIM does not say how often an entry was delivered; XPENDING does
  // ([[id, consumer, idle, deliveries]]). Unknown stays 1: never give up on
  // an item only because this lookup failed.
  Result<RedisReply> pending =
      pool_->Command({"XPENDING", kStreamKey, kGroup, item->entry_id, item->entry_id, "1"});
  if (!pending.ok() || !pending->is_array() || pending->size() == 0) return;
  RedisValue entry = (*pending)[0];
  if (entry.is_array() && entry.size() >= 4) item->deliveries = entry[3].integer();
}

Result<std::optional<WorkItem>> RedisWorkQueue::ReadNew(milliseconds block) {
  std::string block_ms = std::to_string(block.count());
  RedisArgs command{"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT", "1"};
  if (block.count() > 0) command.insert(command.end(), {"BLOCK", block_ms});
  command.insert(command.end(), {"STREAMS", kStreamKey, ">"});
  Result<RedisReply> reply = WithGroup(block.count() > 0 ? blocking_pool_ : *pool_, command);
  if (!reply.ok()) return reply.status();
  if (reply->is_nil()) return std::optional<WorkItem>();  // nothing new in time
  // [[stream, [[id, [field, value, ...]], ...]]]
  return FirstItem((*reply)[0][1]);
}

std::optional<WorkItem> RedisWorkQueue::FirstItem(const RedisValue& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    RedisValue entry = entries[i];
    if (!entry.is_array()) continue;  // deleted while pending (Redis 6.2 shows nil)
    WorkItem item{entry[0].to_string(), ""};
    std::optional<std::string_view> session = FieldValue(entry[1], kSessionField);
    if (session && !session->empty()) {
      item.session_id = std::string(*session);
      return item;
    }
    (void)Ack(item);  // not ours to appraise: drop it rather than redeliver forever
  }
  return std::nullopt;
}

Status RedisWorkQueue::Ack(const WorkItem& item) {
  if (item.entry_id.empty()) return InvalidArgument("work item has no entry id");
  Result<RedisReply> acked = pool_->Eval(kAck, {kStreamKey}, {kGroup, item.entry_id});
  return acked.status();
}

int64_t RedisWorkQueue::Depth() {
  Result<RedisReply> length = pool_->Command({"XLEN", kStreamKey});
  return length.ok() ? length->integer() : -1;
}

void RedisWorkQueue::Shutdown() { shutdown_ = true; }

}  // namespace attestd
