// TaskPool: the threads the evidence POST appraises on, and its timer.
#include "service/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace attestd {
namespace {

TEST(TaskPool, RunsPostedTasksOnItsOwnThreads) {
  TaskPool pool(2);
  std::atomic<int> ran{0};
  std::promise<void> all;
  auto caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  for (int i = 0; i < 100; ++i) {
    pool.Post([&] {
      if (std::this_thread::get_id() == caller) on_caller = true;
      if (++ran == 100) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(on_caller.load());
}

TEST(TaskPool, DelayedTasksRunWhenDueAndInOrder) {
  TaskPool pool(1);
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration second_at{};
  pool.PostAfter(std::chrono::milliseconds(150), [&] {
    std::lock_guard lock(mu);
    order.push_back(2);
    second_at = std::chrono::steady_clock::now() - t0;
    done.set_value();
  });
  pool.PostAfter(std::chrono::milliseconds(20), [&] {
    std::lock_guard lock(mu);
    order.push_back(1);
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_GE(second_at, std::chrono::milliseconds(150));
}

TEST(TaskPool, StopRunsWhatIsDueDropsWhatIsLaterAndThenRunsInline) {
  TaskPool pool(1);
  std::atomic<int> ran{0};
  auto later = std::make_shared<int>(0);
  std::weak_ptr<int> later_alive = later;
  pool.PostAfter(std::chrono::seconds(60), [later, &ran] { ++ran; });
  later.reset();
  for (int i = 0; i < 10; ++i) pool.Post([&] { ++ran; });
  pool.Stop();
  EXPECT_EQ(ran.load(), 10);
  EXPECT_TRUE(later_alive.expired()) << "the dropped task's captures are destroyed";
  auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  pool.Post([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, caller);
  bool after_stop = false;
  pool.PostAfter(std::chrono::milliseconds(1), [&] { after_stop = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(after_stop);
}

TEST(TaskPool, EveryDroppedTaskRunsItsDropHandlerOnce) {
  // A caller waiting for a task due later (a Prefer: wait poll) must get
  // an answer when the pool stops first.
  TaskPool pool(1);
  std::atomic<int> ran{0}, dropped{0};
  pool.PostAfter(
      std::chrono::seconds(60), [&] { ++ran; }, [&] { ++dropped; });
  pool.PostAfter(std::chrono::seconds(60), [&] { ++ran; });  // no handler: just dropped
  pool.PostAfter(
      std::chrono::milliseconds(1), [&] { ++ran; }, [&] { ++dropped; });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the 1 ms one ran
  pool.Stop();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(dropped.load(), 1);
  auto caller = std::this_thread::get_id();
  std::thread::id handled_on;
  pool.PostAfter(
      std::chrono::milliseconds(1), [&] { ++ran; },
      [&] { handled_on = std::this_thread::get_id(); });
  EXPECT_EQ(handled_on, caller) << "after Stop the handler runs at once, on the caller";
  EXPECT_EQ(ran.load(), 1);
}

TEST(TaskPool, ATaskThatThrowsDoesNotEndItsThread) {
  TaskPool pool(1);
  pool.Post([] { throw std::runtime_error("boom"); });
  std::promise<void> next;
  pool.Post([&] { next.set_value(); });
  EXPECT_EQ(next.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace attestd
