#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace push::room {

// The QoS 1 messages written to one connection and not acked yet, each with the app (AppTable
// index) it was written for. An ack is taken only from a connection the message was written
// to: a client must not be able to acknowledge (and so, with stored delivery, delete) messages
// meant for others by guessing their ids. The app says in whose inbox the accepted ack is
// removed (AckForwarder: saver stores per (app, user)).
//
// Bounded: past `capacity` ids the oldest is forgotten; its ack then counts as unknown and the
// message stays stored (it is sent again on reconnect). Acks usually come in order, so the
// search starts at the oldest. Loop-thread only.
class PendingAcks {
 public:
  // Remembers `message_id` of `app` (once: a second write of the same message adds nothing).
  void add(uint64_t message_id, size_t capacity, uint16_t app = 0);
  // True, and forgets it, when `message_id` was pending here; `app` (when given) is set to
  // the app it was written for.
  bool take(uint64_t message_id, uint16_t* app = nullptr);
  bool contains(uint64_t message_id) const;
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }

 private:
  struct Entry {
    uint64_t id;
    uint16_t app;
  };
  std::vector<Entry> ids_;  // oldest first
};

}  // namespace push::room
