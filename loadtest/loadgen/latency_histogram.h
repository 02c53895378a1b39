#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace push::loadgen {

// Fixed-size log-linear histogram of non-negative values (nanoseconds here), HdrHistogram's
// idea in ~30 KB: exact below 128, then 64 sub-buckets per power of two (relative error under
// 1.6%). Recording is O(1) and allocation-free, so a long run stays bounded in memory.
class LatencyHistogram {
 public:
  void record(int64_t value);
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
  }
  // The value at quantile q in [0, 1] (the middle of its bucket); 0 when empty.
  int64_t percentile(double q) const;
  void reset() { *this = LatencyHistogram(); }
  // Adds every value of `other`.
  void merge(const LatencyHistogram& other);

  // A compact text form for passing a histogram between processes (push-load workers to
  // push-loadtest): "<max>;<bucket>:<count>,..." with only the non-empty buckets, "" when
  // empty. mergeEncoded() adds such a text; false (and nothing added) when it is malformed.
  std::string encode() const;
  bool mergeEncoded(std::string_view text);

 private:
  static constexpr int kSubBits = 7;              // 128 exact values, then 64 per octave
  static constexpr int kBuckets = 128 + 57 * 64;  // covers every int64
  static size_t bucketOf(uint64_t value);
  static int64_t valueOf(size_t bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
  int64_t sum_ = 0;
};

}  // namespace push::loadgen
