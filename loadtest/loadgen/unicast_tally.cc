#include "loadtest/loadgen/unicast_tally.h"

#include <algorithm>
#include <charconv>

namespace push::loadgen {

bool parseUnicastPayload(std::string_view payload, uint64_t* seq, int64_t* sent_ns) {
  if (payload.substr(0, 2) != "s=") return false;
  const char* end = payload.data() + payload.size();
  auto r = std::from_chars(payload.data() + 2, end, *seq);
  if (r.ec != std::errc() || end - r.ptr < 4 || std::string_view(r.ptr, 3) != " t=") return false;
  r = std::from_chars(r.ptr + 3, end, *sent_ns);
  return r.ec == std::errc() && *sent_ns > 0;
}

UnicastTally::UnicastTally(uint64_t users, uint64_t sender_first, uint64_t first_user,
                           uint64_t clients)
    : users_(users == 0 ? 1 : users),
      sender_first_(sender_first),
      first_user_(first_user),
      clients_(clients) {}

void UnicastTally::onPush(size_t client, std::string_view payload, int64_t now_ns) {
  ++received_;
  uint64_t seq = 0;
  int64_t sent_ns = 0;
  if (!parseUnicastPayload(payload, &seq, &sent_ns)) {
    ++unreadable_;
    return;
  }
  if (client >= clients_ || sender_first_ + seq % users_ != first_user_ + client) {
    ++misrouted_;
    return;
  }
  const uint64_t bit = seq / users_ * clients_ + client;
  if (bit >= kMaxTrackedBits) {
    ++untracked_;
  } else {
    const size_t word = static_cast<size_t>(bit / 64);
    if (word >= seen_.size()) {
      const size_t cap = static_cast<size_t>(kMaxTrackedBits / 64);
      seen_.resize(std::min(cap, std::max(word + 1, seen_.size() * 2)), 0);
    }
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if (seen_[word] & mask) {
      ++duplicates_;
      return;
    }
    seen_[word] |= mask;
  }
  ++unique_;
  latency_.record(now_ns - sent_ns);
}

LatencyHistogram UnicastTally::takeLatency() {
  LatencyHistogram out = latency_;
  latency_.reset();
  return out;
}

}  // namespace push::loadgen
