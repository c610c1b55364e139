// In-process WorkQueue for the memory store. Items live only as long as the
// process, which is also true of the sessions they refer to.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "store/work_queue.h"

namespace attestd {

class MemoryWorkQueue : public WorkQueue {
 public:
  Status Enqueue(std::string_view session_id) override;
  Result<std::optional<WorkItem>> Dequeue(std::chrono::milliseconds timeout) override;
  Status Ack(const WorkItem&) override;
  int64_t Depth() override;
  void Shutdown() override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> items_;
  int64_t in_flight_ = 0;
  bool shutdown_ = false;
};

}  // namespace attestd
