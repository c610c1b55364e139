// WorkQueue: appraisals waiting for a worker.
//
// Promises:
// - An enqueued item is delivered to some worker of some attestd instance
//   sharing the store, at least once. An item a worker took but did not Ack
//   within the reclaim interval (its worker died) is delivered again.
// - Consumers must therefore be idempotent: a redelivered session that is no
//   longer processing is simply acknowledged.
// - Each delivery says how many times the item has been handed out, so a
//   consumer can give up on an item whose appraisal keeps killing workers
//   instead of letting it take down every instance in turn.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd {

struct WorkItem {
  std::string entry_id;    // queue-specific handle, passed back to Ack
  std::string session_id;  // the session to appraise
  int64_t deliveries = 1;  // times handed out, this one included
};

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;

  virtual Status Enqueue(std::string_view session_id) = 0;

  // Waits up to `timeout` for an item. nullopt when none arrived in time (or
  // Shutdown was called). kUnavailable when the store is down.
  virtual Result<std::optional<WorkItem>> Dequeue(std::chrono::milliseconds timeout) = 0;

  // Marks the item done so it is never delivered again.
  virtual Status Ack(const WorkItem& item) = 0;

  // Items enqueued and not yet acknowledged (for metrics); -1 if unknown.
  virtual int64_t Depth() = 0;

  // Wakes blocked Dequeue calls so worker threads can exit.
  virtual void Shutdown() = 0;
};

}  // namespace attestd
