#include "common/net/loop_wheel.h"

#include <uv.h>

#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;

TEST(LoopWheelTest, FiresOnARealLoopNotBeforeTheDeadline) {
  EventLoop loop;
  std::vector<std::pair<uint64_t, int64_t>> fired;
  LoopWheelPtr wheel(LoopWheel::create(
      loop, 10, 32, [&](uint64_t key) { fired.emplace_back(key, loop.nowMs()); }));
  const int64_t start = wheel->nowMs();
  wheel->schedule(1, start + 30);
  wheel->schedule(2, start + 60);
  EXPECT_EQ(wheel->size(), 2u);
  EXPECT_TRUE(loop.runUntil([&] { return fired.size() == 2; }, 5s));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].first, 1u);
  EXPECT_GE(fired[0].second, start + 30);
  EXPECT_EQ(fired[1].first, 2u);
  EXPECT_GE(fired[1].second, start + 60);
  EXPECT_EQ(wheel->size(), 0u);
  wheel.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(LoopWheelTest, TimerStopsWhenEmptySoTheLoopCanExit) {
  EventLoop loop;
  int fired = 0;
  LoopWheelPtr wheel(LoopWheel::create(loop, 5, 16, [&](uint64_t) { ++fired; }));
  EXPECT_FALSE(uv_loop_alive(loop.uvLoop()));  // idle wheel: no timer
  wheel->schedule(7, wheel->nowMs() + 10);
  EXPECT_TRUE(uv_loop_alive(loop.uvLoop()));  // its timer keeps the loop alive
  EXPECT_TRUE(loop.runUntil([&] { return fired == 1; }, 5s));
  EXPECT_FALSE(uv_loop_alive(loop.uvLoop())) << "wheel timer still running while empty";
  // uv_run returns at once: nothing is active.
  EXPECT_EQ(uv_run(loop.uvLoop(), UV_RUN_DEFAULT), 0);
  wheel.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(LoopWheelTest, RestartsAfterIdleRelativeToThePresent) {
  EventLoop loop;
  std::vector<int64_t> fired_at;
  LoopWheelPtr wheel(
      LoopWheel::create(loop, 10, 8, [&](uint64_t) { fired_at.push_back(loop.nowMs()); }));
  wheel->schedule(1, wheel->nowMs() + 10);
  EXPECT_TRUE(loop.runUntil([&] { return fired_at.size() == 1; }, 5s));
  // Idle for a while (longer than one wheel turn of 80 ms), then schedule again.
  EXPECT_FALSE(loop.runUntil([] { return false; }, 120ms));
  const int64_t again = wheel->nowMs();
  wheel->schedule(2, again + 30);
  EXPECT_TRUE(loop.runUntil([&] { return fired_at.size() == 2; }, 5s));
  EXPECT_GE(fired_at[1], again + 30);
  wheel.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

// A sparse wheel wakes the loop at its entries' ticks, not at every tick: an RPC channel's
// call deadlines at a 2 ms tick, seconds away, must not wake its process 500 times a second.
TEST(LoopWheelTest, SparseEntriesWakeTheLoopOnlyAtTheirTicks) {
  EventLoop loop;
  std::vector<int64_t> fired_at;
  LoopWheelPtr wheel(
      LoopWheel::create(loop, 2, 4096, [&](uint64_t) { fired_at.push_back(loop.nowMs()); }));
  const int64_t start = wheel->nowMs();
  wheel->schedule(1, start + 300);
  wheel->schedule(2, start + 200);
  wheel->schedule(3, start + 9000);  // beyond one turn (8.2 s): waits in a slot of this one
  EXPECT_TRUE(loop.runUntil([&] { return fired_at.size() == 2; }, 5s));
  ASSERT_EQ(fired_at.size(), 2u);
  EXPECT_GE(fired_at[0], start + 200);
  EXPECT_GE(fired_at[1], start + 300);
  // A wake per deadline (a late timer may need one more), not 150 ticks.
  EXPECT_LE(wheel->wakeups(), 4u);
  // An earlier entry scheduled while the timer waits for a later one moves the wake forward.
  const int64_t now = wheel->nowMs();
  wheel->schedule(4, now + 1000);
  wheel->schedule(5, now + 20);
  EXPECT_TRUE(loop.runUntil([&] { return fired_at.size() == 3; }, 5s));
  ASSERT_EQ(fired_at.size(), 3u);
  EXPECT_LT(fired_at[2], now + 500) << "the earlier entry waited for the later one";
  EXPECT_EQ(wheel->size(), 2u);
  wheel.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(LoopWheelTest, CallbackCanRescheduleItself) {
  EventLoop loop;
  LoopWheel* raw = nullptr;
  int beats = 0;
  LoopWheelPtr wheel(LoopWheel::create(loop, 5, 8, [&](uint64_t key) {
    if (++beats < 3) raw->schedule(key, raw->nowMs() + 5);
  }));
  raw = wheel.get();
  wheel->schedule(1, wheel->nowMs() + 5);
  EXPECT_TRUE(loop.runUntil([&] { return beats == 3; }, 5s));
  EXPECT_EQ(beats, 3);
  // (Not inside the condition: runUntil's own timer keeps the loop alive while it waits.)
  EXPECT_FALSE(uv_loop_alive(loop.uvLoop())) << "wheel timer still running while empty";
  wheel.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(LoopWheelTest, NothingFiresAfterClose) {
  EventLoop loop;
  int fired = 0;
  LoopWheelPtr wheel(LoopWheel::create(loop, 5, 8, [&](uint64_t) { ++fired; }));
  wheel->schedule(1, wheel->nowMs() + 5);
  wheel->schedule(2, wheel->nowMs() + 5000);
  wheel.reset();  // close(): deletes itself in the close callback
  EXPECT_FALSE(loop.runUntil([&] { return fired > 0; }, 40ms));
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(LoopWheelTest, CloseFromInsideCallbackStopsTheRest) {
  EventLoop loop;
  LoopWheelPtr wheel;
  int fired = 0;
  wheel = LoopWheel::create(loop, 5, 8, [&](uint64_t) {
    ++fired;
    wheel.reset();  // closes it: the other due entry must not fire
  });
  wheel->schedule(1, wheel->nowMs() + 5);
  wheel->schedule(2, wheel->nowMs() + 5);
  EXPECT_TRUE(loop.runUntil([&] { return fired > 0; }, 5s));
  EXPECT_FALSE(loop.runUntil([&] { return fired > 1; }, 30ms));
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::net
