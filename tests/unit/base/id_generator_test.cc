#include "common/base/id_generator.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/mocks/fake_clock.h"

namespace push {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

std::unique_ptr<IdGenerator> makeGenerator(uint32_t node, const Clock& clock) {
  auto r = IdGenerator::create(node, clock);
  EXPECT_TRUE(r.isOk()) << r.status();
  return std::move(r).value();
}

TEST(IdGeneratorTest, UniqueAndStrictlyIncreasingOverHundredThousand) {
  auto gen = makeGenerator(3, Clock::system());
  std::vector<uint64_t> ids(100'000);
  for (auto& id : ids)
    id = gen->next();
  for (size_t i = 1; i < ids.size(); ++i) {
    ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
  }
  // Strictly increasing implies unique; the top bit stays clear (ids fit in int64).
  EXPECT_EQ(ids.back() >> 63, 0u);
}

TEST(IdGeneratorTest, PartsRoundTrip) {
  FakeClock clock;
  auto gen = makeGenerator(517, clock);
  uint64_t a = gen->next();
  uint64_t b = gen->next();
  EXPECT_EQ(IdGenerator::nodeOf(a), 517u);
  EXPECT_EQ(IdGenerator::nodeOf(b), 517u);
  EXPECT_EQ(IdGenerator::wallMillisOf(a), clock.wallMillis());
  EXPECT_EQ(IdGenerator::sequenceOf(a), 0u);
  EXPECT_EQ(IdGenerator::sequenceOf(b), 1u);

  clock.advance(milliseconds(25));
  uint64_t c = gen->next();
  EXPECT_EQ(IdGenerator::wallMillisOf(c), clock.wallMillis());
  EXPECT_EQ(IdGenerator::sequenceOf(c), 0u);  // fresh millisecond, sequence restarts
  EXPECT_EQ(IdGenerator::nodeOf(c), 517u);
}

TEST(IdGeneratorTest, NodeBitsRoundTripForEveryNode) {
  FakeClock clock;
  for (uint32_t node = 0; node <= IdGenerator::kMaxNode; ++node) {
    auto gen = makeGenerator(node, clock);
    uint64_t id = gen->next();
    ASSERT_EQ(IdGenerator::nodeOf(id), node);
    ASSERT_EQ(IdGenerator::wallMillisOf(id), clock.wallMillis());
  }
}

TEST(IdGeneratorTest, NodeAboveMaxIsRejected) {
  auto r = IdGenerator::create(IdGenerator::kMaxNode + 1, Clock::system());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(r.status().message().find("1024"), std::string::npos) << r.status();
  EXPECT_FALSE(IdGenerator::create(100000, Clock::system()).isOk());
  EXPECT_TRUE(IdGenerator::create(IdGenerator::kMaxNode, Clock::system()).isOk());
}

TEST(IdGeneratorTest, DistinctNodesNeverCollide) {
  // Same frozen clock for both: only the node bits keep them apart.
  FakeClock clock;
  auto a = makeGenerator(1, clock);
  auto b = makeGenerator(2, clock);
  std::unordered_set<uint64_t> seen;
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(seen.insert(a->next()).second);
    ASSERT_TRUE(seen.insert(b->next()).second);
    if (i % 1000 == 0) clock.advance(milliseconds(1));
  }
}

TEST(IdGeneratorTest, TwoThreadsShareOneGenerator) {
  auto gen = makeGenerator(9, Clock::system());
  constexpr int kPerThread = 50'000;
  std::vector<uint64_t> first(kPerThread), second(kPerThread);
  auto work = [&gen](std::vector<uint64_t>* out) {
    for (auto& id : *out)
      id = gen->next();
  };
  std::thread t1(work, &first);
  std::thread t2(work, &second);
  t1.join();
  t2.join();
  // Each thread sees its own ids strictly increasing...
  for (const auto* v : {&first, &second}) {
    for (size_t i = 1; i < v->size(); ++i)
      ASSERT_LT((*v)[i - 1], (*v)[i]);
  }
  // ...and no id was handed out twice.
  std::vector<uint64_t> all(first);
  all.insert(all.end(), second.begin(), second.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), 2u * kPerThread);
}

TEST(IdGeneratorTest, WallClockStepBackKeepsIncreasing) {
  FakeClock clock;
  auto gen = makeGenerator(4, clock);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(gen->next());
    clock.advance(milliseconds(1));
  }
  const int64_t before_step = clock.wallMillis();
  clock.setWallMs(before_step - 5000);  // NTP steps the clock back 5 s
  for (int i = 0; i < 1000; ++i) {
    ids.push_back(gen->next());
    if (i % 100 == 0) clock.advance(milliseconds(1));
  }
  for (size_t i = 1; i < ids.size(); ++i)
    ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
  // While the clock is behind, ids keep the last logical millisecond instead of following it.
  EXPECT_GE(IdGenerator::wallMillisOf(ids.back()), before_step - 1);

  // Once real time passes the logical time again, ids follow the clock.
  clock.setWallMs(before_step + 60'000);
  uint64_t later = gen->next();
  EXPECT_GT(later, ids.back());
  EXPECT_EQ(IdGenerator::wallMillisOf(later), before_step + 60'000);
  EXPECT_EQ(IdGenerator::sequenceOf(later), 0u);
}

TEST(IdGeneratorTest, SequenceOverflowInOneMillisecondBorrowsFromTheFuture) {
  FakeClock clock;  // frozen: every id is taken "in the same millisecond"
  auto gen = makeGenerator(5, clock);
  constexpr int kCount = 3 * 4096 + 17;
  std::vector<uint64_t> ids(kCount);
  for (auto& id : ids)
    id = gen->next();
  for (size_t i = 1; i < ids.size(); ++i)
    ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
  // The 4097th id carries into the next millisecond with sequence 0.
  EXPECT_EQ(IdGenerator::sequenceOf(ids[4095]), 4095u);
  EXPECT_EQ(IdGenerator::wallMillisOf(ids[4096]), clock.wallMillis() + 1);
  EXPECT_EQ(IdGenerator::sequenceOf(ids[4096]), 0u);
  EXPECT_EQ(IdGenerator::wallMillisOf(ids.back()), clock.wallMillis() + 3);
  for (uint64_t id : ids)
    ASSERT_EQ(IdGenerator::nodeOf(id), 5u);  // never bleeds into node
}

TEST(IdGeneratorTest, ClockBeforeEpochClampsToZero) {
  FakeClock clock(IdGenerator::kEpochMillis - 1000);
  auto gen = makeGenerator(6, clock);
  uint64_t a = gen->next();
  uint64_t b = gen->next();
  EXPECT_LT(a, b);
  EXPECT_EQ(IdGenerator::wallMillisOf(a), IdGenerator::kEpochMillis);
  EXPECT_EQ(IdGenerator::nodeOf(a), 6u);
}

}  // namespace
}  // namespace push
