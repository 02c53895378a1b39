#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/base/clock.h"
#include "common/base/result.h"

namespace push {

// 64-bit ids: | 0 | 41 bits milliseconds since 2024-01-01 UTC | 10 bits node | 12 bits sequence |
// Unique across nodes (distinct node numbers), strictly increasing within one generator, and
// still so when the wall clock steps back: the generator keeps its own logical millisecond,
// which never goes back, and borrows from the future when 4096 ids are taken in one
// millisecond. Ids sort by creation time across nodes to within clock skew.
// Thread-safe (one atomic compare-and-swap per id).
class IdGenerator {
 public:
  static constexpr int kNodeBits = 10;
  static constexpr int kSequenceBits = 12;
  static constexpr uint32_t kMaxNode = (1u << kNodeBits) - 1;
  static constexpr int64_t kEpochMillis = 1704067200000;  // 2024-01-01T00:00:00Z

  // `node` must be <= kMaxNode (1023); `clock` must outlive the generator.
  static Result<std::unique_ptr<IdGenerator>> create(uint32_t node, const Clock& clock = Clock::system());
  IdGenerator(uint32_t node, const Clock& clock);

  uint64_t next();

  // Parts of an id, for logs and tools.
  static int64_t wallMillisOf(uint64_t id) { return (id >> 22) + kEpochMillis; }
  static uint32_t nodeOf(uint64_t id) { return (id >> kSequenceBits) & kMaxNode; }
  static uint32_t sequenceOf(uint64_t id) { return id & ((1u << kSequenceBits) - 1); }

 private:
  const uint32_t node_;
  const Clock& clock_;
  // (logical ms since epoch) << kSequenceBits | sequence.
  std::atomic<uint64_t> state_{0};
};

}  // namespace push
