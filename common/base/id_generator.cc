#include "common/base/id_generator.h"

#include <string>

namespace push {

Result<std::unique_ptr<IdGenerator>> IdGenerator::create(uint32_t node, const Clock& clock) {
  if (node > kMaxNode) {
    return invalidArgument("id node " + std::to_string(node) + " out of range 0.." +
                           std::to_string(kMaxNode));
  }
  return std::make_unique<IdGenerator>(node, clock);
}

IdGenerator::IdGenerator(uint32_t node, const Clock& clock) : node_(node & kMaxNode), clock_(clock) {}

uint64_t IdGenerator::next() {
  int64_t now_ms = clock_.wallMillis() - kEpochMillis;
  if (now_ms < 0) now_ms = 0;
  const uint64_t now_state = static_cast<uint64_t>(now_ms) << kSequenceBits;
  uint64_t old_state = state_.load(std::memory_order_relaxed);
  uint64_t new_state;
  do {
    // Either a fresh millisecond (sequence 0) or one more than the last id, whichever is later:
    // a clock that stepped back keeps counting from the last logical millisecond, and an
    // exhausted sequence carries into the next millisecond.
    new_state = now_state > old_state ? now_state : old_state + 1;
  } while (!state_.compare_exchange_weak(old_state, new_state, std::memory_order_relaxed));
  const uint64_t ms = new_state >> kSequenceBits;
  const uint64_t seq = new_state & ((1u << kSequenceBits) - 1);
  return (ms << (kNodeBits + kSequenceBits)) | (uint64_t{node_} << kSequenceBits) | seq;
}

}  // namespace push
