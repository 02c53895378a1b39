#include "common/net/periodic_timer.h"

#include <uv.h>

#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;

TEST(PeriodicTimerTest, RepeatsEveryInterval) {
  EventLoop loop;
  std::vector<int64_t> at;
  PeriodicTimerPtr timer(PeriodicTimer::create(loop, [&] { at.push_back(loop.nowMs()); }));
  EXPECT_FALSE(timer->active());
  const int64_t start = loop.nowMs();
  timer->start(10ms);
  EXPECT_TRUE(timer->active());
  EXPECT_TRUE(loop.runUntil([&] { return at.size() == 3; }, 5s));
  EXPECT_GE(at[0], start + 10);
  EXPECT_GE(at[1], at[0] + 10);
  EXPECT_GE(at[2], at[1] + 10);
  timer->stop();
  EXPECT_FALSE(timer->active());
  EXPECT_FALSE(loop.runUntil([&] { return at.size() > 3; }, 30ms));
  timer.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(PeriodicTimerTest, OneShotRunsOnce) {
  EventLoop loop;
  int runs = 0;
  PeriodicTimerPtr timer(PeriodicTimer::create(loop, [&] { ++runs; }));
  timer->start(5ms, /*repeat=*/false);
  EXPECT_TRUE(loop.runUntil([&] { return runs == 1; }, 5s));
  EXPECT_FALSE(timer->active());
  EXPECT_FALSE(loop.runUntil([&] { return runs > 1; }, 30ms));
  // Restarting re-arms it.
  timer->start(5ms, false);
  EXPECT_TRUE(loop.runUntil([&] { return runs == 2; }, 5s));
  timer.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(PeriodicTimerTest, KeepAliveDecidesWhetherTheLoopStaysAlive) {
  EventLoop loop;
  PeriodicTimerPtr background(PeriodicTimer::create(loop, [] {}));
  background->start(1000ms);
  EXPECT_FALSE(uv_loop_alive(loop.uvLoop()));  // does not keep the process running
  PeriodicTimerPtr foreground(PeriodicTimer::create(
      loop, [] {}, /*keep_alive=*/true));
  foreground->start(1000ms);
  EXPECT_TRUE(uv_loop_alive(loop.uvLoop()));
  background.reset();
  foreground.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(PeriodicTimerTest, CloseFromItsOwnCallbackStopsIt) {
  EventLoop loop;
  int runs = 0;
  PeriodicTimerPtr timer;
  timer = PeriodicTimer::create(loop, [&] {
    ++runs;
    timer.reset();  // closes it from inside its own callback
  });
  timer->start(1ms);
  EXPECT_TRUE(loop.runUntil([&] { return runs == 1; }, 5s));
  EXPECT_FALSE(loop.runUntil([&] { return runs > 1; }, 30ms));
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::net
