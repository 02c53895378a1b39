#include "services/room/ack_tracker.h"

#include <gtest/gtest.h>

namespace push::room {
namespace {

TEST(AckTrackerTest, CountsDeliveriesAndAcks) {
  AckTracker t;
  t.delivered(42, 3);
  t.delivered(42, 2);  // another Deliver of the same message (another target)
  EXPECT_TRUE(t.acked(42));
  EXPECT_TRUE(t.acked(42));
  AckTracker::Counts c = t.counts(42);
  EXPECT_EQ(c.delivered, 5u);
  EXPECT_EQ(c.acked, 2u);
  EXPECT_EQ(t.tracked(), 1u);
}

TEST(AckTrackerTest, UnknownAcksAreReportedAndNotTracked) {
  AckTracker t;
  EXPECT_FALSE(t.acked(7));
  EXPECT_EQ(t.tracked(), 0u);
  AckTracker::Counts c = t.counts(7);
  EXPECT_EQ(c.delivered, 0u);
  EXPECT_EQ(c.acked, 0u);
}

TEST(AckTrackerTest, ForgetsTheOldestBeyondCapacity) {
  AckTracker t(3);
  for (uint64_t id = 1; id <= 5; ++id)
    t.delivered(id, 1);
  EXPECT_EQ(t.tracked(), 3u);
  EXPECT_FALSE(t.acked(1));
  EXPECT_FALSE(t.acked(2));
  EXPECT_TRUE(t.acked(3));
  EXPECT_EQ(t.counts(1).delivered, 0u);
  EXPECT_EQ(t.counts(5).delivered, 1u);
  // More deliveries of a tracked message do not make it newer or evict anything.
  t.delivered(3, 1);
  EXPECT_EQ(t.tracked(), 3u);
  EXPECT_EQ(t.counts(3).delivered, 2u);
  t.delivered(6, 1);  // evicts 3, the oldest inserted
  EXPECT_FALSE(t.acked(3));
  EXPECT_TRUE(t.acked(4));
  // A forgotten message delivered again starts from zero.
  t.delivered(1, 4);
  EXPECT_EQ(t.counts(1).delivered, 4u);
  EXPECT_EQ(t.counts(1).acked, 0u);
  EXPECT_EQ(t.tracked(), 3u);
}

TEST(AckTrackerTest, RecentJsonListsTheNewestFirst) {
  AckTracker t;
  EXPECT_EQ(t.recentJson(10), "{}");
  t.delivered(1, 1);
  t.delivered(2, 3);
  t.delivered(3, 2);
  t.acked(2);
  EXPECT_EQ(t.recentJson(10), R"({"3":{"delivered":2,"acked":0},"2":{"delivered":3,"acked":1},)"
                              R"("1":{"delivered":1,"acked":0}})");
  EXPECT_EQ(t.recentJson(2), R"({"3":{"delivered":2,"acked":0},"2":{"delivered":3,"acked":1}})");
  EXPECT_EQ(t.recentJson(0), "{}");
}

TEST(AckTrackerTest, RecentJsonAfterEvictionIsWellFormed) {
  AckTracker t(2);
  for (uint64_t id = 10; id < 15; ++id)
    t.delivered(id, 1);
  EXPECT_EQ(t.recentJson(5), R"({"14":{"delivered":1,"acked":0},"13":{"delivered":1,"acked":0}})");
}

}  // namespace
}  // namespace push::room
