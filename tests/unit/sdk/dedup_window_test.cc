#include "sdk/dedup_window.h"

#include <gtest/gtest.h>

namespace push::sdk {
namespace {

TEST(DedupWindowTest, SuppressesDuplicates) {
  DedupWindow w(4);
  EXPECT_TRUE(w.insert(1));
  EXPECT_TRUE(w.insert(2));
  EXPECT_FALSE(w.insert(1));
  EXPECT_TRUE(w.contains(2));
  EXPECT_EQ(w.size(), 2u);
}

TEST(DedupWindowTest, ForgetsTheOldestBeyondCapacity) {
  DedupWindow w(3);
  for (uint64_t id = 1; id <= 4; ++id)
    EXPECT_TRUE(w.insert(id));
  EXPECT_EQ(w.size(), 3u);
  EXPECT_FALSE(w.contains(1));
  EXPECT_TRUE(w.insert(1));  // forgotten: new again
  EXPECT_FALSE(w.contains(2));
}

TEST(DedupWindowTest, RemembersAcks) {
  DedupWindow w(2);
  w.insert(7);
  EXPECT_FALSE(w.acked(7));
  w.markAcked(7);
  EXPECT_TRUE(w.acked(7));
  w.markAcked(99);  // unknown: ignored
  EXPECT_FALSE(w.acked(99));
  w.insert(8);
  w.insert(9);  // 7 is forgotten, with its ack
  EXPECT_FALSE(w.acked(7));
}

TEST(DedupWindowTest, RecentIsNewestFirst) {
  DedupWindow w(3);
  EXPECT_TRUE(w.recent(5).empty());
  for (uint64_t id = 1; id <= 5; ++id)
    w.insert(id);
  EXPECT_EQ(w.recent(2), (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(w.recent(10), (std::vector<uint64_t>{5, 4, 3}));
}

}  // namespace
}  // namespace push::sdk
