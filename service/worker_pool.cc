#include "service/worker_pool.h"

#include "common/log.h"

namespace attestd {

WorkerPool::WorkerPool(std::shared_ptr<SessionService> service, std::shared_ptr<WorkQueue> queue)
    : service_(std::move(service)), queue_(std::move(queue)) {}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

void WorkerPool::Stop() {
  stopping_.store(true);
  queue_->Shutdown();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::Run() {
  auto backoff = std::chrono::milliseconds(50);
  while (!stopping_.load()) {
    auto item = queue_->Dequeue(std::chrono::milliseconds(500));
    if (!item.ok()) {
      // The store is down: wait before asking again, without spinning.
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(50);
    if (!item->has_value()) continue;
    const WorkItem& w = **item;
    Status st = w.deliveries > kMaxDeliveries ? service_->AbandonQueued(w.session_id, w.deliveries)
                                              : service_->ProcessQueued(w.session_id);
    if (st.ok()) {
      (void)queue_->Ack(w);
    } else {
      // Left unacknowledged: the queue redelivers it after the reclaim time.
      LogWarn("queued appraisal not recorded",
              {{"session", w.session_id}, {"error", st.message()}});
    }
  }
}

}  // namespace attestd
