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

TEST(LoopWheelTest, CallbackCanRescheduleItself) {
  EventLoop loop;
  LoopWheel* raw = nullptr;
  int beats = 0;
  LoopWheelPtr wheel(LoopWheel::create(loop, 5, 8, [&](uint64_t key) {
    if (++beats < 3) raw->schedule(key, raw->nowMs() + 5);
  }));
  raw = wheel.get();
  wheel->schedule(1, wheel->nowMs() + 5);
  EXPECT_TRUE(loop.runUntil([&] { return beats == 3 && !uv_loop_alive(loop.uvLoop()); }, 5s));
  EXPECT_EQ(beats, 3);
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
