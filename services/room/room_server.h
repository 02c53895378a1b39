#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/http/websocket.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_connection.h"
#include "proto/client.pb.h"
#include "proto/room.pb.h"
#include "services/room/ack_tracker.h"
#include "services/room/ip_filter.h"
#include "services/room/room_options.h"

namespace push::net {
class EventLoop;
class LoopWheel;
class PeriodicTimer;
class TcpServer;
}  // namespace push::net
namespace push::rpc {
class Server;
}
namespace push::http {
class HttpServer;
}
namespace push::reg {
class RegisterClient;
}

namespace push::room {

class RoomRpcService;

// One room instance: the client listeners (TCP with length-prefixed frames, and WebSocket on
// /ws), every client connection and its session state, the Room RPC service, the admin HTTP
// port, and the session announcements to register.
//
// Per connection the room keeps a ClientConn (~150 bytes) next to the TcpConnection; idle
// connections have no buffers and no timers: one timing wheel per room holds a single entry
// per connection, re-armed lazily (auth deadline, then 2.5 heartbeat intervals of silence,
// then the close deadline while draining).
//
// Ownership: create(), start(); stop(done) closes everything and runs `done` once every
// connection, listener and timer is closed; destroy the RoomServer after that. Loop-thread
// only.
class RoomServer final : private net::TcpConnection::Handler,
                         private http::WebSocketServerSession::Sink {
 public:
  static Result<std::unique_ptr<RoomServer>> create(net::EventLoop& loop, RoomOptions options);
  ~RoomServer();

  Status start();
  // Starts draining (DESIGN.md 2): listeners close, every client gets Reconnect with a delay
  // spread over `window`, connections still open at their delay + grace (or at `deadline`)
  // are closed; `on_drained` runs once no connection is left. Idempotent.
  void drain(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
             std::function<void()> on_drained);
  void stop(std::function<void()> done);
  // Runs when a drain started by RPC (or drain() without a callback) completes.
  void setOnDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  const std::string& roomId() const { return room_id_; }
  const net::InetAddress& tcpAddress() const { return tcp_address_; }
  const net::InetAddress& wsAddress() const { return ws_address_; }
  const net::InetAddress& rpcAddress() const { return rpc_address_; }
  const net::InetAddress& adminAddress() const { return admin_address_; }
  size_t connectionCount() const { return live_connections_; }
  size_t sessionCount() const { return sessions_; }
  bool draining() const { return draining_; }
  std::string statusJson() const;

  // Room RPC (RoomRpcService forwards here).
  void deliver(const DeliverRequest& request, DeliverResponse* response);
  uint32_t kick(const std::string& app, const std::string& user, const std::string& device,
                const std::string& reason);
  uint32_t drainFromRpc(uint32_t window_ms, uint32_t deadline_ms);
  Status listSessions(const ListSessionsRequest& request, ListSessionsResponse* response) const;

 private:
  enum class State : uint8_t { WsHandshake, Authenticating, Active, Closing };
  struct ClientConn;
  RoomServer(net::EventLoop& loop, RoomOptions options);

  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  // http::WebSocketServerSession::Sink
  void onWsMessage(const char* data, size_t len, bool binary) override;
  void onWsOpen() override;

  void onAccept(net::TcpConnection& conn, bool websocket);
  void onFrame(ClientConn& c, const char* data, size_t len);
  void onAuth(ClientConn& c, const client::Auth& auth);
  void onBind(ClientConn& c, const client::Bind& bind);
  void onUnbind(ClientConn& c, const client::Unbind& unbind);
  void onAck(ClientConn& c, const client::Ack& ack);
  void onUpstream(ClientConn& c, const client::Upstream& up);
  bool sendFrame(ClientConn& c, const client::Frame& frame);
  bool sendEncoded(ClientConn& c, std::string_view frame_bytes);
  void fail(ClientConn& c, client::ErrorCode code, std::string message);
  void closeAfterError(ClientConn& c);
  int findApp(std::string_view name) const;
  bool hasApp(const ClientConn& c, uint16_t app) const;
  void indexAdd(uint16_t app, const ClientConn& c);
  void indexRemove(uint16_t app, const ClientConn& c);
  static std::string userKey(uint16_t app, std::string_view user);
  void announceOnline(const ClientConn& c, uint16_t app);
  void announceOffline(const ClientConn& c, uint16_t app);
  ClientConn* lookup(uint64_t conn_id);
  int64_t deadlineOf(const ClientConn& c) const;
  void arm(ClientConn& c);
  void onWheel(uint64_t conn_id);
  void registerHeartbeat();
  void maybeFinishDrain();
  void maybeFinishStop();
  uint32_t heartbeatFor(client::NetworkType network) const;

  net::EventLoop& loop_;
  RoomOptions options_;
  std::string room_id_;
  std::string advertised_rpc_;
  IpFilter ip_filter_;

  // Connection table: stable ClientConn slots (deque) addressed by ConnId =
  // generation << 32 | slot; a stale id finds nothing.
  std::deque<ClientConn> conns_;
  std::vector<uint32_t> free_slots_;
  size_t live_connections_ = 0;
  size_t sessions_ = 0;  // (connection, app) pairs that are online

  // (app index, user) -> connection ids of that user here.
  std::unordered_map<std::string, std::vector<uint64_t>> users_;

  AckTracker acks_;
  client::Frame scratch_frame_;  // parsing reuses its memory

  net::TcpServer* tcp_listener_ = nullptr;
  net::TcpServer* ws_listener_ = nullptr;
  rpc::Server* rpc_server_ = nullptr;
  std::unique_ptr<RoomRpcService> rpc_service_;
  http::HttpServer* admin_ = nullptr;
  net::LoopWheel* wheel_ = nullptr;
  net::PeriodicTimer* housekeeping_ = nullptr;  // IP filter sweep, register heartbeat
  std::unique_ptr<reg::RegisterClient> register_;
  bool resync_needed_ = false;
  int64_t last_register_heartbeat_ms_ = 0;

  net::InetAddress tcp_address_, ws_address_, rpc_address_, admin_address_;
  ClientConn* current_ws_ = nullptr;  // the connection whose WebSocket input is being decoded

  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;
  std::function<void()> on_drained_;
  bool stopping_ = false;
  bool rpc_stopped_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace push::room
