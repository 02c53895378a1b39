#include "loadtest/loadgen/unicast_tally.h"

#include <gtest/gtest.h>

#include <string>

namespace push::loadgen {
namespace {

std::string payload(uint64_t seq, int64_t sent_ns) {
  return "s=" + std::to_string(seq) + " t=" + std::to_string(sent_ns) + "......";
}

TEST(UnicastPayloadTest, ReadsTheTagAndRejectsAnythingElse) {
  uint64_t seq = 0;
  int64_t sent = 0;
  ASSERT_TRUE(parseUnicastPayload("s=42 t=1000...", &seq, &sent));
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(sent, 1000);
  ASSERT_TRUE(parseUnicastPayload("s=7 t=99", &seq, &sent));
  EXPECT_EQ(sent, 99);
  for (const char* bad : {"", "s=", "s=1", "s=1 t=", "s=1 t=0", "s=x t=5", "x=1 t=5", "s=1 u=5",
                          "s=-1 t=5", "s=1t=5"}) {
    EXPECT_FALSE(parseUnicastPayload(bad, &seq, &sent)) << bad;
  }
}

// A sender addressing users 10..19 (sender_first 10, users 10); this process holds users
// 14..16 as its clients 0..2.
TEST(UnicastTallyTest, CountsUniqueDuplicateMisroutedAndUnreadablePushes) {
  UnicastTally tally(10, 10, 14, 3);
  // seq 4 -> user 14 (client 0), seq 5 -> 15 (client 1), seq 16 -> 16 (client 2, round 1).
  tally.onPush(0, payload(4, 1'000), 3'000);
  tally.onPush(1, payload(5, 1'000), 2'000);
  tally.onPush(2, payload(16, 1'000), 6'000);
  tally.onPush(0, payload(4, 1'000), 9'000);   // again: a duplicate
  tally.onPush(0, payload(14, 1'000), 9'000);  // round 1 of user 14: new
  tally.onPush(1, payload(4, 1'000), 9'000);   // user 14's push at user 15
  tally.onPush(7, payload(4, 1'000), 9'000);   // no such client here
  tally.onPush(0, "hello", 9'000);
  EXPECT_EQ(tally.received(), 8u);
  EXPECT_EQ(tally.unique(), 4u);
  EXPECT_EQ(tally.duplicates(), 1u);
  EXPECT_EQ(tally.misrouted(), 2u);
  EXPECT_EQ(tally.unreadable(), 1u);
  EXPECT_EQ(tally.untracked(), 0u);
  const LatencyHistogram lat = tally.takeLatency();
  EXPECT_EQ(lat.count(), 4u);  // the unique ones only
  EXPECT_EQ(lat.max(), 8'000);
  EXPECT_EQ(tally.takeLatency().count(), 0u);  // taken
}

TEST(UnicastTallyTest, PushesBeyondTheTrackedRangeCountUniqueUnchecked) {
  UnicastTally tally(1, 0, 0, 1);
  const uint64_t far = UnicastTally::kMaxTrackedBits + 5;
  tally.onPush(0, payload(far, 1), 2);
  tally.onPush(0, payload(far, 1), 2);
  EXPECT_EQ(tally.unique(), 2u);
  EXPECT_EQ(tally.untracked(), 2u);
  EXPECT_EQ(tally.duplicates(), 0u);
}

}  // namespace
}  // namespace push::loadgen
