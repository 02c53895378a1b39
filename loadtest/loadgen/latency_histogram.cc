#include "loadtest/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <vector>

namespace push::loadgen {

size_t LatencyHistogram::bucketOf(uint64_t value) {
  if (value < (1u << kSubBits)) return static_cast<size_t>(value);
  const int top = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = top - (kSubBits - 1);        // value >> shift is in [64, 128)
  return 128 + static_cast<size_t>(shift - 1) * 64 + static_cast<size_t>((value >> shift) - 64);
}

int64_t LatencyHistogram::valueOf(size_t bucket) {
  if (bucket < 128) return static_cast<int64_t>(bucket);
  const int shift = static_cast<int>((bucket - 128) / 64) + 1;
  const uint64_t mantissa = 64 + (bucket - 128) % 64;
  const uint64_t low = mantissa << shift;
  return static_cast<int64_t>(low + (uint64_t{1} << shift) / 2);
}

void LatencyHistogram::record(int64_t value) {
  if (value < 0) value = 0;
  ++counts_[bucketOf(static_cast<uint64_t>(value))];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
}

int64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) return std::min(valueOf(b), max_);
  }
  return max_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t b = 0; b < counts_.size(); ++b)
    counts_[b] += other.counts_[b];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

std::string LatencyHistogram::encode() const {
  if (count_ == 0) return {};
  std::string out = std::to_string(max_) + ";";
  bool first = true;
  for (size_t b = 0; b < counts_.size(); ++b) {
    if (counts_[b] == 0) continue;
    if (!first) out += ',';
    first = false;
    out += std::to_string(b);
    out += ':';
    out += std::to_string(counts_[b]);
  }
  return out;
}

bool LatencyHistogram::mergeEncoded(std::string_view text) {
  if (text.empty()) return true;
  auto number = [](std::string_view& in, uint64_t* value) {
    const auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), *value);
    if (ec != std::errc() || end == in.data()) return false;
    in.remove_prefix(static_cast<size_t>(end - in.data()));
    return true;
  };
  uint64_t max = 0;
  if (!number(text, &max) || text.empty() || text.front() != ';') return false;
  text.remove_prefix(1);
  std::vector<std::pair<size_t, uint64_t>> buckets;
  while (!text.empty()) {
    uint64_t bucket = 0, count = 0;
    if (!number(text, &bucket) || text.empty() || text.front() != ':') return false;
    text.remove_prefix(1);
    if (!number(text, &count) || bucket >= counts_.size() || count == 0) return false;
    buckets.emplace_back(static_cast<size_t>(bucket), count);
    if (!text.empty()) {
      if (text.front() != ',') return false;
      text.remove_prefix(1);
      if (text.empty()) return false;
    }
  }
  if (buckets.empty() || max > static_cast<uint64_t>(INT64_MAX)) return false;
  for (const auto& [bucket, count] : buckets) {
    counts_[bucket] += count;
    count_ += count;
    // The bucket's middle (the sum is for the mean: within the buckets' 1.6%).
    sum_ += static_cast<int64_t>(count) * std::min(valueOf(bucket), static_cast<int64_t>(max));
  }
  max_ = std::max(max_, static_cast<int64_t>(max));
  return true;
}

}  // namespace push::loadgen
