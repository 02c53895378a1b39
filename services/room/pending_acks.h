#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace push::room {

// The QoS 1 messages written to one connection and not acked yet. An ack is taken only from a
// connection the message was written to: a client must not be able to acknowledge (and so,
// with stored delivery, delete) messages meant for others by guessing their ids.
//
// Bounded: past `capacity` ids the oldest is forgotten; its ack then counts as unknown and the
// message stays stored (it is sent again on reconnect). Acks usually come in order, so the
// search starts at the oldest. Loop-thread only.
class PendingAcks {
 public:
  // Remembers `message_id` (once: a second write of the same message adds nothing).
  void add(uint64_t message_id, size_t capacity);
  // True, and forgets it, when `message_id` was pending here.
  bool take(uint64_t message_id);
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }

 private:
  std::vector<uint64_t> ids_;  // oldest first
};

}  // namespace push::room
