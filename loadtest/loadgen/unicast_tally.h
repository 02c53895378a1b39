#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "loadtest/loadgen/latency_histogram.h"

namespace push::loadgen {

// The payload of every unicast push the load generator sends: "s=<seq> t=<send ns>" padded
// with '.', <send ns> being steady_clock (CLOCK_MONOTONIC, one clock for every process of the
// machine) when the request was queued for center. Push seq goes to user index
// sender_first + seq % users (the sender's --first-user), so a receiver knows which user must
// have got it.
// Reads the tag back; false when `payload` is not one of ours.
bool parseUnicastPayload(std::string_view payload, uint64_t* seq, int64_t* sent_ns);

// What one receiving push-load process of push-loadtest's unicast scenario counts: its clients
// are connections 0..clients-1, user index first_user + i, among the `users` users the sender
// addresses from `sender_first` on. Every push is checked (was it for this user? seen before?), so
// losses, duplicates and misroutes are exact: a bit per (round, client), round = seq / users, grown
// as pushes arrive, at most kMaxTrackedBits (beyond it pushes are counted unique, in untracked).
// Loop-thread only (one per process).
class UnicastTally {
 public:
  static constexpr uint64_t kMaxTrackedBits = uint64_t{1} << 31;  // 256 MiB

  UnicastTally(uint64_t users, uint64_t sender_first, uint64_t first_user, uint64_t clients);

  // A push read by client `client` at steady_clock `now_ns`.
  void onPush(size_t client, std::string_view payload, int64_t now_ns);

  uint64_t received() const { return received_; }
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  // For another user (a routing bug) or not one of ours (unreadable): neither counts unique.
  uint64_t misrouted() const { return misrouted_; }
  uint64_t unreadable() const { return unreadable_; }
  uint64_t untracked() const { return untracked_; }
  // Latency (ns) of the unique pushes since the last call; the tally's histogram is reset.
  LatencyHistogram takeLatency();

 private:
  uint64_t users_, sender_first_, first_user_, clients_;
  std::vector<uint64_t> seen_;  // bit (seq / users) * clients + client
  LatencyHistogram latency_;
  uint64_t received_ = 0, unique_ = 0, duplicates_ = 0, misrouted_ = 0, unreadable_ = 0;
  uint64_t untracked_ = 0;
};

}  // namespace push::loadgen
