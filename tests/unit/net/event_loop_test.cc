#include "common/net/event_loop.h"

#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace push::net {
namespace {

using namespace std::chrono_literals;

// Counts loop iterations (a check handle runs once per turn, after polling for I/O).
struct TurnCounter {
  explicit TurnCounter(EventLoop& loop) {
    uv_check_init(loop.uvLoop(), &check);
    check.data = this;
    uv_check_start(&check, [](uv_check_t* h) { ++static_cast<TurnCounter*>(h->data)->turns; });
    uv_unref(reinterpret_cast<uv_handle_t*>(&check));
  }
  void close() { uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr); }
  uv_check_t check;
  int turns = 0;
};

TEST(EventLoopTest, PostFromAnotherThreadRunsOnLoopThread) {
  EventLoop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  bool in_loop_thread_there = false;
  std::thread poster([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      in_loop_thread_there = loop.isInLoopThread();
      ran = true;
    });
  });
  EXPECT_TRUE(loop.runUntil([&] { return ran.load(); }, 5s));
  poster.join();
  EXPECT_EQ(ran_on, loop_thread);
  EXPECT_TRUE(in_loop_thread_there);
  EXPECT_TRUE(loop.isInLoopThread());
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, IsInLoopThreadOnlyOnTheOwningThread) {
  EventLoop loop;
  EXPECT_TRUE(loop.isInLoopThread());
  bool elsewhere = true;
  std::thread other([&] { elsewhere = loop.isInLoopThread(); });
  other.join();
  EXPECT_FALSE(elsewhere);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, PostNeverRunsInline) {
  EventLoop loop;
  bool ran = false;
  loop.post([&] { ran = true; });
  EXPECT_FALSE(ran);  // even on the loop thread
  EXPECT_TRUE(loop.runUntil([&] { return ran; }, 5s));
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, ManyPostsCoalesceIntoOneTurnInOrder) {
  EventLoop loop;
  TurnCounter counter(loop);
  constexpr int kPosts = 1000;
  std::vector<int> order;
  std::set<int> turns_seen;
  // All posted from another thread before the loop runs: the async sends coalesce, and the
  // one wake-up runs every queued function.
  std::thread poster([&] {
    for (int i = 0; i < kPosts; ++i) {
      loop.post([&, i] {
        order.push_back(i);
        turns_seen.insert(counter.turns);
      });
    }
  });
  poster.join();
  EXPECT_TRUE(loop.runUntil([&] { return order.size() == kPosts; }, 5s));
  ASSERT_EQ(order.size(), static_cast<size_t>(kPosts));
  for (int i = 0; i < kPosts; ++i)
    ASSERT_EQ(order[i], i);
  EXPECT_EQ(turns_seen.size(), 1u) << "posted functions were spread over several turns";
  counter.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, PostsFromManyThreadsAllRun) {
  EventLoop loop;
  constexpr int kThreads = 4, kEach = 2500;
  int count = 0;  // touched only on the loop thread
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        loop.post([&] { ++count; });
    });
  }
  EXPECT_TRUE(loop.runUntil([&] { return count == kThreads * kEach; }, 10s));
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(count, kThreads * kEach);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, PostFromPostedFunctionRunsOnALaterTurn) {
  EventLoop loop;
  TurnCounter counter(loop);
  int outer_turn = -1, inner_turn = -1;
  loop.post([&] {
    outer_turn = counter.turns;
    loop.post([&] { inner_turn = counter.turns; });
    EXPECT_EQ(inner_turn, -1);
  });
  EXPECT_TRUE(loop.runUntil([&] { return inner_turn >= 0; }, 5s));
  EXPECT_GT(inner_turn, outer_turn);
  counter.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, RunInLoopIsInlineOnLoopThreadAndPostedElsewhere) {
  EventLoop loop;
  bool inline_ran = false;
  loop.runInLoop([&] { inline_ran = true; });
  EXPECT_TRUE(inline_ran);

  std::atomic<bool> remote_ran{false};
  std::thread::id ran_on;
  std::thread other([&] {
    loop.runInLoop([&] {
      ran_on = std::this_thread::get_id();
      remote_ran = true;
    });
  });
  other.join();
  EXPECT_FALSE(remote_ran);  // queued, not run by the other thread
  EXPECT_TRUE(loop.runUntil([&] { return remote_ran.load(); }, 5s));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, StopFromAnotherThreadEndsRun) {
  EventLoop loop;
  std::atomic<bool> work_done{false};
  std::thread stopper([&] {
    loop.post([&] { work_done = true; });
    loop.stop();
  });
  loop.run();  // returns only because of stop()
  stopper.join();
  EXPECT_TRUE(work_done);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, StopFromLoopThreadEndsRun) {
  EventLoop loop;
  int turns = 0;
  loop.post([&] {
    ++turns;
    loop.stop();
  });
  loop.run();
  EXPECT_EQ(turns, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, RunUntilTimesOutWhenPredicateStaysFalse) {
  EventLoop loop;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(loop.runUntil([] { return false; }, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  // And returns at once when it is already true.
  EXPECT_TRUE(loop.runUntil([] { return true; }, 10s));
  // The loop still works afterwards.
  bool ran = false;
  loop.post([&] { ran = true; });
  EXPECT_TRUE(loop.runUntil([&] { return ran; }, 5s));
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, RunUntilHonoursTimeoutWhenLoopClockIsStale) {
  EventLoop loop;
  // A far-away timer keeps the loop alive, like a connect deadline would.
  uv_timer_t far;
  uv_timer_init(loop.uvLoop(), &far);
  uv_timer_start(
      &far, [](uv_timer_t*) {}, 10'000, 0);
  // The loop does not run for a while (a test doing blocking work between runs), so its
  // cached clock falls behind. The sleep is the condition under test, not synchronisation.
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(loop.runUntil([] { return false; }, 50ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 50ms);  // a wake timer counted from the stale clock fired at once
  EXPECT_LT(took, 2s);    // and without one, the turn slept until the far timer (10 s)
  uv_close(reinterpret_cast<uv_handle_t*>(&far), nullptr);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, RunUntilReturnsOnTimeAfterASlowPredicate) {
  EventLoop loop;
  // An idle socket keeps the loop alive without a deadline of its own (like an idle
  // connection or a listener): with no timer due, libuv would wait for I/O forever.
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  uv_poll_t idle;
  ASSERT_EQ(uv_poll_init(loop.uvLoop(), &idle, fds[0]), 0);
  ASSERT_EQ(uv_poll_start(&idle, UV_READABLE, [](uv_poll_t*, int, int) {}), 0);
  // The first check works synchronously on the loop thread for longer than `poll`, so the
  // loop's cached clock is 50 ms behind when runUntil() arms its wake timer. Busy, not
  // asleep: that is the condition under test, not synchronisation.
  bool first = true;
  auto slow_never = [&] {
    if (first) {
      first = false;
      const auto until = std::chrono::steady_clock::now() + 50ms;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    return false;
  };
  // Without the fix the loop sleeps until I/O arrives: a watchdog wakes it after 3 s, so the
  // test fails instead of hanging.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 3s, [&] { return finished; })) loop.post([] {});
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(loop.runUntil(slow_never, 200ms, 20ms));
  const auto took = std::chrono::steady_clock::now() - start;
  {
    std::lock_guard lock(mu);
    finished = true;
  }
  cv.notify_one();
  watchdog.join();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 1s) << "the wake timer fired at once and the turn slept until I/O";
  uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
  EXPECT_TRUE(loop.shutdown().isOk());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(EventLoopTest, RunUntilWithPollChecksOffLoopConditions) {
  EventLoop loop;
  // Nothing on the loop changes the condition; only the poll interval wakes it up.
  std::atomic<bool> flag{false};
  std::thread setter([&] { flag = true; });
  setter.join();
  int checks = 0;
  EXPECT_TRUE(loop.runUntil([&] { return ++checks > 3 && flag.load(); }, 5s, 1ms));
  EXPECT_GT(checks, 3);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, NowMsFollowsLoopTime) {
  EventLoop loop;
  int64_t before = loop.nowMs();
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_GE(loop.nowMs() - before, 20);
  EXPECT_EQ(EventLoop::fromUv(loop.uvLoop()), &loop);
  EXPECT_NE(loop.readBuffer(), nullptr);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(EventLoopTest, ShutdownRunsWorkPostedBeforeIt) {
  EventLoop loop;
  bool ran = false;
  loop.post([&] { ran = true; });
  EXPECT_TRUE(loop.shutdown().isOk());
  EXPECT_TRUE(ran);
  EXPECT_TRUE(loop.shutdown().isOk());  // second call is a no-op
}

TEST(EventLoopTest, PostAfterShutdownIsDroppedNotACrash) {
  // A worker thread finishing late may post to a loop that has already shut down.
  EventLoop loop;
  EXPECT_TRUE(loop.shutdown().isOk());
  bool ran = false;
  loop.post([&] { ran = true; });
  std::thread late([&] { loop.post([&] { ran = true; }); });
  late.join();
  loop.runInLoop([] {});  // on the loop thread it still runs inline
  EXPECT_FALSE(ran);
}

TEST(EventLoopTest, ShutdownReportsHandlesLeftOpen) {
  EventLoop loop;
  uv_timer_t timer;  // forgotten by its owner
  uv_timer_init(loop.uvLoop(), &timer);
  uv_timer_start(
      &timer, [](uv_timer_t*) {}, 100000, 0);
  Status st = loop.shutdown(50ms);
  EXPECT_EQ(st.code(), Code::INTERNAL);
  EXPECT_NE(st.message().find("timer"), std::string::npos) << st;
}

TEST(EventLoopTest, ShutdownWaitsForCloseCallbacks) {
  EventLoop loop;
  auto* timer = new uv_timer_t;
  uv_timer_init(loop.uvLoop(), timer);
  bool freed = false;
  timer->data = &freed;
  uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) {
    *static_cast<bool*>(h->data) = true;
    delete reinterpret_cast<uv_timer_t*>(h);
  });
  EXPECT_TRUE(loop.shutdown().isOk());
  EXPECT_TRUE(freed);
}

}  // namespace
}  // namespace push::net
