#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/http/websocket.h"
#include "common/net/conn_id.h"
#include "services/room/ip_filter.h"
#include "services/room/pending_acks.h"

namespace push::net {
class TcpConnection;
}

namespace push::room {

// Largest number of apps one connection may carry (a compile-time bound keeps the
// per-connection state fixed-size).
constexpr uint32_t kMaxAppsPerConnection = 8;
// Largest value of the max_tags_per_connection option (tags per connection per app).
constexpr uint32_t kMaxTagsPerConnection = 4096;

// Where a client connection is in the protocol (sdk/PROTOCOL.md 3).
enum class ConnState : uint8_t {
  WsHandshake,     // WebSocket: the HTTP upgrade has not completed
  Authenticating,  // connected, no Auth accepted yet (auth deadline running)
  Active,          // authenticated: carries sessions, heartbeat deadline running
  Closing,         // an Error/Kick was written: input ignored, closing after a grace
};

// The room's state of one client connection, next to its net::TcpConnection. About 170 bytes;
// an idle connection owns nothing else (no buffers, no timer: the room's timing wheel keeps
// one entry per connection, re-armed lazily).
//
// Lives in a ConnectionTable slot (never moves while in use) and is named elsewhere by its
// ConnId. Loop-thread only.
struct ClientConn {
  net::TcpConnection* tcp = nullptr;                 // valid while in_use
  std::unique_ptr<http::WebSocketServerSession> ws;  // WebSocket connections only
  // QoS 1 pushes written here and not acked yet; null when there are none.
  std::unique_ptr<PendingAcks> pending_acks;
  std::string user;
  std::string device;
  IpFilter::Key peer{};      // the IpFilter's key of the client address (17 bytes, not 128)
  int64_t since_ms = 0;      // wall clock at auth
  int64_t last_seen_ms = 0;  // loop clock: accept time, then last frame
  int64_t close_at_ms = 0;   // close at this loop time (after an error, or when draining)
  int64_t wheel_ms = 0;      // deadline of this connection's entry in the wheel; 0: none
  uint32_t generation = 0;   // of its slot: part of the ConnId
  uint16_t heartbeat_s = 0;
  uint8_t app_count = 0;
  ConnState state = ConnState::Authenticating;
  bool in_use = false;
  bool ip_counted = false;                    // the IpFilter counted it (release on close)
  uint16_t apps[kMaxAppsPerConnection] = {};  // AppTable indexes; the first is the Auth app

  bool hasApp(uint16_t app) const {
    for (uint8_t i = 0; i < app_count; ++i) {
      if (apps[i] == app) return true;
    }
    return false;
  }
};

}  // namespace push::room
