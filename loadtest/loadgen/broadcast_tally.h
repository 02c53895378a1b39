#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "loadtest/loadgen/latency_histogram.h"

namespace push::loadgen {

// Counts the broadcasts one receiving process got, per broadcast and exactly: each broadcast
// (numbered by the publisher, see broadcast_payload.h) has a bit per local client, so a second
// copy to the same client is a duplicate and a client without the bit at the end is a loss.
// The bits of a broadcast are allocated on its first receipt (clients / 8 bytes) and freed at
// the end of the round; broadcasts numbered >= max_broadcasts are counted as out_of_range and
// not tallied.
//
// A round is what one publisher run sent; endRound() summarizes it (one line) and, when given
// a file, writes one line per broadcast received — "<number> <sent_ns> <first_ns> <last_ns>
// <unique> <duplicates>" — so that a script can merge the processes of one run (the time to
// the last client of a broadcast is the latest last_ns over every process). Not thread-safe.
class BroadcastTally {
 public:
  // `track_latency`: record each first copy's latency for takeLatency() (push-loadtest's
  // workers); the broadcast benchmark's receivers leave it off (a histogram record per copy
  // on their hot path, for figures they take from the per-broadcast lines instead).
  BroadcastTally(size_t clients, size_t max_broadcasts, bool track_latency = false);

  // One message read by client `client` at `read_ns` (steady_clock).
  void receipt(size_t client, std::string_view payload, int64_t read_ns);

  // Counts of the round so far: first copies per client, second ones, not ours (or a client
  // out of range), numbered past max_broadcasts.
  uint64_t receipts() const { return receipts_; }
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t unmatched() const { return unmatched_; }
  uint64_t outOfRange() const { return out_of_range_; }
  int64_t lastReceiptNs() const { return last_receipt_ns_; }
  // Latency (ns, from the API call to the read) of the first copies since the last call;
  // the tally's histogram is reset (empty without track_latency). Rounds do not touch it.
  LatencyHistogram takeLatency();

  // The summary of the round ("receipts= unique= duplicates= broadcasts= ..." without a
  // leading space), writes the per-broadcast lines to `report` when not null, and starts a
  // new round.
  std::string endRound(std::FILE* report);

 private:
  struct Record {
    int64_t sent_ns = 0, first_ns = 0, last_ns = 0;
    uint32_t unique = 0, duplicates = 0;
    std::vector<uint64_t> seen;  // a bit per client; empty until the first receipt
  };

  size_t clients_;
  size_t max_broadcasts_;
  std::vector<Record> records_;  // by broadcast number
  uint64_t receipts_ = 0, unique_ = 0, duplicates_ = 0, broadcasts_ = 0;
  uint64_t unmatched_ = 0, out_of_range_ = 0;
  int64_t first_receipt_ns_ = 0, last_receipt_ns_ = 0;
  bool track_latency_;
  LatencyHistogram latency_;
};

}  // namespace push::loadgen
