#include "loadtest/loadgen/broadcast_tally.h"

#include <gtest/gtest.h>

#include <string>

#include "loadtest/loadgen/broadcast_payload.h"

namespace push::loadgen {
namespace {

TEST(BroadcastTallyTest, CountsFirstCopiesPerClientDuplicatesAndForeignPayloads) {
  BroadcastTally tally(/*clients=*/3, /*max_broadcasts=*/4, /*track_latency=*/true);
  const std::string b0 = makeBroadcastPayload(0, /*sent_ns=*/1'000, 64);
  const std::string b1 = makeBroadcastPayload(1, /*sent_ns=*/2'000, 64);
  tally.receipt(0, b0, 5'000);
  tally.receipt(1, b0, 9'000);
  tally.receipt(0, b0, 9'500);  // client 0 again: a duplicate
  tally.receipt(2, b1, 4'000);
  tally.receipt(1, "not ours", 4'000);
  tally.receipt(7, b1, 4'000);                              // no such client
  tally.receipt(1, makeBroadcastPayload(4, 0, 64), 4'000);  // past max_broadcasts
  EXPECT_EQ(tally.receipts(), 7u);
  EXPECT_EQ(tally.unique(), 3u);
  EXPECT_EQ(tally.duplicates(), 1u);
  EXPECT_EQ(tally.unmatched(), 2u);
  EXPECT_EQ(tally.outOfRange(), 1u);
  EXPECT_EQ(tally.lastReceiptNs(), 9'500);
  // The latency of the first copies only, from each broadcast's send time: 4000, 8000, 2000.
  const LatencyHistogram lat = tally.takeLatency();
  EXPECT_EQ(lat.count(), 3u);
  EXPECT_EQ(lat.max(), 8'000);
  EXPECT_EQ(tally.takeLatency().count(), 0u);  // taken: the next second starts empty
  // A round's end restarts the counts (the broadcast benchmark's rounds).
  const std::string summary = tally.endRound(nullptr);
  EXPECT_NE(summary.find("unique=3 duplicates=1"), std::string::npos) << summary;
  EXPECT_EQ(tally.unique(), 0u);
}

}  // namespace
}  // namespace push::loadgen
