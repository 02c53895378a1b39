#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace push {
class JsonWriter;
}

namespace push::room {

// Counts, per recent QoS-1 message, how many connections it was written to here and how many
// acked it. Bounded: the oldest messages are forgotten beyond `capacity` (an ack for a
// forgotten message is counted as unknown). Not thread-safe.
class AckTracker {
 public:
  explicit AckTracker(size_t capacity = 100'000) : capacity_(capacity) {}

  void delivered(uint64_t message_id, uint32_t connections);
  // Returns false when the message is not (or no longer) tracked.
  bool acked(uint64_t message_id);

  struct Counts {
    uint32_t delivered = 0;
    uint32_t acked = 0;
  };
  // Counts of a tracked message; zeros when unknown.
  Counts counts(uint64_t message_id) const;
  size_t tracked() const { return messages_.size(); }
  // {"<id>":{"delivered":n,"acked":m},...} for the newest `limit` messages, as one value.
  void writeRecent(JsonWriter& out, size_t limit) const;
  std::string recentJson(size_t limit) const;

 private:
  size_t capacity_;
  std::unordered_map<uint64_t, Counts> messages_;
  std::deque<uint64_t> order_;  // insertion order, for eviction
};

}  // namespace push::room
