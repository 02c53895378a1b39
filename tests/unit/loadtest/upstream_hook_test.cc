#include "loadtest/loadgen/upstream_hook.h"

#include <gtest/gtest.h>

#include "loadtest/loadgen/upstream_load.h"

namespace push::loadgen {
namespace {

TEST(UpstreamHookTallyTest, CountsEachItemByUserAndSeqOnce) {
  UpstreamHookTally hook("u");
  const auto body = [](const char* user, int seq) {
    return std::string(R"({"request_id":"r","app":"demo","user":")") + user +
           R"(","device":"d","room":"r1","conn_id":7,"seq":)" + std::to_string(seq) +
           R"(,"type":"","payload":"dT0xIHM9Mg=="})";
  };
  EXPECT_TRUE(hook.onBody(body("u1", 1)));
  EXPECT_TRUE(hook.onBody(body("u1", 2)));
  EXPECT_TRUE(hook.onBody(body("u2", 1)));        // another user's seq 1: another item
  EXPECT_TRUE(hook.onBody(body("u1", 2)));        // a retry: a duplicate
  EXPECT_FALSE(hook.onBody(R"({"user":"u1"})"));  // no seq
  EXPECT_FALSE(hook.onBody(R"({"seq":3})"));      // no user
  EXPECT_FALSE(hook.onBody("not json"));
  EXPECT_FALSE(hook.onBody(body("u1", 3) + "x"));  // something after the object
  EXPECT_FALSE(hook.onBody(body("alice", 1)));     // not one of the senders' users
  EXPECT_FALSE(hook.onBody(body("u", 1)));
  EXPECT_FALSE(hook.onBody(body("u12x", 1)));
  EXPECT_EQ(hook.received(), 11u);
  EXPECT_EQ(hook.unique(), 3u);
  EXPECT_EQ(hook.duplicates(), 1u);
  EXPECT_EQ(hook.unreadable(), 7u);
}

TEST(UpstreamPayloadTest, CarriesUserSeqAndSendTimePaddedToSize) {
  const std::string p = makeUpstreamPayload(42, 7, 123456789, 80);
  EXPECT_EQ(p.size(), 80u);
  EXPECT_EQ(p.rfind("u=42 s=7 t=123456789 ", 0), 0u) << p;
  // Never cut below the tag.
  EXPECT_EQ(makeUpstreamPayload(1, 1, 1, 4), "u=1 s=1 t=1 ");
}

}  // namespace
}  // namespace push::loadgen
