#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/http/websocket.h"
#include "common/net/conn_id.h"
#include "common/net/tcp_connection.h"
#include "proto/client.pb.h"
#include "services/room/connection_deadlines.h"
#include "services/room/room_options.h"

namespace push::net {
class EventLoop;
}

namespace push::room {

class AckForwarder;
class AckTracker;
class AppTable;
class BroadcastConsumer;
class ConnectionTable;
class OfflineReplay;
class IpFilter;
class Sessions;
class TagIndex;
class UpstreamForwarder;
struct ClientConn;
struct RoomOptions;

// The client protocol of a room (sdk/PROTOCOL.md): admission at accept, TCP framing and
// WebSocket messages, Auth, Ping, Ack, Upstream, Bind, Unbind, Subscribe/Unsubscribe (tags,
// client_tags.cc), and how connections end (Error
// or Kick frame then close, heartbeat and auth deadlines). It is the TcpConnection::Handler of
// every client connection; the state it keeps is in the ConnectionTable.
//
// Refusals at accept (deny list, per-IP caps, connect rate) get their Error frame and are
// closed as soon as it is written (closeAfterWrite), never left lingering for the peer's FIN.
// After any other Error or a Kick the connection leaves its sessions at once and closes when
// the client closes or `kCloseGraceMs` later.
//
// Loop-thread only. Owned by RoomServer; every reference in Context outlives it.
class ClientProtocol final : private net::TcpConnection::Handler,
                             private http::WebSocketServerSession::Sink {
 public:
  struct Context {
    net::EventLoop& loop;
    const RoomOptions& options;
    const std::string& room_id;
    const AppTable& apps;
    ConnectionTable& table;
    Sessions& sessions;
    IpFilter& ip_filter;
    AckTracker& acks;
    TagIndex& tags;
  };
  // How long a connection that got an Error or Kick frame may take to read it and close.
  static constexpr int64_t kCloseGraceMs = 5'000;

  explicit ClientProtocol(Context context);
  ~ClientProtocol();

  // Starts the deadline wheel; before the listeners accept.
  void start();
  // Stops refusing nothing and closing nothing: the wheel closes. Call once no connection is
  // left (RoomServer::stop).
  void stop();
  // Refuse new connections and new sessions (a drain or a stop has begun).
  void setDraining(bool draining) { draining_ = draining; }
  // Runs after every connection that closed (RoomServer finishes a drain or a stop with it).
  void setOnConnectionClosed(std::function<void()> fn) { on_closed_ = std::move(fn); }
  // With saver (RoomServer::start): accepted acks go to `forwarder`, and every Auth and Bind
  // starts a replay. Null (the default): neither. They must outlive their use here.
  void setSaver(AckForwarder* forwarder, OfflineReplay* replay) {
    forwarder_ = forwarder;
    replay_ = replay;
  }
  // With a coordinator (RoomServer::start): Upstream frames go to `upstream`. Null (the
  // default): they are answered ERROR_UNAVAILABLE. It must outlive its use here.
  void setUpstream(UpstreamForwarder* upstream) { upstream_ = upstream; }
  // With queued: AuthResult and BindResult carry the app's latest broadcast sequence.
  void setBroadcasts(const BroadcastConsumer* broadcasts) { broadcasts_ = broadcasts; }

  // A connection accepted on the TCP listener, or on the WebSocket one.
  void accept(net::TcpConnection& conn, bool websocket);

  // Writes a frame (serialized here) or an already-serialized frame to `c`: false when the
  // connection is closing or the output is over its hard limit (it is then closing).
  bool sendFrame(ClientConn& c, const client::Frame& frame);
  bool sendEncoded(ClientConn& c, std::string_view frame_bytes);
  // Plain TCP connections only (not WebSocket): bytes already in the TCP wire form, any number
  // of length-prefixed frames back to back (a broadcast pass encodes them once for everyone).
  bool sendFramed(ClientConn& c, std::string_view length_prefixed_frames);
  // Error frame, then closeAfterError().
  void fail(ClientConn& c, client::ErrorCode code, std::string message);
  // Kick frame with `reason`, then closeAfterError().
  void kick(ClientConn& c, std::string_view reason);
  // Leaves every session now (register hears at once), then closes once the client has closed
  // or kCloseGraceMs later. Idempotent.
  void closeAfterError(ClientConn& c);
  // Closes `c` at loop time `at_ms` unless it leaves before (a drain's Reconnect).
  void closeAt(ClientConn& c, int64_t at_ms);

  // Live config: the hints given to connections authenticating from now on.
  void setHeartbeats(const RoomOptions::HeartbeatHints& hints) { heartbeats_ = hints; }
  const RoomOptions::HeartbeatHints& heartbeats() const { return heartbeats_; }

  // Apps from ZooKeeper (RoomServer): until the first list has arrived, Auth frames are held
  // (the auth deadline still runs) rather than refused ERROR_UNKNOWN_APP, which would stop the
  // SDK for good. setHoldAuth(false) answers the held ones, in arrival order per connection
  // id. At most kMaxHeldAuths are held; more are refused ERROR_DRAINING (reconnect).
  static constexpr size_t kMaxHeldAuths = 10'000;
  void setHoldAuth(bool hold);
  size_t heldAuths() const { return held_auths_.size(); }

 private:
  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  // http::WebSocketServerSession::Sink
  void onWsMessage(const char* data, size_t len, bool binary) override;
  void onWsOpen() override;

  void refuse(ClientConn& c, client::ErrorCode code, const char* why);
  void onFrame(ClientConn& c, const char* data, size_t len);
  void onAuth(ClientConn& c, const client::Auth& auth);
  void onBind(ClientConn& c, const client::Bind& bind);
  void onUnbind(ClientConn& c, const client::Unbind& unbind);
  void onAck(ClientConn& c, const client::Ack& ack);
  void onUpstream(ClientConn& c, const client::Upstream& up);
  // Subscribe and Unsubscribe (client_tags.cc): both answered by a SubscribeResult.
  void onTags(ClientConn& c, uint64_t seq, const std::string& app,
              const google::protobuf::RepeatedPtrField<std::string>& tags, bool subscribe);
  // Applies the per-user and per-device caps before `c` opens a session of `app`: false (and
  // `why` set) when `c` is refused; otherwise older connections may have been kicked.
  bool makeRoom(ClientConn& c, uint16_t app, std::string* why);
  void onDeadline(ClientConn& c, int64_t now_ms);
  uint32_t heartbeatFor(client::NetworkType network) const;

  Context ctx_;
  RoomOptions::HeartbeatHints heartbeats_;
  ConnectionDeadlines deadlines_;
  client::Frame scratch_frame_;       // parsing reuses its memory
  ClientConn* current_ws_ = nullptr;  // the connection whose WebSocket input is being decoded
  bool draining_ = false;
  std::function<void()> on_closed_;
  AckForwarder* forwarder_ = nullptr;
  OfflineReplay* replay_ = nullptr;
  const BroadcastConsumer* broadcasts_ = nullptr;
  UpstreamForwarder* upstream_ = nullptr;
  bool hold_auth_ = false;
  // Held Auth frames by connection id; a connection that closed meanwhile is skipped (its id
  // finds nothing).
  std::map<net::ConnId, client::Auth> held_auths_;
};

}  // namespace push::room
