#include "services/center/rate_limiter.h"

#include <gtest/gtest.h>

namespace push::center {
namespace {

TEST(TokenBucketTest, StartsFullWithTheBurst) {
  TokenBucket b(10, 5);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(b.tryTake(1000)) << i;
  EXPECT_FALSE(b.tryTake(1000));
  EXPECT_FALSE(b.tryTake(1000));  // failing does not take or bank anything
}

TEST(TokenBucketTest, RefillsAtTheRateUpToTheBurst) {
  TokenBucket b(10, 5);  // one token per 100 ms
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(b.tryTake(1000));
  EXPECT_FALSE(b.tryTake(1099));
  EXPECT_TRUE(b.tryTake(1100));
  EXPECT_FALSE(b.tryTake(1100));
  EXPECT_TRUE(b.tryTake(1250));  // 1.5 tokens banked
  EXPECT_FALSE(b.tryTake(1250));
  EXPECT_TRUE(b.tryTake(1300));  // the half token was kept
  // A long pause refills to the burst, no further.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(b.tryTake(100'000)) << i;
  EXPECT_FALSE(b.tryTake(100'000));
}

TEST(TokenBucketTest, TimeGoingBackwardsNeitherRefillsNorBreaks) {
  TokenBucket b(10, 1);
  ASSERT_TRUE(b.tryTake(5000));
  EXPECT_FALSE(b.tryTake(4000));
  EXPECT_FALSE(b.tryTake(5050));  // measured from 5000, not from 4000
  EXPECT_TRUE(b.tryTake(5100));
}

TEST(TokenBucketTest, AnyClockOriginWorksIncludingZero) {
  TokenBucket b(1, 2);
  EXPECT_TRUE(b.tryTake(0));
  EXPECT_TRUE(b.tryTake(0));
  EXPECT_FALSE(b.tryTake(0));
  EXPECT_TRUE(b.tryTake(1000));
}

TEST(TokenBucketTest, WaitMsSaysWhenTheNextTokenComes) {
  TokenBucket b(4, 2);  // one token per 250 ms
  EXPECT_EQ(b.waitMs(0), 0);
  ASSERT_TRUE(b.tryTake(0));
  ASSERT_TRUE(b.tryTake(0));
  EXPECT_EQ(b.waitMs(0), 250);
  EXPECT_EQ(b.waitMs(100), 150);
  EXPECT_GE(b.waitMs(249), 1);  // 1 ms, give or take the rounding of 0.996 tokens
  EXPECT_LE(b.waitMs(249), 2);
  EXPECT_EQ(b.waitMs(250), 0);
  EXPECT_TRUE(b.tryTake(250));  // waitMs did not take the token
  EXPECT_EQ(b.waitMs(250), 250);
}

TEST(TokenBucketTest, DegenerateSettingsAreClamped) {
  TokenBucket zero_burst(100, 0);  // burst at least one token
  EXPECT_TRUE(zero_burst.tryTake(0));
  EXPECT_FALSE(zero_burst.tryTake(0));
  TokenBucket zero_rate(0, 1);  // a tiny positive rate: waits are long but finite
  ASSERT_TRUE(zero_rate.tryTake(0));
  EXPECT_FALSE(zero_rate.tryTake(10'000));
  EXPECT_GT(zero_rate.waitMs(10'000), 100'000);
}

TEST(TokenBucketTest, SeveralTokensAtOnceAreAllOrNothing) {
  TokenBucket b(10, 5);  // 10/s, burst 5
  EXPECT_TRUE(b.tryTake(0, 3));
  EXPECT_FALSE(b.tryTake(0, 3));   // 2 left: nothing taken
  EXPECT_EQ(b.waitMs(0, 3), 100);  // one more token in 100 ms
  EXPECT_TRUE(b.tryTake(0, 2));
  EXPECT_FALSE(b.tryTake(1000, 6));  // more than the burst: never
  EXPECT_TRUE(b.tryTake(1000, 5));
}

}  // namespace
}  // namespace push::center
