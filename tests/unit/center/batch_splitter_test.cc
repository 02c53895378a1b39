#include "services/center/batch_splitter.h"

#include <gtest/gtest.h>

#include <vector>

namespace push::center {
namespace {

BatchLimits limits(uint64_t bytes, uint32_t items, uint32_t targets) {
  BatchLimits l;
  l.max_bytes = bytes;
  l.max_items = items;
  l.max_targets = targets;
  return l;
}

// Batch sizes (items per batch) for items of the given (bytes, targets).
std::vector<int> split(const BatchLimits& l, const std::vector<std::pair<uint64_t, uint64_t>>& in) {
  BatchSplitter s(l);
  std::vector<int> out;
  for (auto [bytes, targets] : in) {
    if (s.add(bytes, targets)) out.push_back(0);
    ++out.back();
  }
  EXPECT_EQ(s.batches(), out.size());
  return out;
}

TEST(BatchSplitterTest, FirstItemStartsABatchAndSmallOnesShareIt) {
  EXPECT_EQ(split(limits(1000, 100, 100), {{10, 1}, {10, 1}, {10, 1}}), (std::vector<int>{3}));
  EXPECT_EQ(split(limits(1000, 100, 100), {}), (std::vector<int>{}));
}

TEST(BatchSplitterTest, CutsByBytes) {
  // 400 + 400 fits 1000, a third does not.
  EXPECT_EQ(split(limits(1000, 100, 100), {{400, 1}, {400, 1}, {400, 1}, {200, 1}, {1000, 1}}),
            (std::vector<int>{2, 2, 1}));
  // Exactly at the limit still fits.
  EXPECT_EQ(split(limits(1000, 100, 100), {{500, 1}, {500, 1}, {1, 1}}), (std::vector<int>{2, 1}));
}

TEST(BatchSplitterTest, CutsByItemCount) {
  EXPECT_EQ(split(limits(1u << 30, 3, 1000), std::vector<std::pair<uint64_t, uint64_t>>(7, {1, 1})),
            (std::vector<int>{3, 3, 1}));
}

TEST(BatchSplitterTest, CutsByTargetCount) {
  EXPECT_EQ(split(limits(1u << 30, 100, 10), {{1, 4}, {1, 4}, {1, 4}, {1, 6}, {1, 1}}),
            (std::vector<int>{2, 2, 1}));
}

TEST(BatchSplitterTest, AnItemOverALimitAloneStillGoesAlone) {
  EXPECT_EQ(split(limits(1000, 100, 10), {{10, 1}, {5000, 1}, {10, 1}, {10, 50}, {10, 1}}),
            (std::vector<int>{1, 1, 1, 1, 1}));
  BatchSplitter s(limits(1000, 100, 10));
  EXPECT_TRUE(s.add(5000, 1));
  EXPECT_EQ(s.batchBytes(), 5000u);
  EXPECT_TRUE(s.add(1, 1));
  EXPECT_EQ(s.batchBytes(), 1u);
  EXPECT_EQ(s.batchItems(), 1u);
  EXPECT_EQ(s.batchTargets(), 1u);
}

TEST(BatchSplitterTest, ItemBytesCountTagAndLength) {
  EXPECT_EQ(BatchSplitter::itemBytes(0), 2u);
  EXPECT_EQ(BatchSplitter::itemBytes(127), 129u);
  EXPECT_EQ(BatchSplitter::itemBytes(128), 131u);
  EXPECT_EQ(BatchSplitter::itemBytes(16384), 16384u + 4u);
}

}  // namespace
}  // namespace push::center
