#include "service/task_pool.h"

#include <exception>

#include "common/log.h"

namespace attestd {

TaskPool::TaskPool(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Run(); });
}

TaskPool::~TaskPool() { Stop(); }

void TaskPool::Post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      ready_.push_back(std::move(task));
      wake_.notify_one();
      return;
    }
  }
  task();
}

void TaskPool::PostAfter(std::chrono::milliseconds delay, Task task, Task dropped) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      later_.emplace(Clock::now() + delay, Later{std::move(task), std::move(dropped)});
      // Wake one thread to re-arm its wait: the new task may be due first.
      wake_.notify_one();
      return;
    }
  }
  if (dropped) dropped();
}

void TaskPool::Stop() {
  std::multimap<Clock::time_point, Later> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped.swap(later_);
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // Outside the lock: the handlers and the captures may post.
  for (auto& [when, later] : dropped) {
    if (later.dropped) later.dropped();
  }
}

void TaskPool::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto now = Clock::now();
    while (!later_.empty() && later_.begin()->first <= now) {
      ready_.push_back(std::move(later_.begin()->second.task));
      later_.erase(later_.begin());
    }
    if (!ready_.empty()) {
      Task task = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        LogError("task threw", {{"what", e.what()}});
      } catch (...) {
        LogError("task threw", {});
      }
      task = nullptr;  // its captures die before the lock is taken again
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (later_.empty()) {
      wake_.wait(lock);
    } else {
      // A copy: while this thread waits (unlocked) another may run that
      // task and erase its node, and wait_until reads the deadline again.
      const Clock::time_point deadline = later_.begin()->first;
      wake_.wait_until(lock, deadline);
    }
  }
}

}  // namespace attestd
