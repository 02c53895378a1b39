#include "common/queue/codec/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace push::queue {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32cPortableForTest(0, "123456789"), 0xE3069283u);
}

TEST(Crc32cTest, MatchesRfc3720Vectors) {
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string ascending;
  std::string descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
  EXPECT_EQ(crc32cPortableForTest(0, ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, EmptyIsZero) {
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32cTest, HardwareAndTablePathsAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string data(4096 + 16, '\0');
  for (char& c : data)
    c = static_cast<char>(rng() & 0xff);
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len = 0; len < 300; ++len) {
      std::string_view piece = std::string_view(data).substr(offset, len);
      ASSERT_EQ(crc32c(piece), crc32cPortableForTest(0, piece)) << offset << " " << len;
    }
  }
  EXPECT_EQ(crc32c(data), crc32cPortableForTest(0, data));
}

TEST(Crc32cTest, ExtendingOverPiecesEqualsTheWhole) {
  std::mt19937 rng(8);
  std::string data(10000, '\0');
  for (char& c : data)
    c = static_cast<char>(rng() & 0xff);
  uint32_t whole = crc32c(data);
  for (int round = 0; round < 20; ++round) {
    uint32_t crc = 0;
    uint32_t portable = 0;
    std::string_view rest = data;
    while (!rest.empty()) {
      size_t n = std::min<size_t>(rest.size(), 1 + rng() % 700);
      crc = crc32cExtend(crc, rest.substr(0, n));
      portable = crc32cPortableForTest(portable, rest.substr(0, n));
      rest.remove_prefix(n);
    }
    EXPECT_EQ(crc, whole);
    EXPECT_EQ(portable, whole);
  }
}

}  // namespace
}  // namespace push::queue
