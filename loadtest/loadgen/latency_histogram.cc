#include "loadtest/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

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

}  // namespace push::loadgen
