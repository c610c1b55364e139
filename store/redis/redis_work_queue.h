// RedisWorkQueue: the WorkQueue as a Redis Stream shared by every attestd
// instance using the same Redis.
//
// Stream `attestd:queue`, consumer group `attestd-workers`; each instance is
// one consumer of the group. Enqueue is XADD. Dequeue first takes over
// entries another consumer has held unacknowledged longer than
// reclaim_after_ms (its worker died: XAUTOCLAIM), else waits for a new entry
// (XREADGROUP BLOCK). Ack is XACK + XDEL, so the stream holds exactly the
// items not yet done and Depth is XLEN.
//
// The group is created on first use (MKSTREAM, from the stream's start, so
// entries added before it existed are delivered) and again whenever Redis
// says it is gone (a restart without persistence, a flushed database).
//
// Blocking reads run on a pool of their own (opened lazily, at most as many
// connections as the shared pool), so waiting workers never starve request
// handlers of connections. They wait in slices of at most kBlockSlice and
// check for Shutdown between slices.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "store/redis/redis_pool.h"
#include "store/work_queue.h"

namespace attestd {

struct RedisWorkQueueOptions {
  int reclaim_after_ms = 30000;  // an unacknowledged item idle this long is redelivered
  std::string consumer_name;     // this instance in the group; empty: host-pid-random
};

class RedisWorkQueue : public WorkQueue {
 public:
  static constexpr std::chrono::milliseconds kBlockSlice{250};
  static constexpr const char* kStreamKey = "attestd:queue";
  static constexpr const char* kGroup = "attestd-workers";

  // `pool` serves the non-blocking commands; the blocking pool is built from
  // its options.
  RedisWorkQueue(std::shared_ptr<RedisPool> pool, RedisWorkQueueOptions options);

  Status Enqueue(std::string_view session_id) override;
  // kUnavailable at once when Redis is down: a worker loop should pause
  // before trying again.
  Result<std::optional<WorkItem>> Dequeue(std::chrono::milliseconds timeout) override;
  Status Ack(const WorkItem& item) override;
  int64_t Depth() override;
  void Shutdown() override;

  const std::string& consumer_name() const { return consumer_; }

 private:
  // Creates the group (and the stream) unless it exists.
  Status EnsureGroup();
  // Runs `command` (via `pool`); if Redis answers NOGROUP, recreates the
  // group and runs it once more.
  Result<RedisReply> WithGroup(RedisPool& pool, const RedisArgs& command);
  // An entry idle longer than reclaim_after_ms, taken over by this consumer.
  Result<std::optional<WorkItem>> ClaimIdle();
  void CountDeliveries(WorkItem* item);
  // A new entry, waiting at most `block` (no wait when zero).
  Result<std::optional<WorkItem>> ReadNew(std::chrono::milliseconds block);
  // The first well-formed item of a list of [id, [field, value, ...]]
  // entries; malformed ones are acknowledged and dropped.
  std::optional<WorkItem> FirstItem(const RedisValue& entries);

  std::shared_ptr<RedisPool> pool_;
  RedisPool blocking_pool_;
  const int reclaim_after_ms_;
  const std::string consumer_;
  std::atomic<bool> group_ready_{false};
  std::atomic<bool> shutdown_{false};
  std::mutex claim_mu_;
  std::string claim_cursor_ = "0-0";  // where XAUTOCLAIM resumes scanning
};

}  // namespace attestd
