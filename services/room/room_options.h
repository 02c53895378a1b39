#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/websocket.h"
#include "common/net/tcp_connection.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "services/common/discovery_link.h"
#include "services/register/register_client.h"
#include "services/room/app_table.h"
#include "services/room/client_conn.h"
#include "services/room/ip_filter.h"
#include "services/room/sessions.h"

namespace push::config {
class RoomConfig;
}

namespace push::room {

// Everything a room instance needs, built from RoomConfig (fromConfig) or in code (tests).
// proto/config.proto documents each field's meaning, unit, default and range.
struct RoomOptions {
  std::string name = "room";
  std::string tcp_address = "127.0.0.1:7100";
  std::string ws_address;  // empty: no WebSocket listener
  bool reuse_port = false;
  rpc::Server::Options rpc;   // rpc.address: the room's RPC listener
  std::string advertise_rpc;  // empty: the bound RPC address
  std::string admin_address;  // empty: no admin HTTP
  // The static apps. Empty with discovery enabled: the room serves the apps of ZooKeeper
  // apps/<app> and follows them live (RoomServer, AppTable::apply). Empty without discovery:
  // refused (fromConfig, RoomServer::create).
  std::vector<AppSecret> apps;
  uint32_t max_frame_bytes = 64 * 1024;
  std::chrono::milliseconds auth_timeout{10'000};
  // Heartbeat proposed by network type, seconds, clamped to [min, max].
  uint32_t heartbeat_wifi_s = 60, heartbeat_cellular_s = 180, heartbeat_unknown_s = 90;
  uint32_t heartbeat_min_s = 5, heartbeat_max_s = 600;
  struct HeartbeatHints {
    uint32_t wifi_s, cellular_s, unknown_s, min_s, max_s;
  };
  HeartbeatHints heartbeats() const {
    return {heartbeat_wifi_s, heartbeat_cellular_s, heartbeat_unknown_s, heartbeat_min_s,
            heartbeat_max_s};
  }
  // A live config (ZooKeeper config/room) over `base`: the heartbeat fields `live` sets, range
  // checked (INVALID_ARGUMENT naming the field, or min_s above max_s). The rest of `live` is not
  // reloadable here and is ignored (its log block is applied by the DiscoveryLink).
  static Result<HeartbeatHints> liveHeartbeats(const config::RoomConfig& live,
                                               const ConfigFile* file, HeartbeatHints base);
  net::TcpConnection::Limits limits;
  IpFilter::Options ip_filter;
  uint32_t max_apps_per_connection = 8;
  // Tags one connection may subscribe to per app (sdk/PROTOCOL.md "Tags"), 1..4096.
  uint32_t max_tags_per_connection = 64;
  Sessions::Limits session_limits;
  uint32_t max_unacked_per_connection = 256;
  std::chrono::milliseconds drain_window{10'000};
  std::chrono::milliseconds drain_deadline{30'000};
  std::chrono::milliseconds register_heartbeat{2'000};
  // Broadcast consumption (BroadcastConsumer): queued TCP and nsqlookupd HTTP addresses; both
  // empty: this room receives no broadcasts.
  std::vector<std::string> queued;
  std::vector<std::string> queued_lookupd;
  std::chrono::milliseconds queued_lookup_interval{15'000};
  // Deliveries per second (BroadcastPacer) and broadcasts held per app.
  uint32_t broadcast_rate_per_s = 4'000'000;
  uint32_t broadcast_max_in_flight = 256;
  // Absent: no register (a room alone, for tests).
  std::optional<reg::RegisterClient::Options> register_client;
  // Saver (issue 16): acks forwarded (AckForwarder), stored messages and missed broadcasts
  // replayed at auth (OfflineReplay). Absent: neither, the room behaves as before saver.
  struct Saver {
    std::vector<std::string> addresses;  // "host:port", at least one unless discover
    bool discover = false;               // endpoints from ZooKeeper services/saver instead
    rpc::Channel::Options channel;
    std::chrono::milliseconds timeout{2'000};  // one saver call
    uint32_t ack_batch_max = 1'000;            // ids per Ack call
    std::chrono::milliseconds ack_batch_interval{10};
    uint32_t ack_backlog_max = 100'000;    // acks waiting for saver; over it the oldest go
    uint32_t replay_max_messages = 1'000;  // stored messages replayed per auth, oldest first
    uint32_t replay_page = 100;            // Load limit per call
    std::chrono::milliseconds replay_timeout{2'000};  // live pushes held at most this long
    uint32_t replay_hold_max = 256;                   // and at most this many per connection
  };
  std::optional<Saver> saver;
  // ZooKeeper: registers this room as services/room (endpoints rpc, tcp, ws, admin; load =
  // connections / capacity) and, with saver.discover (coordinator.discover), finds saver
  // (coordinator) there. Off by default.
  service::DiscoveryOptions discovery;
  // Coordinator (issue 17): Upstream frames forwarded to the apps' webhooks and session
  // events sent (UpstreamForwarder). Absent: Upstream is answered ERROR_UNAVAILABLE.
  struct Coordinator {
    std::vector<std::string> addresses;  // "host:port", at least one unless discover
    bool discover = false;               // endpoints from ZooKeeper services/coordinator instead
    rpc::Channel::Options channel;
    std::chrono::milliseconds timeout{15'000};  // one Upstream or Events call
    uint32_t batch_max = 100;                   // frames per Upstream call
    std::chrono::milliseconds batch_interval{5};
    uint32_t max_pending_per_connection = 64;  // frames waiting for their answer
    uint32_t max_pending = 100'000;            // ... in the whole room
    uint32_t event_backlog_max = 100'000;      // events waiting; over it the oldest go
    // At stop, how long the events still queued (the offline events of the connections the
    // stop closed) get to reach the coordinator (UpstreamForwarder::flushEvents).
    std::chrono::milliseconds stop_flush{2'000};
  };
  std::optional<Coordinator> coordinator;
  http::WebSocketServerSession::Options websocket;

  // Fails with the field name (and file:line when `file` is given) on bad values.
  static Result<RoomOptions> fromConfig(const config::RoomConfig& config, const ConfigFile* file);
};

}  // namespace push::room
