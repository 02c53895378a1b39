#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace push::sdk {

// The ids of the last `capacity` messages received, to suppress duplicates: delivery is at
// least once (a QoS-1 message whose ack was lost comes again), and during a make-before-break
// reconnect the same message may arrive on both connections. Also remembers whether the app
// acked each message, so a duplicate of an acked message can be acked again without being
// delivered again.
//
// Bounded: memory is O(capacity); the oldest id is forgotten when a new one arrives at
// capacity. Not thread-safe (the client uses it on its loop thread).
class DedupWindow {
 public:
  // `capacity` >= 1.
  explicit DedupWindow(size_t capacity);

  // Records `id`. True when it was not in the window (deliver it), false for a duplicate.
  bool insert(uint64_t id);
  bool contains(uint64_t id) const { return seen_.count(id) > 0; }
  // Marks a remembered id as acked (no-op when it was forgotten already).
  void markAcked(uint64_t id);
  // True when `id` is remembered and was marked acked.
  bool acked(uint64_t id) const;
  // Up to `n` of the newest ids, newest first (for Auth.recent_message_ids).
  std::vector<uint64_t> recent(size_t n) const;
  size_t size() const { return seen_.size(); }
  size_t capacity() const { return ring_.size(); }

 private:
  std::vector<uint64_t> ring_;  // insertion order; ring_[next_] is the oldest once full
  size_t next_ = 0;
  size_t count_ = 0;
  std::unordered_map<uint64_t, bool> seen_;  // id -> acked
};

}  // namespace push::sdk
