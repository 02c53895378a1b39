#include "common/base/hash.h"

#include <bit>
#include <string>
#include <unordered_set>

#include <gtest/gtest.h>

namespace push {
namespace {

// hash64 decides which register slot and which room own a user: its values must never change.
// These were computed once from the implementation (FNV-1a 64 + murmur3 fmix64) and pinned.
TEST(HashTest, Hash64IsPinned) {
  EXPECT_EQ(hash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(hash64("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(hash64("user:42"), 0x998817bee6718248ULL);
  EXPECT_EQ(hash64("app1/alice"), 0xaa406e1796d64c4fULL);
}

TEST(HashTest, Mix64IsPinnedAndFixesZero) {
  EXPECT_EQ(mix64(0), 0u);                     // fmix64's fixed point
  EXPECT_EQ(mix64(1), 0xb456bcfc34c2cb2cULL);  // the published fmix64(1)
  EXPECT_EQ(mix64(0x123456789abcdef0ULL), 0x18b8c062f6f42398ULL);
}

TEST(HashTest, Hash64DependsOnEveryByteAndLength) {
  EXPECT_NE(hash64("abc"), hash64("abd"));
  EXPECT_NE(hash64("abc"), hash64("bac"));
  EXPECT_NE(hash64("abc"), hash64("ab"));
  EXPECT_NE(hash64(std::string_view("a\0", 2)), hash64("a"));
  EXPECT_EQ(hash64(std::string("same")), hash64("same"));
}

TEST(HashTest, Mix64AvalanchesOnCloseInputs) {
  // Consecutive keys must land far apart: on average half of the 64 bits flip.
  int total_flipped = 0;
  constexpr int kKeys = 1000;
  std::unordered_set<uint64_t> seen;
  for (uint64_t k = 1; k <= kKeys; ++k) {
    const int flipped = std::popcount(mix64(k) ^ mix64(k + 1));
    EXPECT_GE(flipped, 12) << k;
    total_flipped += flipped;
    EXPECT_TRUE(seen.insert(mix64(k)).second);
  }
  EXPECT_NEAR(total_flipped / double(kKeys), 32, 2);
}

TEST(HashTest, Hash64SpreadsSimilarKeysOverSlots) {
  // "user0".."user9999" over 16 slots: each slot gets its share within 20%.
  constexpr int kSlots = 16, kKeys = 10000;
  int counts[kSlots] = {};
  for (int i = 0; i < kKeys; ++i)
    ++counts[hash64("user" + std::to_string(i)) % kSlots];
  for (int c : counts)
    EXPECT_NEAR(c, kKeys / kSlots, kKeys / kSlots / 5);
}

}  // namespace
}  // namespace push
