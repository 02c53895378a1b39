#include "loadtest/loadgen/broadcast_tally.h"

#include <algorithm>
#include <cinttypes>
#include <limits>

#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/latency_histogram.h"

namespace push::loadgen {

BroadcastTally::BroadcastTally(size_t clients, size_t max_broadcasts, bool track_latency)
    : clients_(clients), max_broadcasts_(max_broadcasts), track_latency_(track_latency) {}

void BroadcastTally::receipt(size_t client, std::string_view payload, int64_t read_ns) {
  ++receipts_;
  if (first_receipt_ns_ == 0 || read_ns < first_receipt_ns_) first_receipt_ns_ = read_ns;
  last_receipt_ns_ = std::max(last_receipt_ns_, read_ns);
  uint64_t number = 0;
  if (!parseBroadcastNumber(payload, &number) || client >= clients_) {
    ++unmatched_;
    return;
  }
  if (number >= max_broadcasts_) {
    ++out_of_range_;
    return;
  }
  if (number >= records_.size()) records_.resize(number + 1);
  Record& r = records_[number];
  if (r.seen.empty()) {
    // The first copy of this broadcast here: the only time its send time is read.
    int64_t sent_ns = 0;
    if (!parseBroadcastPayload(payload, &number, &sent_ns)) {
      ++unmatched_;
      return;
    }
    r.seen.assign((clients_ + 63) / 64, 0);
    r.sent_ns = sent_ns;
    r.first_ns = read_ns;
    ++broadcasts_;
  }
  uint64_t& word = r.seen[client / 64];
  const uint64_t bit = uint64_t{1} << (client % 64);
  if (word & bit) {
    ++r.duplicates;
    ++duplicates_;
  } else {
    word |= bit;
    ++r.unique;
    ++unique_;
    if (track_latency_) latency_.record(read_ns - r.sent_ns);
  }
  r.first_ns = std::min(r.first_ns, read_ns);
  r.last_ns = std::max(r.last_ns, read_ns);
}

LatencyHistogram BroadcastTally::takeLatency() {
  LatencyHistogram taken = latency_;
  latency_.reset();
  return taken;
}

std::string BroadcastTally::endRound(std::FILE* report) {
  LatencyHistogram first, last;
  int64_t first_sent = std::numeric_limits<int64_t>::max();
  uint64_t complete = 0;  // broadcasts every local client got
  for (size_t n = 0; n < records_.size(); ++n) {
    const Record& r = records_[n];
    if (r.seen.empty()) continue;
    first_sent = std::min(first_sent, r.sent_ns);
    first.record(r.first_ns - r.sent_ns);
    last.record(r.last_ns - r.sent_ns);
    if (r.unique == clients_) ++complete;
    if (report) {
      std::fprintf(report, "%zu %" PRId64 " %" PRId64 " %" PRId64 " %u %u\n", n, r.sent_ns,
                   r.first_ns, r.last_ns, r.unique, r.duplicates);
    }
  }
  if (first_sent == std::numeric_limits<int64_t>::max()) first_sent = 0;
  // Deliveries per second as this process saw them: from the first send it heard of to its
  // last receipt (the script redoes it over every process of the run).
  const double seconds =
      unique_ > 0 ? static_cast<double>(last_receipt_ns_ - first_sent) / 1e9 : 0.0;
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  char line[768];
  std::snprintf(
      line, sizeof line,
      "receipts=%" PRIu64 " unique=%" PRIu64 " duplicates=%" PRIu64 " broadcasts=%" PRIu64
      " complete=%" PRIu64 " missing=%" PRIu64 " unmatched=%" PRIu64 " out_of_range=%" PRIu64
      " first_sent_ns=%" PRId64 " first_receipt_ns=%" PRId64 " last_receipt_ns=%" PRId64
      " seconds=%.3f deliveries_per_s=%.0f first_p50_ms=%.3f first_p99_ms=%.3f"
      " last_p50_ms=%.3f last_p99_ms=%.3f last_max_ms=%.3f",
      receipts_, unique_, duplicates_, broadcasts_, complete, broadcasts_ * clients_ - unique_,
      unmatched_, out_of_range_, first_sent, first_receipt_ns_, last_receipt_ns_, seconds,
      seconds > 0 ? static_cast<double>(unique_) / seconds : 0.0, ms(first.percentile(0.5)),
      ms(first.percentile(0.99)), ms(last.percentile(0.5)), ms(last.percentile(0.99)),
      ms(last.max()));
  if (report) std::fflush(report);
  records_.clear();
  records_.shrink_to_fit();
  receipts_ = unique_ = duplicates_ = broadcasts_ = unmatched_ = out_of_range_ = 0;
  first_receipt_ns_ = last_receipt_ns_ = 0;
  return line;
}

}  // namespace push::loadgen
