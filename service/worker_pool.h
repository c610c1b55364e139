// WorkerPool: threads that take queued appraisals and finish them.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "service/session_service.h"
#include "store/work_queue.h"

namespace attestd {

class WorkerPool {
 public:
  // An item handed out more often than this (its workers died each time)
  // fails its session instead of being appraised again.
  static constexpr int64_t kMaxDeliveries = 3;

  WorkerPool(std::shared_ptr<SessionService> service, std::shared_ptr<WorkQueue> queue);
  ~WorkerPool();

  void Start(int threads);
  // Finishes the item each worker holds, then joins.
  void Stop();

 private:
  void Run();

  std::shared_ptr<SessionService> service_;
  std::shared_ptr<WorkQueue> queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace attestd
