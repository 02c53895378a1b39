#include "services/register/slot_assignment.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace push::reg {
namespace {

std::vector<std::string> ids(size_t n, const std::string& prefix = "register-") {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(1000 + i) + "-1764000000000");
  return out;
}

// Every slot once, across all sets.
void expectPartition(const std::vector<SlotSet>& sets) {
  for (uint32_t s = 0; s < kSlotCount; ++s) {
    int owners = 0;
    for (const SlotSet& set : sets)
      owners += set.contains(s);
    ASSERT_EQ(owners, 1) << "slot " << s;
  }
}

TEST(SlotAssignmentTest, EmptyListOwnsNothing) {
  EXPECT_TRUE(assignSlots({}).empty());
  EXPECT_EQ(slotsOf({}, "register-1").count(), 0u);
}

TEST(SlotAssignmentTest, OneInstanceOwnsEverySlot) {
  auto sets = assignSlots({"register-1"});
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].count(), kSlotCount);
}

TEST(SlotAssignmentTest, CoversEverySlotOnceAndSpreadsThem) {
  for (size_t n : {2u, 3u, 4u, 7u, 16u}) {
    auto sets = assignSlots(ids(n));
    ASSERT_EQ(sets.size(), n);
    expectPartition(sets);
    const double fair = static_cast<double>(kSlotCount) / static_cast<double>(n);
    for (const SlotSet& set : sets) {
      EXPECT_GT(static_cast<double>(set.count()), fair * 0.6) << n << " instances";
      EXPECT_LT(static_cast<double>(set.count()), fair * 1.4) << n << " instances";
    }
  }
}

TEST(SlotAssignmentTest, TheOrderOfTheListDoesNotMatter) {
  auto forward = ids(5);
  std::vector<std::string> backward(forward.rbegin(), forward.rend());
  for (const std::string& id : forward) {
    EXPECT_EQ(slotsOf(forward, id), slotsOf(backward, id)) << id;
  }
}

TEST(SlotAssignmentTest, AJoiningInstanceTakesSlotsOnlyForItself) {
  auto before = ids(4);
  auto after = before;
  after.push_back("register-9999-1764000000001");
  const SlotSet joined = slotsOf(after, after.back());
  EXPECT_GT(joined.count(), 0u);
  for (const std::string& id : before) {
    const SlotSet old_set = slotsOf(before, id);
    const SlotSet new_set = slotsOf(after, id);
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (new_set.contains(s)) {
        EXPECT_TRUE(old_set.contains(s)) << id << " gained slot " << s << " from another";
      } else if (old_set.contains(s)) {
        EXPECT_TRUE(joined.contains(s)) << "slot " << s << " of " << id << " moved elsewhere";
      }
    }
  }
}

TEST(SlotAssignmentTest, ALeavingInstanceGivesUpOnlyItsOwnSlots) {
  auto before = ids(5);
  auto after = before;
  after.erase(after.begin() + 2);
  for (const std::string& id : after) {
    const SlotSet old_set = slotsOf(before, id);
    const SlotSet new_set = slotsOf(after, id);
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (old_set.contains(s)) {
        EXPECT_TRUE(new_set.contains(s)) << id << " lost slot " << s;
      }
    }
  }
  expectPartition(assignSlots(after));
}

TEST(SlotAssignmentTest, AnIdNotListedOwnsNothingAndADuplicateOwnsNothingTwice) {
  EXPECT_EQ(slotsOf(ids(3), "register-unknown").count(), 0u);
  auto list = ids(2);
  list.push_back(list[0]);
  auto sets = assignSlots(list);
  EXPECT_EQ(sets[2].count(), 0u);
  expectPartition(sets);
}

}  // namespace
}  // namespace push::reg
