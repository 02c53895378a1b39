#pragma once

#include "proto/room.pb.h"

namespace push::room {

class AckTracker;
class AppTable;
class ClientProtocol;
class ConnectionTable;
class OfflineReplay;
class Sessions;

// Room.Deliver: writes one message to every connection of each target (user, or one device of
// a user) that is active here. The Push frame is serialized once and shared by all of them;
// each connection gets it with whatever else it has queued this loop turn (one write).
// QoS 1 messages are remembered per connection (PendingAcks), so that only a connection the
// message was written to can ack it, and counted in the AckTracker for /status.
//
// Loop-thread only; the references outlive it.
class Delivery {
 public:
  Delivery(const AppTable& apps, ConnectionTable& table, const Sessions& sessions,
           ClientProtocol& protocol, AckTracker& acks, size_t max_unacked_per_connection)
      : apps_(apps),
        table_(table),
        sessions_(sessions),
        protocol_(protocol),
        acks_(acks),
        max_unacked_(max_unacked_per_connection) {}

  // Fills `response->connections`, one count per target in order (0: none here). A push to
  // a connection whose replay from saver is in flight is held by `replay` and written after
  // it (counted as written here).
  void deliver(const DeliverRequest& request, DeliverResponse* response);
  // With saver (RoomServer::start); null: nothing is held.
  void setReplay(OfflineReplay* replay) { replay_ = replay; }

 private:
  const AppTable& apps_;
  ConnectionTable& table_;
  const Sessions& sessions_;
  ClientProtocol& protocol_;
  AckTracker& acks_;
  const size_t max_unacked_;
  OfflineReplay* replay_ = nullptr;
};

}  // namespace push::room
