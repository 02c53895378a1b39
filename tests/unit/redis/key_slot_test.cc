// keySlot / hashTag (common/redis/key_slot.h) against values Redis itself gives. The cluster
// test (redis_router_cluster_test.cc) also compares keySlot with CLUSTER KEYSLOT of a real node.

#include "common/redis/key_slot.h"

#include <gtest/gtest.h>

namespace push::redis {
namespace {

TEST(KeySlotTest, Crc16IsXmodem) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the CRC-16/XMODEM check value
  EXPECT_EQ(crc16(""), 0);
}

TEST(KeySlotTest, SlotsMatchRedis) {
  EXPECT_EQ(keySlot("foo"), 12182);
  EXPECT_EQ(keySlot("bar"), 5061);
  EXPECT_EQ(keySlot("hello"), 866);
  EXPECT_EQ(keySlot(""), 0);
  for (int i = 0; i < 1000; ++i)
    EXPECT_LT(keySlot("key:" + std::to_string(i)), kSlotCount);
}

TEST(KeySlotTest, KeysWithOneTagShareASlot) {
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("user1000"));
  EXPECT_EQ(keySlot("a{x}b"), keySlot("c{x}d{y}"));
}

TEST(KeySlotTest, HashTagIsTheFirstNonEmptyBraces) {
  EXPECT_EQ(hashTag("{user1000}.following"), "user1000");
  EXPECT_EQ(hashTag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hashTag("foo{{bar}}"), "{bar");
  // Empty braces or no closing brace: the whole key.
  EXPECT_EQ(hashTag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(hashTag("foo{bar"), "foo{bar");
  EXPECT_EQ(hashTag("foo}bar{"), "foo}bar{");
  EXPECT_EQ(hashTag("plain"), "plain");
}

}  // namespace
}  // namespace push::redis
