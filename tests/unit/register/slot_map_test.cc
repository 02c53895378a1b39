#include "services/register/slot_map.h"

#include <gtest/gtest.h>

#include <string>

namespace push::reg {
namespace {

// hash64("app/user") % 1024 and hash64("demo/alice") % 1024, computed independently of the
// C++ code (FNV-1a 64 + murmur3 fmix64, as documented in common/base/hash.h).
constexpr uint32_t kPinnedAppUser = 387;
constexpr uint32_t kPinnedDemoAlice = 87;

std::string roundTrip(const std::string& text) {
  auto set = SlotSet::parse(text);
  EXPECT_TRUE(set.isOk()) << text << ": " << set.status().toString();
  return set.isOk() ? set->toString() : "";
}

TEST(SlotSetTest, CompactFormsRoundTrip) {
  for (const char* text : {"0-1023", "0-511", "512-1023", "0-99,200-299,512", "5", "1023", "0",
                           "0,2,4", "1-2,1022-1023"}) {
    EXPECT_EQ(roundTrip(text), text);
  }
}

TEST(SlotSetTest, NormalisesSpacesOverlapsAndOrder) {
  EXPECT_EQ(roundTrip(" 0-9 , 20 "), "0-9,20");
  EXPECT_EQ(roundTrip("10-20,5-15"), "5-20");
  EXPECT_EQ(roundTrip("3,1,2"), "1-3");
  EXPECT_EQ(roundTrip("7-7"), "7");
}

TEST(SlotSetTest, CountsContainsOverlapsAndUnites) {
  auto low = SlotSet::parse("0-511");
  auto high = SlotSet::parse("512-1023");
  auto mid = SlotSet::parse("500-600");
  ASSERT_TRUE(low.isOk() && high.isOk() && mid.isOk());
  EXPECT_EQ(low->count(), 512u);
  EXPECT_TRUE(low->contains(0));
  EXPECT_TRUE(low->contains(511));
  EXPECT_FALSE(low->contains(512));
  EXPECT_FALSE(low->contains(kSlotCount));  // out of range: false, not UB
  EXPECT_FALSE(low->overlaps(*high));
  EXPECT_TRUE(low->overlaps(*mid));
  EXPECT_TRUE(high->overlaps(*mid));
  SlotSet both = low->unite(*high);
  EXPECT_EQ(both.count(), kSlotCount);
  EXPECT_EQ(both.toString(), "0-1023");
  EXPECT_EQ(SlotSet::all().toString(), "0-1023");
  EXPECT_EQ(SlotSet().toString(), "");
  SlotSet added;
  added.add(3);
  added.add(4);
  EXPECT_EQ(added.toString(), "3-4");
}

TEST(SlotSetTest, RejectsBadRangesNamingThePart) {
  EXPECT_EQ(SlotSet::parse("").status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(SlotSet::parse("").status().message().find("empty"), std::string::npos);
  for (const char* bad : {"512-100", "0-1024", "1024", "abc", "1-", "-5", "1,,2", ",", "1,",
                          "1-2-3", "0x10", "+1", "99999999999"}) {
    auto set = SlotSet::parse(bad);
    ASSERT_FALSE(set.isOk()) << "'" << bad << "' was accepted as " << set->toString();
    EXPECT_EQ(set.status().code(), Code::INVALID_ARGUMENT) << bad;
    EXPECT_NE(set.status().message().find("bad slot range"), std::string::npos)
        << set.status().message();
    EXPECT_NE(set.status().message().find("slots are 0-1023"), std::string::npos)
        << set.status().message();
  }
  // The message quotes the offending part, not the whole list.
  auto st = SlotSet::parse("0-9,700-600,20").status();
  EXPECT_NE(st.message().find("'700-600'"), std::string::npos) << st.message();
}

TEST(SlotOfTest, IsPinnedAcrossReleases) {
  // Register instances and rooms must agree forever: a changed hash would move every user.
  EXPECT_EQ(slotOf("app", "user"), kPinnedAppUser);
  EXPECT_EQ(slotOf("demo", "alice"), kPinnedDemoAlice);
  EXPECT_EQ(slotOf("app", "user"), slotOf(std::string("app"), std::string("user")));
}

TEST(SlotOfTest, StaysInRangeAndSpreads) {
  SlotSet seen;
  for (int i = 0; i < 20000; ++i) {
    uint32_t slot = slotOf("app", "user-" + std::to_string(i));
    ASSERT_LT(slot, kSlotCount);
    seen.add(slot);
  }
  EXPECT_GT(seen.count(), 1000u);  // 20000 users leave few of 1024 slots empty
  // The app is part of the key.
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    differ += slotOf("a", std::to_string(i)) != slotOf("b", std::to_string(i));
  }
  EXPECT_GT(differ, 90);
}

}  // namespace
}  // namespace push::reg
