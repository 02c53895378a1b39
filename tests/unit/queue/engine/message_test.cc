// Tests for common/queue/message: the shared BodyRef and the stored (= message frame) encoding.

#include "common/queue/message.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/queue/wire.h"

namespace push::queue {
namespace {

TEST(BodyRefTest, CopiesShareTheBytes) {
  BodyRef a("hello");
  BodyRef b = a;
  EXPECT_EQ(a.view(), "hello");
  EXPECT_EQ(b.view().data(), a.view().data()) << "a copy shares the allocation";
  BodyRef c;
  c = b;
  EXPECT_EQ(c.view().data(), a.view().data());
  a = BodyRef("other");
  EXPECT_EQ(a.view(), "other");
  EXPECT_EQ(b.view(), "hello") << "the others still hold the old body";
  EXPECT_EQ(c.view(), "hello");
  c = c;  // self-assignment keeps it
  EXPECT_EQ(c.view(), "hello");
}

TEST(BodyRefTest, MoveLeavesTheSourceEmpty) {
  BodyRef a("abc");
  BodyRef b = std::move(a);
  EXPECT_EQ(b.view(), "abc");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  BodyRef c;
  c = std::move(b);
  EXPECT_EQ(c.view(), "abc");
  EXPECT_EQ(c.size(), 3u);
}

TEST(BodyRefTest, EmptyAndBinaryBodies) {
  BodyRef none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.view(), "");
  BodyRef zero("");
  EXPECT_TRUE(zero.empty());
  std::string binary("a\0b\xff", 4);
  BodyRef bin(binary);
  EXPECT_EQ(bin.size(), 4u);
  EXPECT_EQ(bin.view(), binary);
}

TEST(MessageCodecTest, EncodedIsTheMessageFrameData) {
  Message m;
  m.id = 0x0123456789abcdefULL;
  m.timestamp_ns = 1'700'000'000'000'000'001LL;
  m.attempts = 3;
  m.body = BodyRef("body bytes");
  std::string out = "pre";
  appendEncodedMessage(m, &out);
  ASSERT_EQ(out.size(), 3 + wire::kMessageHeaderSize + 10);

  wire::MessageView view;
  ASSERT_TRUE(wire::parseMessage(std::string_view(out).substr(3), &view));
  EXPECT_EQ(view.timestamp_ns, m.timestamp_ns);
  EXPECT_EQ(view.attempts, 3);
  EXPECT_EQ(view.id, "0123456789abcdef");
  EXPECT_EQ(view.body, "body bytes");

  Message back;
  ASSERT_TRUE(decodeMessage(std::string_view(out).substr(3), &back));
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.timestamp_ns, m.timestamp_ns);
  EXPECT_EQ(back.attempts, 3);
  EXPECT_EQ(back.body.view(), "body bytes");
}

TEST(MessageCodecTest, DecodeRejectsShortDataAndBadIds) {
  Message m;
  m.id = 42;
  m.body = BodyRef("x");
  std::string out;
  appendEncodedMessage(m, &out);
  Message back;
  EXPECT_FALSE(decodeMessage(std::string_view(out).substr(0, wire::kMessageHeaderSize - 1), &back));
  std::string bad_id = out;
  bad_id[10] = 'z';  // first id digit
  EXPECT_FALSE(decodeMessage(bad_id, &back));
  ASSERT_TRUE(decodeMessage(std::string_view(out).substr(0, wire::kMessageHeaderSize), &back));
  EXPECT_EQ(back.id, 42u);
  EXPECT_TRUE(back.body.empty());
}

}  // namespace
}  // namespace push::queue
