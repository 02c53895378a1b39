#include "services/room/delivery.h"

#include <memory>

#include "proto/client.pb.h"
#include "services/room/ack_tracker.h"
#include "services/room/app_table.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/offline_replay.h"
#include "services/room/room_metrics.h"
#include "services/room/sessions.h"

namespace push::room {

void Delivery::deliver(const DeliverRequest& request, DeliverResponse* response) {
  const Message& msg = request.message();
  const int app = apps_.find(msg.app());
  client::Frame frame;
  auto* push = frame.mutable_push();
  push->set_message_id(msg.id());
  push->set_app(msg.app());
  push->set_payload(msg.payload());
  push->set_qos(msg.qos());
  push->set_created_ms(static_cast<uint64_t>(msg.created_ms()));
  const std::string bytes = frame.SerializeAsString();  // once, for every connection
  uint32_t total = 0;
  for (const DeliverTarget& t : request.targets()) {
    uint32_t written = 0;
    if (app >= 0) {
      for (net::ConnId id : sessions_.connectionsOf(static_cast<uint16_t>(app), t.user())) {
        ClientConn* c = table_.find(id);
        if (!c || c->state != ConnState::Active) continue;
        if (!t.device().empty() && c->device != t.device()) continue;
        if (replay_ &&
            replay_->holdIfReplaying(*c, msg.id(), static_cast<uint16_t>(app), msg.qos(), bytes)) {
          ++written;  // after the replay (which adds it to PendingAcks then)
          continue;
        }
        if (!protocol_.sendEncoded(*c, bytes)) continue;
        ++written;
        if (msg.qos() > 0) {
          if (!c->pending_acks) c->pending_acks = std::make_unique<PendingAcks>();
          c->pending_acks->add(msg.id(), max_unacked_, static_cast<uint16_t>(app));
        }
      }
    }
    response->add_connections(written);
    total += written;
  }
  roomMetrics().pushes.inc(total);
  if (msg.qos() > 0 && total > 0) acks_.delivered(msg.id(), total);
}

}  // namespace push::room
