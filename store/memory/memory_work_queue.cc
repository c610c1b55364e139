#include "store/memory/memory_work_queue.h"

namespace attestd {

Status MemoryWorkQueue::Enqueue(std::string_view session_id) {
  {
    std::lock_guard lock(mu_);
    items_.emplace_back(session_id);
  }
  cv_.notify_one();
  return Status::Ok();
}

Result<std::optional<WorkItem>> MemoryWorkQueue::Dequeue(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return shutdown_ || !items_.empty(); });
  if (shutdown_ || items_.empty()) return std::optional<WorkItem>();
  WorkItem item{"", std::move(items_.front())};
  items_.pop_front();
  ++in_flight_;
  return std::optional<WorkItem>(std::move(item));
}

Status MemoryWorkQueue::Ack(const WorkItem&) {
  std::lock_guard lock(mu_);
  if (in_flight_ > 0) --in_flight_;
  return Status::Ok();
}

int64_t MemoryWorkQueue::Depth() {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(items_.size()) + in_flight_;
}

void MemoryWorkQueue::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

}  // namespace attestd
