#include "services/common/room_pool.h"

#include <gtest/gtest.h>

#include "common/net/event_loop.h"

namespace push::center {
namespace {

// Channels connect lazily in the background; the addresses need not be reachable here.
TEST(RoomPoolTest, OneChannelPerAddressCreatedOnFirstUse) {
  net::EventLoop loop;
  {
    service::RoomPool pool(loop, {});
    rpc::Channel* a = pool.get("127.0.0.1:1");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(pool.get("127.0.0.1:1"), a);
    rpc::Channel* b = pool.get("127.0.0.1:2");
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    EXPECT_EQ(pool.size(), 2u);
  }  // closes every channel
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(RoomPoolTest, BadAddressGivesNoChannel) {
  net::EventLoop loop;
  {
    service::RoomPool pool(loop, {});
    EXPECT_EQ(pool.get("not an address"), nullptr);
    EXPECT_EQ(pool.get(""), nullptr);
    EXPECT_EQ(pool.size(), 0u);
  }
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(RoomPoolTest, EvictsTheLeastRecentlyUsedBeyondTheBound) {
  net::EventLoop loop;
  {
    service::RoomPool pool(loop, {}, /*max_rooms=*/2);
    rpc::Channel* a = pool.get("127.0.0.1:1");
    pool.get("127.0.0.1:2");
    EXPECT_EQ(pool.get("127.0.0.1:1"), a);        // a is now more recent than b
    ASSERT_NE(pool.get("127.0.0.1:3"), nullptr);  // evicts b
    EXPECT_EQ(pool.size(), 2u);
    EXPECT_EQ(pool.get("127.0.0.1:1"), a);  // a survived
    pool.get("127.0.0.1:2");                // b again: evicts 3, the least recent now
    EXPECT_EQ(pool.size(), 2u);
    EXPECT_EQ(pool.get("127.0.0.1:1"), a);
  }
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::center
