#include "services/room/pending_acks.h"

#include <gtest/gtest.h>

namespace push::room {
namespace {

TEST(PendingAcksTest, TakesOnlyWhatWasAddedAndOnce) {
  PendingAcks p;
  p.add(1, 10);
  p.add(2, 10);
  EXPECT_FALSE(p.take(3));
  EXPECT_TRUE(p.take(2));
  EXPECT_FALSE(p.take(2));  // once
  EXPECT_TRUE(p.take(1));
  EXPECT_TRUE(p.empty());
}

TEST(PendingAcksTest, ARepeatedWriteIsOneDelivery) {
  PendingAcks p;
  p.add(7, 10);
  p.add(7, 10);
  EXPECT_EQ(p.size(), 1u);
}

TEST(PendingAcksTest, ForgetsTheOldestPastTheCapacity) {
  PendingAcks p;
  for (uint64_t id = 1; id <= 5; ++id)
    p.add(id, 3);
  EXPECT_EQ(p.size(), 3u);
  EXPECT_FALSE(p.take(1));
  EXPECT_FALSE(p.take(2));
  EXPECT_TRUE(p.take(3));
  EXPECT_TRUE(p.take(5));
  PendingAcks none;
  none.add(1, 0);  // capacity 0 remembers nothing
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace push::room
