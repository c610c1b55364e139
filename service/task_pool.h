// TaskPool: threads for short tasks that must not run on an HTTP or store
// I/O thread (appraisals of evidence that arrived over HTTP, the steps
// around them), and a timer for tasks due later (polls for `Prefer:
// wait=N`, retries of a result the store could not take).
//
// Promises: tasks run in the order posted when due at once, on any of the
// pool's threads; a task that throws is logged and does not end its thread;
// Stop runs every task already posted for now, drops those due later and
// joins. Post after Stop runs the task on the caller's thread; PostAfter
// after Stop drops it. A dropped task never runs, but its `dropped` handler
// does, on the thread that stopped the pool or posted after it, so a
// caller waiting for the task's answer always gets one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace attestd {

class TaskPool {
 public:
  using Task = std::function<void()>;

  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Post(Task task);
  void PostAfter(std::chrono::milliseconds delay, Task task, Task dropped = nullptr);
  void Stop();

 private:
  using Clock = std::chrono::steady_clock;
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> ready_;  // guarded by mu_
  struct Later {
    Task task;
    Task dropped;
  };
  std::multimap<Clock::time_point, Later> later_;  // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace attestd
