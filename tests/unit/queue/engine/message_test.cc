// Tests for common/queue/message: the shared BodyRef and the stored (= message frame) encoding.

#include "common/queue/message.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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

// Under ASan a block freed early or never freed fails this test (use-after-free or a leak).
TEST(BodyRefTest, BatchBodiesShareBlocksAndOutliveTheirNeighbours) {
  std::vector<std::string> owned;
  for (int i = 0; i < 200; ++i)
    owned.push_back(std::string(256, static_cast<char>('a' + i % 26)));
  owned[7] = "";                          // empty bodies take part
  owned[100] = std::string(70'000, 'L');  // larger than a block: its own allocation
  std::vector<std::string_view> views(owned.begin(), owned.end());
  std::vector<BodyRef> refs;
  refs.emplace_back("before");  // makeBatch appends
  BodyRef::makeBatch(views, &refs);
  ASSERT_EQ(refs.size(), 201u);
  EXPECT_EQ(refs[0].view(), "before");
  for (size_t i = 0; i < owned.size(); ++i) {
    ASSERT_EQ(refs[i + 1].view(), owned[i]) << "body " << i;
  }
  // Neighbours live in one block: their bytes are adjacent (8-byte header between them).
  EXPECT_EQ(refs[2].view().data(), refs[1].view().data() + 256 + 8);

  // Keep one body of the first block and a copy of another, drop everything else.
  BodyRef kept = refs[3];
  BodyRef copied;
  copied = refs[50];
  BodyRef big = std::move(refs[101]);
  refs.clear();
  EXPECT_EQ(kept.view(), owned[2]);
  EXPECT_EQ(copied.view(), owned[49]);
  EXPECT_EQ(big.size(), 70'000u);
  BodyRef copy_of_kept = kept;
  kept = BodyRef();
  EXPECT_EQ(copy_of_kept.view(), owned[2]) << "the block lives while any of its bodies does";
}

TEST(BodyRefTest, ABatchLargerThanABlockIsSplitIntoBlocks) {
  std::string body(256, 'x');
  std::vector<std::string_view> views(300, body);  // 300 x 264 bytes > 64 KiB
  std::vector<BodyRef> refs;
  BodyRef::makeBatch(views, &refs);
  ASSERT_EQ(refs.size(), 300u);
  size_t adjacent = 0;
  for (size_t i = 1; i < refs.size(); ++i) {
    if (refs[i].view().data() == refs[i - 1].view().data() + 264) ++adjacent;
  }
  EXPECT_LT(adjacent, 299u) << "one block cannot hold them all";
  EXPECT_GE(adjacent, 296u) << "a block holds as many as fit (248 of 264 bytes)";
}

TEST(BodyRefTest, BatchOfOneIsAPlainBody) {
  std::vector<std::string_view> one{"solo"};
  std::vector<BodyRef> refs;
  BodyRef::makeBatch(one, &refs);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].view(), "solo");
  BodyRef::makeBatch({}, &refs);
  EXPECT_EQ(refs.size(), 1u);
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
