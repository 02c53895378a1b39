#include "common/base/clock.h"

#include <chrono>

#include <gtest/gtest.h>

#include "tests/mocks/fake_clock.h"

namespace push {
namespace {

TEST(ClockTest, SystemClockIsOneInstanceAndMonotonic) {
  const Clock& c = Clock::system();
  EXPECT_EQ(&c, &Clock::system());
  MonoTime a = c.monoNow();
  MonoTime b = c.monoNow();
  EXPECT_LE(a, b);
  // Wall time is after 2024 (the id epoch) on any machine that runs these tests.
  EXPECT_GT(c.wallMillis(), 1'704'067'200'000);
}

TEST(ClockTest, MillisHelpersConvertTheVirtualTimes) {
  testing::FakeClock clock(/*wall_ms=*/1'800'000'000'123, /*mono_ms=*/5'000);
  EXPECT_EQ(clock.wallMillis(), 1'800'000'000'123);
  EXPECT_EQ(clock.monoMillis(), 5'000);
  clock.advance(std::chrono::milliseconds(250));
  EXPECT_EQ(clock.wallMillis(), 1'800'000'000'373);
  EXPECT_EQ(clock.monoMillis(), 5'250);
  clock.setWallMs(1'000);  // wall may step back; mono does not follow
  EXPECT_EQ(clock.wallMillis(), 1'000);
  EXPECT_EQ(clock.monoMillis(), 5'250);
}

}  // namespace
}  // namespace push
