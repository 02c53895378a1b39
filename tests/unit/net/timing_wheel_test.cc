#include "common/net/timing_wheel.h"

#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace push::net {
namespace {

// Records which key fired at which advance() time.
struct Recorder {
  int64_t now = 0;
  std::vector<std::pair<uint64_t, int64_t>> fired;  // key, time of the advance that fired it
  TimingWheel::ExpireFn fn() {
    return [this](uint64_t key) { fired.emplace_back(key, now); };
  }
  void advance(TimingWheel& w, int64_t to) {
    now = to;
    w.advance(to);
  }
};

TEST(TimingWheelTest, FiresAtDeadlineNeverBefore) {
  Recorder r;
  TimingWheel w(10, 8, 0, r.fn());
  w.schedule(1, 30);
  EXPECT_EQ(w.size(), 1u);
  for (int64_t t = 1; t < 30; ++t) {
    r.advance(w, t);
    ASSERT_TRUE(r.fired.empty()) << "fired early at " << t;
  }
  r.advance(w, 30);
  ASSERT_EQ(r.fired.size(), 1u);
  EXPECT_EQ(r.fired[0], std::make_pair(uint64_t{1}, int64_t{30}));
  EXPECT_EQ(w.size(), 0u);
  r.advance(w, 100);
  EXPECT_EQ(r.fired.size(), 1u);  // fires once
}

TEST(TimingWheelTest, DeadlinesRoundUpToTheNextTick) {
  Recorder r;
  TimingWheel w(10, 8, 0, r.fn());
  w.schedule(7, 31);  // between ticks: rounds up to 40, never down to 30
  r.advance(w, 39);
  EXPECT_TRUE(r.fired.empty());
  r.advance(w, 40);
  ASSERT_EQ(r.fired.size(), 1u);
  EXPECT_EQ(r.fired[0].second, 40);
}

TEST(TimingWheelTest, FiresWhenAdvanceOvershoots) {
  Recorder r;
  TimingWheel w(10, 8, 0, r.fn());
  w.schedule(1, 20);
  w.schedule(2, 50);
  r.advance(w, 57);  // one jump past both deadlines
  ASSERT_EQ(r.fired.size(), 2u);
  EXPECT_EQ(r.fired[0].first, 1u);  // earlier slot first
  EXPECT_EQ(r.fired[1].first, 2u);
}

TEST(TimingWheelTest, StartTimeIsHonoured) {
  Recorder r;
  r.now = 1'000'005;
  TimingWheel w(10, 4, 1'000'005, r.fn());
  w.schedule(1, 1'000'025);
  r.advance(w, 1'000'029);
  EXPECT_TRUE(r.fired.empty());
  r.advance(w, 1'000'030);
  EXPECT_EQ(r.fired.size(), 1u);
}

TEST(TimingWheelTest, PastDeadlineFiresOnNextTick) {
  Recorder r;
  TimingWheel w(10, 8, 100, r.fn());
  w.schedule(1, 50);   // already past
  w.schedule(2, 100);  // now
  r.advance(w, 109);
  EXPECT_TRUE(r.fired.empty());  // the current tick was already processed
  r.advance(w, 110);
  EXPECT_EQ(r.fired.size(), 2u);
}

TEST(TimingWheelTest, DeadlineBeyondOneTurnWaitsExtraTurns) {
  Recorder r;
  TimingWheel w(10, 4, 0, r.fn());  // one turn = 40 ms
  w.schedule(1, 130);               // three turns and a bit: same slot as 10, 50, 90
  for (int64_t t = 10; t < 130; t += 10) {
    r.advance(w, t);
    ASSERT_TRUE(r.fired.empty()) << "fired a turn early at " << t;
  }
  EXPECT_EQ(w.size(), 1u);
  r.advance(w, 130);
  ASSERT_EQ(r.fired.size(), 1u);
  EXPECT_EQ(r.fired[0].second, 130);
}

TEST(TimingWheelTest, NextTickIsTheFirstSlotHoldingAnEntry) {
  Recorder r;
  TimingWheel w(10, 8, 0, r.fn());  // one turn = 80 ms
  EXPECT_EQ(w.nextTick(), 8);       // empty: a full turn ahead
  EXPECT_EQ(w.schedule(1, 45), 5);  // rounded up to tick 5
  EXPECT_EQ(w.schedule(2, 21), 3);
  EXPECT_EQ(w.nextTick(), 3);
  r.advance(w, 30);
  EXPECT_EQ(r.fired.size(), 1u);
  EXPECT_EQ(w.nextTick(), 5);
  // An entry turns away waits in a slot of this turn: the driver wakes there, nothing fires,
  // and the next wake is found again.
  EXPECT_EQ(w.schedule(3, 300), 3 + 8);  // tick 30, slot 6: visited at tick 6 first
  r.advance(w, 50);
  EXPECT_EQ(r.fired.size(), 2u);
  EXPECT_EQ(w.nextTick(), 6);
  r.advance(w, 60);
  EXPECT_EQ(r.fired.size(), 2u);
  EXPECT_EQ(w.nextTick(), 14);  // slot 6 again, a turn later
  r.advance(w, 300);
  ASSERT_EQ(r.fired.size(), 3u);
  EXPECT_EQ(r.fired[2].first, 3u);
  EXPECT_EQ(w.nextTick(), 30 + 8);
}

TEST(TimingWheelTest, LongStallFiresEverythingDueOnce) {
  Recorder r;
  TimingWheel w(10, 4, 0, r.fn());
  std::map<uint64_t, int64_t> deadline;
  for (uint64_t k = 0; k < 100; ++k) {
    deadline[k] = 5 + static_cast<int64_t>(k) * 37;  // spread over ~90 turns
    w.schedule(k, deadline[k]);
  }
  r.advance(w, 1800);  // stalled for 45 turns
  std::map<uint64_t, int> count;
  for (auto& [key, at] : r.fired) {
    ++count[key];
    EXPECT_LE(deadline[key], at);
  }
  for (auto& [key, d] : deadline) {
    EXPECT_EQ(count[key], d <= 1800 ? 1 : 0) << "key " << key << " deadline " << d;
  }
  EXPECT_EQ(w.size(), 100u - r.fired.size());
  r.advance(w, 100'000);  // another huge jump: the rest
  EXPECT_EQ(r.fired.size(), 100u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimingWheelTest, SameKeyScheduledTwiceFiresTwice) {
  Recorder r;
  TimingWheel w(10, 8, 0, r.fn());
  w.schedule(5, 10);
  w.schedule(5, 20);
  EXPECT_EQ(w.size(), 2u);
  r.advance(w, 20);
  EXPECT_EQ(r.fired.size(), 2u);
}

TEST(TimingWheelTest, CallbackMayRescheduleDuringFiring) {
  int64_t now = 0;
  std::vector<int64_t> fired_at;
  TimingWheel* wheel = nullptr;
  TimingWheel w(10, 4, 0, [&](uint64_t key) {
    fired_at.push_back(now);
    // A heartbeat that re-arms itself: into the slot being processed (a past deadline,
    // which must wait for the next tick) and far ahead.
    if (fired_at.size() < 5) wheel->schedule(key, now);
    if (fired_at.size() == 5) wheel->schedule(key, now + 100);
  });
  wheel = &w;
  w.schedule(1, 10);
  for (now = 10; now <= 200; now += 10) {
    w.advance(now);
    if (now == 10) {
      ASSERT_EQ(fired_at.size(), 1u) << "rescheduled entry must not fire in the same pass";
    }
  }
  EXPECT_EQ(fired_at, (std::vector<int64_t>{10, 20, 30, 40, 50, 150}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimingWheelTest, CallbackSchedulingDuringLongStallFiresLater) {
  int64_t now = 0;
  int fired = 0;
  TimingWheel* wheel = nullptr;
  TimingWheel w(10, 4, 0, [&](uint64_t key) {
    ++fired;
    if (key == 1) wheel->schedule(2, 15);  // "in the past" relative to the stall's end
  });
  wheel = &w;
  w.schedule(1, 10);
  now = 1000;
  w.advance(now);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(w.size(), 1u);
  w.advance(1010);
  EXPECT_EQ(fired, 2);
}

TEST(TimingWheelTest, SizeCountsPendingEntries) {
  Recorder r;
  TimingWheel w(1, 16, 0, r.fn());
  for (uint64_t k = 0; k < 50; ++k)
    w.schedule(k, static_cast<int64_t>(k) + 1);
  EXPECT_EQ(w.size(), 50u);
  r.advance(w, 10);
  EXPECT_EQ(w.size(), 40u);
  r.advance(w, 30);
  EXPECT_EQ(w.size(), 20u);
  r.advance(w, 50);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.tickMs(), 1);
}

TEST(TimingWheelTest, AdvanceBackwardsDoesNothing) {
  Recorder r;
  TimingWheel w(10, 8, 100, r.fn());
  w.schedule(1, 120);
  r.advance(w, 50);
  r.advance(w, 100);
  EXPECT_TRUE(r.fired.empty());
  r.advance(w, 120);
  EXPECT_EQ(r.fired.size(), 1u);
}

TEST(TimingWheelTest, DegenerateParametersAreClamped) {
  Recorder r;
  TimingWheel w(0, 0, 0, r.fn());  // tick 1 ms, one slot
  EXPECT_EQ(w.tickMs(), 1);
  w.schedule(1, 3);
  w.schedule(2, 1);
  r.advance(w, 2);
  ASSERT_EQ(r.fired.size(), 1u);
  EXPECT_EQ(r.fired[0].first, 2u);
  r.advance(w, 3);
  EXPECT_EQ(r.fired.size(), 2u);
}

}  // namespace
}  // namespace push::net
