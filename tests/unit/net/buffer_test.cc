#include "common/net/buffer.h"

#include <cstring>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace push::net {
namespace {

std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i + seed) % 26);
  return s;
}

TEST(BufferTest, EmptyBufferAllocatesNothing) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.view(), "");
  b.append("", 0);
  EXPECT_EQ(b.capacity(), 0u);  // appending nothing does not allocate either
}

TEST(BufferTest, AppendAndConsumeIsFifo) {
  Buffer b;
  b.append("hello ");
  b.append(std::string_view("world"));
  EXPECT_EQ(b.size(), 11u);
  EXPECT_EQ(b.view(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.view(), "world");
  b.append("!", 1);
  EXPECT_EQ(b.view(), "world!");
  b.consume(6);
  EXPECT_TRUE(b.empty());
  EXPECT_GT(b.capacity(), 0u);  // consume keeps the memory; release() frees it
}

TEST(BufferTest, GrowsAcrossManyAppendsAndKeepsContents) {
  Buffer b;
  std::string expected;
  for (size_t i = 0; i < 2000; ++i) {
    std::string piece = pattern(i % 97 + 1, i);
    b.append(piece);
    expected += piece;
    ASSERT_GE(b.capacity(), b.size());
  }
  EXPECT_EQ(b.view(), expected);
  // Capacity grows geometrically from 64: a power of two.
  EXPECT_EQ(b.capacity() & (b.capacity() - 1), 0u);
}

TEST(BufferTest, LargeSingleAppend) {
  Buffer b;
  std::string big = pattern(1 << 20);
  b.append(big);
  EXPECT_EQ(b.size(), big.size());
  EXPECT_GE(b.capacity(), big.size());
  EXPECT_EQ(b.view(), big);
}

TEST(BufferTest, ReserveAndCommitWriteInPlace) {
  Buffer b;
  b.append("ab");
  char* p = b.reserve(100);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(b.capacity() - b.size(), 100u);
  std::memcpy(p, "cdef", 4);
  b.commit(3);  // only part of what was reserved
  EXPECT_EQ(b.view(), "abcde");
  // reserve() does not change the size by itself.
  b.reserve(10);
  EXPECT_EQ(b.size(), 5u);
}

TEST(BufferTest, ReserveAfterConsumeSlidesInsteadOfGrowing) {
  Buffer b;
  b.append(pattern(64));
  ASSERT_EQ(b.capacity(), 64u);
  b.consume(60);  // 4 bytes left at the end of a 64-byte block
  const std::string tail(b.view());
  char* p = b.reserve(40);  // fits once the tail moves to the front
  EXPECT_EQ(b.capacity(), 64u);
  EXPECT_EQ(b.view(), tail);
  std::memcpy(p, pattern(40).data(), 40);
  b.commit(40);
  EXPECT_EQ(b.view(), tail + pattern(40));
}

TEST(BufferTest, GrowAfterConsumeKeepsUnconsumedBytes) {
  Buffer b;
  b.append(pattern(100));
  b.consume(30);
  std::string rest(b.view());
  b.append(pattern(1000, 5));  // forces a reallocation with begin_ > 0
  EXPECT_EQ(b.view(), rest + pattern(1000, 5));
}

TEST(BufferTest, ConsumeAllResetsToFront) {
  Buffer b;
  b.append(pattern(50));
  const char* front = b.data();
  b.consume(20);
  EXPECT_EQ(b.data(), front + 20);
  b.consume(30);
  EXPECT_TRUE(b.empty());
  b.append("x");
  EXPECT_EQ(b.data(), front);  // an emptied buffer writes from the start again
}

TEST(BufferTest, ClearKeepsCapacityReleaseFreesIt) {
  Buffer b;
  b.append(pattern(300));
  size_t cap = b.capacity();
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), cap);
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
  b.append("again");  // usable after release
  EXPECT_EQ(b.view(), "again");
}

TEST(BufferTest, MoveConstructTransfersAndEmptiesSource) {
  Buffer a;
  a.append("payload");
  a.consume(3);
  const char* data = a.data();
  Buffer b(std::move(a));
  EXPECT_EQ(b.view(), "load");
  EXPECT_EQ(b.data(), data);  // no copy
  EXPECT_TRUE(a.empty());     // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(a.capacity(), 0u);
  a.append("reuse");
  EXPECT_EQ(a.view(), "reuse");
}

TEST(BufferTest, MoveAssignFreesOldContents) {
  Buffer a, b;
  a.append("first");
  b.append(pattern(500));
  b = std::move(a);
  EXPECT_EQ(b.view(), "first");
  EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move)
  Buffer& self = b;
  b = std::move(self);  // self-move keeps the contents
  EXPECT_EQ(b.view(), "first");
}

TEST(BufferTest, DataIsMutable) {
  Buffer b;
  b.append("abc");
  b.data()[1] = 'X';
  EXPECT_EQ(b.view(), "aXc");
}

}  // namespace
}  // namespace push::net
