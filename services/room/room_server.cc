#include "services/room/room_server.h"

#include <unistd.h>

#include <algorithm>

#include "common/auth/token.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/admin.h"
#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/loop_wheel.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_server.h"
#include "common/rpc/server.h"
#include "services/register/register_client.h"
#include "services/register/slot_map.h"
#include "services/room/room_rpc_service.h"

namespace push::room {

namespace {

constexpr int64_t kWheelTickMs = 100;
constexpr size_t kWheelSlots = 4096;           // ~410 s per turn
constexpr int64_t kCloseGraceMs = 5'000;       // for an error or Kick frame to be read
constexpr int64_t kDrainCloseGraceMs = 5'000;  // after the Reconnect delay

struct RoomMetrics {
  metrics::Registry& r = metrics::Registry::global();
  metrics::Counter& accepted =
      r.counter("push_room_connections_total", "Client connections accepted.");
  metrics::Counter& refused = r.counter("push_room_connections_refused_total",
                                        "Client connections refused by address, rate or drain.");
  metrics::Counter& auth_ok =
      r.counter("push_room_auth_total", "Authentications.", R"(result="ok")");
  metrics::Counter& auth_failed =
      r.counter("push_room_auth_total", "Authentications.", R"(result="failed")");
  metrics::Counter& auth_timeout = r.counter("push_room_auth_timeouts_total",
                                             "Connections closed for not authenticating in time.");
  metrics::Counter& heartbeat_timeout =
      r.counter("push_room_heartbeat_timeouts_total",
                "Connections closed after 2.5 silent heartbeat intervals.");
  metrics::Counter& bad_frames = r.counter("push_room_bad_frames_total",
                                           "Connections closed for malformed or oversized frames.");
  metrics::Counter& pushes =
      r.counter("push_room_pushes_written_total", "Push frames written to clients.");
  metrics::Counter& acks = r.counter("push_room_acks_total", "Message acks from clients.");
  metrics::Counter& unknown_acks = r.counter(
      "push_room_acks_unknown_total", "Acks for messages this room did not (or no longer) track.");
  metrics::Counter& kicks = r.counter("push_room_kicks_total", "Sessions kicked.");
  metrics::Counter& pings = r.counter("push_room_pings_total", "Heartbeat pings.");
};
RoomMetrics& roomMetrics() {
  static RoomMetrics* m = new RoomMetrics();
  return *m;
}

int64_t wallMs() {
  return Clock::system().wallMillis();
}

}  // namespace

struct RoomServer::ClientConn {
  net::TcpConnection* tcp = nullptr;
  std::unique_ptr<http::WebSocketServerSession> ws;
  std::string user;
  std::string device;
  IpFilter::Key peer{};      // compact client address (a sockaddr_storage would be 128 bytes)
  int64_t since_ms = 0;      // wall clock at auth
  int64_t last_seen_ms = 0;  // loop clock: accept time, then last frame
  int64_t close_at_ms = 0;   // close at this loop time (after an error, or when draining)
  int64_t wheel_ms = 0;      // deadline of this connection's entry in the wheel; 0: none
  uint32_t generation = 0;
  uint16_t heartbeat_s = 0;
  uint8_t app_count = 0;
  State state = State::Authenticating;
  bool in_use = false;
  bool ip_counted = false;
  uint16_t apps[kMaxAppsPerConnection] = {};

  uint64_t id(size_t slot) const { return (uint64_t{generation} << 32) | slot; }
};

Result<std::unique_ptr<RoomServer>> RoomServer::create(net::EventLoop& loop, RoomOptions options) {
  if (options.apps.empty()) return invalidArgument("room: no apps configured");
  if (options.max_apps_per_connection > kMaxAppsPerConnection) {
    return invalidArgument("room: max_apps_per_connection over " +
                           std::to_string(kMaxAppsPerConnection));
  }
  if (options.apps.size() > 65535) return invalidArgument("room: too many apps");
  auto filter = IpFilter::create(options.ip_filter);
  if (!filter.isOk()) return filter.status();
  std::unique_ptr<RoomServer> room(new RoomServer(loop, std::move(options)));
  room->ip_filter_ = std::move(filter).value();
  return room;
}

RoomServer::RoomServer(net::EventLoop& loop, RoomOptions options)
    : loop_(loop), options_(std::move(options)), ip_filter_(*IpFilter::create({})) {
  room_id_ = options_.name + "-" + std::to_string(::getpid()) + "-" + std::to_string(wallMs());
  options_.limits.max_input =
      std::max<uint32_t>(options_.limits.max_input, options_.max_frame_bytes + 64);
  (void)roomMetrics();
}

RoomServer::~RoomServer() {
  // stop() must have completed: no connection may still call back into this object.
  if (live_connections_ > 0) {
    LOG_ERROR(Room, "room {} destroyed with {} connections open", room_id_, live_connections_);
  }
}

Status RoomServer::start() {
  loop_.assertInLoopThread();
  net::TcpServer::Options tcp;
  tcp.address = options_.tcp_address;
  tcp.reuse_port = options_.reuse_port;
  ASSIGN_OR_RETURN(tcp_listener_, net::TcpServer::listen(loop_, tcp, [this](net::TcpConnection& c) {
                     onAccept(c, false);
                   }));
  tcp_address_ = tcp_listener_->address();
  if (!options_.ws_address.empty()) {
    net::TcpServer::Options ws;
    ws.address = options_.ws_address;
    ws.reuse_port = options_.reuse_port;
    ASSIGN_OR_RETURN(ws_listener_, net::TcpServer::listen(loop_, ws, [this](net::TcpConnection& c) {
                       onAccept(c, true);
                     }));
    ws_address_ = ws_listener_->address();
  }
  rpc_server_ = rpc::Server::create(loop_, options_.rpc);
  rpc_service_ = std::make_unique<RoomRpcService>(*this);
  RETURN_IF_ERROR(rpc_server_->addService(rpc_service_.get()));
  RETURN_IF_ERROR(rpc_server_->start());
  rpc_address_ = rpc_server_->address();
  advertised_rpc_ =
      options_.advertise_rpc.empty() ? rpc_address_.toString() : options_.advertise_rpc;
  if (!options_.admin_address.empty()) {
    http::Router router;
    http::mountAdmin(
        router,
        {.health =
             [this] { return draining_ ? Status(Code::UNAVAILABLE, "draining") : Status::ok(); },
         .status_json = [this] { return statusJson(); }});
    http::HttpServer::Options ho;
    ho.address = options_.admin_address;
    ASSIGN_OR_RETURN(admin_, http::HttpServer::listen(loop_, ho, std::move(router)));
    admin_address_ = admin_->address();
  }
  wheel_ = net::LoopWheel::create(loop_, kWheelTickMs, kWheelSlots,
                                  [this](uint64_t id) { onWheel(id); });
  if (options_.register_client) {
    ASSIGN_OR_RETURN(register_, reg::RegisterClient::create(loop_, *options_.register_client));
    register_->setOnBatchFailed([this](size_t, const Status&) { resync_needed_ = true; });
  }
  housekeeping_ = net::PeriodicTimer::create(loop_, [this] {
    ip_filter_.sweep(loop_.nowMs());
    if (register_ &&
        loop_.nowMs() - last_register_heartbeat_ms_ >= options_.register_heartbeat.count()) {
      registerHeartbeat();
    }
  });
  housekeeping_->start(std::min<std::chrono::milliseconds>(options_.register_heartbeat,
                                                           std::chrono::milliseconds(1000)));
  if (register_) registerHeartbeat();  // introduce ourselves at once
  LOG_INFO(Room, "room {} serving clients on tcp {}{}{}, rpc {}", room_id_, tcp_address_.toString(),
           ws_listener_ ? ", ws " : "", ws_listener_ ? ws_address_.toString() : "",
           rpc_address_.toString());
  return Status::ok();
}

// ---------------------------------------------------------------- connections

RoomServer::ClientConn* RoomServer::lookup(uint64_t conn_id) {
  const size_t slot = conn_id & 0xffffffffu;
  if (slot >= conns_.size()) return nullptr;
  ClientConn& c = conns_[slot];
  if (!c.in_use || c.generation != (conn_id >> 32)) return nullptr;
  return &c;
}

void RoomServer::onAccept(net::TcpConnection& conn, bool websocket) {
  roomMetrics().accepted.inc();
  const net::InetAddress peer = conn.peerAddress();
  if (draining_ || stopping_) {
    roomMetrics().refused.inc();
    conn.close();
    return;
  }
  IpFilter::Verdict verdict = ip_filter_.admit(peer, loop_.nowMs());
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
  }
  ClientConn& c = conns_[slot];
  c.in_use = true;
  ++c.generation;
  c.tcp = &conn;
  c.peer = IpFilter::keyOf(peer);
  c.state = websocket ? State::WsHandshake : State::Authenticating;
  c.last_seen_ms = loop_.nowMs();
  c.ip_counted = verdict == IpFilter::Verdict::Accept;
  conn.setId(c.id(slot));
  conn.setContext(&c);
  conn.start(this, &options_.limits);
  ++live_connections_;
  if (websocket) c.ws = std::make_unique<http::WebSocketServerSession>(conn, options_.websocket);
  if (verdict != IpFilter::Verdict::Accept) {
    roomMetrics().refused.inc();
    LOG_EVERY_SEC(Info, Room, 1, "refusing {}: {}", peer.host(), IpFilter::verdictName(verdict));
    if (websocket) {
      conn.close();  // before the handshake there is no way to send a frame
      return;
    }
    fail(c,
         verdict == IpFilter::Verdict::Denied        ? client::ERROR_FORBIDDEN
         : verdict == IpFilter::Verdict::RateLimited ? client::ERROR_RATE_LIMITED
                                                     : client::ERROR_TOO_MANY_CONNECTIONS,
         IpFilter::verdictName(verdict));
    return;
  }
  arm(c);
}

size_t RoomServer::onData(net::TcpConnection& conn, const char* data, size_t len) {
  auto* c = static_cast<ClientConn*>(conn.context());
  if (c->state == State::Closing) return len;  // input after an error is ignored
  // Before auth, last_seen_ms stays the accept time: trickled bytes do not extend the
  // auth deadline.
  if (c->state == State::Active) c->last_seen_ms = loop_.nowMs();
  if (c->ws) {
    current_ws_ = c;
    size_t used = c->ws->onData(data, len, *this);
    current_ws_ = nullptr;
    return used;
  }
  size_t used = 0;
  while (used < len && !conn.closing() && c->state != State::Closing) {
    net::FrameView frame;
    auto st = net::decodeLengthPrefixed(data + used, len - used, options_.max_frame_bytes, &frame);
    if (st == net::FrameStatus::Incomplete) break;
    if (st == net::FrameStatus::TooLarge) {
      roomMetrics().bad_frames.inc();
      fail(*c, client::ERROR_FRAME_TOO_LARGE,
           "frame over " + std::to_string(options_.max_frame_bytes) + " bytes");
      return len;
    }
    used += frame.consumed;
    onFrame(*c, frame.payload, frame.size);
  }
  return conn.closing() ? len : used;
}

void RoomServer::onWsOpen() {
  if (current_ws_ && current_ws_->state == State::WsHandshake) {
    current_ws_->state = State::Authenticating;
  }
}

void RoomServer::onWsMessage(const char* data, size_t len, bool binary) {
  ClientConn* c = current_ws_;
  if (!c || c->state == State::Closing) return;
  if (!binary) {
    roomMetrics().bad_frames.inc();
    fail(*c, client::ERROR_BAD_FRAME, "text messages are not frames: send binary");
    return;
  }
  onFrame(*c, data, len);
}

void RoomServer::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  auto* c = static_cast<ClientConn*>(conn.context());
  const size_t slot = conn.id() & 0xffffffffu;
  for (uint8_t i = 0; i < c->app_count; ++i) {
    indexRemove(c->apps[i], *c);
    announceOffline(*c, c->apps[i]);
  }
  sessions_ -= c->app_count;
  if (c->ip_counted) ip_filter_.release(c->peer);
  LOG_CONN(Debug, Room, conn.id(), "closed ({}): user '{}' device '{}'",
           net::TcpConnection::reasonName(reason), c->user, c->device);
  ClientConn fresh;
  fresh.generation = c->generation;  // the next user of the slot bumps it
  *c = std::move(fresh);
  free_slots_.push_back(static_cast<uint32_t>(slot));
  --live_connections_;
  if (draining_) maybeFinishDrain();
  if (stopping_) maybeFinishStop();
}

int64_t RoomServer::deadlineOf(const ClientConn& c) const {
  int64_t due = 0;
  switch (c.state) {
    case State::WsHandshake:
    case State::Authenticating:
      due = c.last_seen_ms + options_.auth_timeout.count();
      break;
    case State::Active:
      due = c.last_seen_ms + int64_t{c.heartbeat_s} * 2500;
      break;
    case State::Closing:
      return c.close_at_ms;
  }
  return c.close_at_ms ? std::min(due, c.close_at_ms) : due;
}

// The wheel holds at most one live entry per connection, at `wheel_ms`. Traffic moves the
// deadline later without touching the wheel (the entry re-checks when it fires); a deadline
// that moves earlier (auth done with a short heartbeat, an error, a drain) gets a new entry.
void RoomServer::arm(ClientConn& c) {
  const int64_t due = deadlineOf(c);
  if (c.wheel_ms != 0 && c.wheel_ms <= due) return;
  c.wheel_ms = due;
  wheel_->schedule(c.tcp->id(), due);
}

void RoomServer::onWheel(uint64_t conn_id) {
  ClientConn* c = lookup(conn_id);
  if (!c) return;
  const int64_t now = loop_.nowMs();
  if (c->wheel_ms <= now) c->wheel_ms = 0;  // the tracked entry fired (this one)
  const int64_t due = deadlineOf(*c);
  if (now < due) {
    if (c->wheel_ms == 0) arm(*c);  // a later entry may still be pending: it re-checks
    return;
  }
  switch (c->state) {
    case State::WsHandshake:
    case State::Authenticating:
      roomMetrics().auth_timeout.inc();
      fail(*c, client::ERROR_AUTH_TIMEOUT,
           "no Auth within " + std::to_string(options_.auth_timeout.count()) + " ms");
      break;
    case State::Active:
      if (c->close_at_ms && now >= c->close_at_ms) {
        c->tcp->close();  // drained: the client did not leave within its Reconnect delay
        break;
      }
      roomMetrics().heartbeat_timeout.inc();
      LOG_CONN(Debug, Room, conn_id, "silent for {} ms (heartbeat {} s): closing",
               now - c->last_seen_ms, c->heartbeat_s);
      c->tcp->close();
      break;
    case State::Closing:
      c->tcp->close();
      break;
  }
}

// ---------------------------------------------------------------- frames

void RoomServer::onFrame(ClientConn& c, const char* data, size_t len) {
  client::Frame& frame = scratch_frame_;
  if (!frame.ParseFromArray(data, static_cast<int>(len))) {
    roomMetrics().bad_frames.inc();
    fail(c, client::ERROR_BAD_FRAME, "bytes are not a Frame");
    return;
  }
  if (c.state != State::Active && frame.body_case() != client::Frame::kAuth) {
    fail(c, client::ERROR_AUTH_REQUIRED, "authenticate first");
    return;
  }
  switch (frame.body_case()) {
    case client::Frame::kAuth:
      onAuth(c, frame.auth());
      break;
    case client::Frame::kPing: {
      roomMetrics().pings.inc();
      client::Frame pong;
      pong.mutable_pong()->set_server_time_ms(static_cast<uint64_t>(wallMs()));
      sendFrame(c, pong);
      break;
    }
    case client::Frame::kAck:
      onAck(c, frame.ack());
      break;
    case client::Frame::kUpstream:
      onUpstream(c, frame.upstream());
      break;
    case client::Frame::kBind:
      onBind(c, frame.bind());
      break;
    case client::Frame::kUnbind:
      onUnbind(c, frame.unbind());
      break;
    case client::Frame::BODY_NOT_SET:
      break;  // a frame type this room does not know (a newer client): ignored, compatibly
    default:
      roomMetrics().bad_frames.inc();
      fail(c, client::ERROR_BAD_FRAME, "frame type not accepted from clients");
  }
}

uint32_t RoomServer::heartbeatFor(client::NetworkType network) const {
  uint32_t s = options_.heartbeat_unknown_s;
  if (network == client::NETWORK_WIFI || network == client::NETWORK_ETHERNET)
    s = options_.heartbeat_wifi_s;
  if (network == client::NETWORK_CELLULAR) s = options_.heartbeat_cellular_s;
  return std::clamp(s, options_.heartbeat_min_s, options_.heartbeat_max_s);
}

int RoomServer::findApp(std::string_view name) const {
  for (size_t i = 0; i < options_.apps.size(); ++i) {
    if (options_.apps[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool RoomServer::hasApp(const ClientConn& c, uint16_t app) const {
  return std::find(c.apps, c.apps + c.app_count, app) != c.apps + c.app_count;
}

void RoomServer::onAuth(ClientConn& c, const client::Auth& auth) {
  if (c.state == State::Active) {
    fail(c, client::ERROR_ALREADY_AUTHENTICATED, "already authenticated");
    return;
  }
  if (draining_) {
    fail(c, client::ERROR_DRAINING, "room is draining: reconnect elsewhere");
    return;
  }
  auth::TokenClaims claims;
  std::string claims_json, why;
  client::ErrorCode code = auth::parseToken(auth.token(), &claims, &claims_json, &why);
  int app = -1;
  if (code == client::ERROR_NONE) {
    app = findApp(claims.app);
    if (app < 0) {
      code = client::ERROR_UNKNOWN_APP;
      why = "unknown app '" + claims.app + "'";
    } else {
      code = auth::checkToken(auth.token(), claims_json, claims, options_.apps[app].secret,
                              wallMs() / 1000, &why);
    }
  }
  if (code != client::ERROR_NONE) {
    roomMetrics().auth_failed.inc();
    LOG_EVERY_SEC(Info, Room, 1, "auth from {} refused: {}", IpFilter::hostOf(c.peer), why);
    fail(c, code, why);
    return;
  }
  roomMetrics().auth_ok.inc();
  c.user = std::move(claims.user);
  c.device = std::move(claims.device);
  c.since_ms = wallMs();
  c.last_seen_ms = loop_.nowMs();
  c.heartbeat_s = static_cast<uint16_t>(heartbeatFor(auth.network()));
  c.state = State::Active;
  c.apps[0] = static_cast<uint16_t>(app);
  c.app_count = 1;
  ++sessions_;
  indexAdd(static_cast<uint16_t>(app), c);
  announceOnline(c, static_cast<uint16_t>(app));
  client::Frame reply;
  auto* r = reply.mutable_auth_result();
  r->set_heartbeat_interval_s(c.heartbeat_s);
  r->set_app(options_.apps[app].name);
  r->set_user(c.user);
  r->set_device(c.device);
  r->set_server_time_ms(static_cast<uint64_t>(c.since_ms));
  r->set_room(room_id_);
  sendFrame(c, reply);
  arm(c);  // the heartbeat deadline may come before the auth deadline
  LOG_CONN(Debug, Room, c.tcp->id(), "authenticated app '{}' user '{}' device '{}' heartbeat {} s",
           options_.apps[app].name, c.user, c.device, c.heartbeat_s);
}

void RoomServer::onBind(ClientConn& c, const client::Bind& bind) {
  client::Frame reply;
  auto* r = reply.mutable_bind_result();
  auth::TokenClaims claims;
  std::string claims_json, why;
  client::ErrorCode code = auth::parseToken(bind.token(), &claims, &claims_json, &why);
  int app = -1;
  if (code == client::ERROR_NONE) {
    r->set_app(claims.app);
    app = findApp(claims.app);
    if (app < 0) {
      code = client::ERROR_UNKNOWN_APP;
      why = "unknown app '" + claims.app + "'";
    } else {
      code = auth::checkToken(bind.token(), claims_json, claims, options_.apps[app].secret,
                              wallMs() / 1000, &why);
    }
  }
  if (code == client::ERROR_NONE && claims.device != c.device) {
    code = client::ERROR_DEVICE_MISMATCH;
    why = "token is for device '" + claims.device + "', this connection is '" + c.device + "'";
  }
  if (code == client::ERROR_NONE && claims.user != c.user) {
    // One connection, one user: index entries and register sessions carry a single user.
    code = client::ERROR_BAD_TOKEN;
    why = "token is for user '" + claims.user + "', this connection is '" + c.user + "'";
  }
  if (code == client::ERROR_NONE && !hasApp(c, static_cast<uint16_t>(app))) {
    if (c.app_count >= options_.max_apps_per_connection) {
      code = client::ERROR_TOO_MANY_APPS;
      why = "at most " + std::to_string(options_.max_apps_per_connection) + " apps per connection";
    } else {
      c.apps[c.app_count++] = static_cast<uint16_t>(app);
      ++sessions_;
      indexAdd(static_cast<uint16_t>(app), c);
      announceOnline(c, static_cast<uint16_t>(app));
    }
  }
  r->set_code(code);
  if (code != client::ERROR_NONE) r->set_message(why);
  sendFrame(c, reply);
}

void RoomServer::onUnbind(ClientConn& c, const client::Unbind& unbind) {
  int app = findApp(unbind.app());
  if (app < 0 || !hasApp(c, static_cast<uint16_t>(app))) {
    client::Frame err;
    err.mutable_error()->set_code(client::ERROR_NOT_BOUND);
    err.mutable_error()->set_message("app '" + unbind.app() + "' is not bound to this connection");
    sendFrame(c, err);
    return;
  }
  auto* end = std::remove(c.apps, c.apps + c.app_count, static_cast<uint16_t>(app));
  c.app_count = static_cast<uint8_t>(end - c.apps);
  --sessions_;
  indexRemove(static_cast<uint16_t>(app), c);
  announceOffline(c, static_cast<uint16_t>(app));
}

void RoomServer::onAck(ClientConn& c, const client::Ack& ack) {
  for (uint64_t id : ack.message_ids()) {
    roomMetrics().acks.inc();
    if (!acks_.acked(id)) roomMetrics().unknown_acks.inc();
  }
  // TODO(saver, issue 5): batch acks to saver.Ack so stored messages are not re-sent.
}

void RoomServer::onUpstream(ClientConn& c, const client::Upstream& up) {
  // TODO(coordinator, issue 6): forward to coordinator.Upstream and the app's webhook.
  client::Frame reply;
  auto* r = reply.mutable_upstream_ack();
  r->set_seq(up.seq());
  const int app = up.app().empty() ? c.apps[0] : findApp(up.app());
  if (app < 0 || !hasApp(c, static_cast<uint16_t>(app))) {
    r->set_code(client::ERROR_NOT_BOUND);
    r->set_message("app '" + up.app() + "' is not bound to this connection");
  } else {
    r->set_code(client::ERROR_UNAVAILABLE);
    r->set_message("upstream forwarding is not enabled on this room");
  }
  sendFrame(c, reply);
}

bool RoomServer::sendFrame(ClientConn& c, const client::Frame& frame) {
  const size_t size = frame.ByteSizeLong();
  if (c.ws) {
    std::string bytes;
    bytes.resize(size);
    frame.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(bytes.data()));
    return c.ws->sendBinary(bytes.data(), bytes.size());
  }
  char* out = c.tcp->prepareSend(net::kLengthPrefixBytes + size);
  if (!out) return false;
  net::encodeLengthPrefix(static_cast<uint32_t>(size), out);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + net::kLengthPrefixBytes));
  c.tcp->commitSend(net::kLengthPrefixBytes + size);
  return true;
}

bool RoomServer::sendEncoded(ClientConn& c, std::string_view frame_bytes) {
  if (c.ws) return c.ws->sendBinary(frame_bytes.data(), frame_bytes.size());
  char* out = c.tcp->prepareSend(net::kLengthPrefixBytes + frame_bytes.size());
  if (!out) return false;
  net::encodeLengthPrefix(static_cast<uint32_t>(frame_bytes.size()), out);
  std::memcpy(out + net::kLengthPrefixBytes, frame_bytes.data(), frame_bytes.size());
  c.tcp->commitSend(net::kLengthPrefixBytes + frame_bytes.size());
  return true;
}

void RoomServer::fail(ClientConn& c, client::ErrorCode code, std::string message) {
  client::Frame err;
  err.mutable_error()->set_code(code);
  err.mutable_error()->set_message(std::move(message));
  sendFrame(c, err);
  closeAfterError(c);
}

void RoomServer::closeAfterError(ClientConn& c) {
  if (c.state == State::Closing) return;
  for (uint8_t i = 0; i < c.app_count; ++i) {
    indexRemove(c.apps[i], c);
    announceOffline(c, c.apps[i]);
  }
  sessions_ -= c.app_count;
  c.app_count = 0;
  c.state = State::Closing;
  c.close_at_ms = loop_.nowMs() + kCloseGraceMs;
  if (c.ws && c.ws->isOpen()) {
    c.ws->close(1008, "policy violation");
  } else {
    c.tcp->closeAfterFlush();
  }
  arm(c);
}

// ---------------------------------------------------------------- index and register

std::string RoomServer::userKey(uint16_t app, std::string_view user) {
  std::string key;
  key.reserve(2 + user.size());
  key.push_back(static_cast<char>(app >> 8));
  key.push_back(static_cast<char>(app & 0xff));
  key.append(user);
  return key;
}

void RoomServer::indexAdd(uint16_t app, const ClientConn& c) {
  users_[userKey(app, c.user)].push_back(c.tcp->id());
}

void RoomServer::indexRemove(uint16_t app, const ClientConn& c) {
  auto it = users_.find(userKey(app, c.user));
  if (it == users_.end()) return;
  auto& ids = it->second;
  ids.erase(std::remove(ids.begin(), ids.end(), c.tcp->id()), ids.end());
  if (ids.empty()) users_.erase(it);
}

void RoomServer::announceOnline(const ClientConn& c, uint16_t app) {
  if (!register_) return;
  Session s;
  s.set_app(options_.apps[app].name);
  s.set_user(c.user);
  s.set_device(c.device);
  s.set_room_id(room_id_);
  s.set_room_address(advertised_rpc_);
  s.set_conn_id(c.tcp->id());
  s.set_since_ms(c.since_ms);
  register_->online(std::move(s));
}

void RoomServer::announceOffline(const ClientConn& c, uint16_t app) {
  if (!register_) return;
  reg::OfflineSession s;
  s.set_app(options_.apps[app].name);
  s.set_user(c.user);
  s.set_room_id(room_id_);
  s.set_conn_id(c.tcp->id());
  register_->offline(std::move(s));
}

void RoomServer::registerHeartbeat() {
  last_register_heartbeat_ms_ = loop_.nowMs();
  reg::RoomHeartbeatRequest req;
  req.set_room_id(room_id_);
  req.set_room_address(advertised_rpc_);
  req.set_sessions(static_cast<uint32_t>(sessions_));
  req.set_resync(resync_needed_);
  resync_needed_ = false;
  register_->heartbeat(req, [this](size_t shard, const Status& st, bool) {
    if (!st.isOk()) {
      LOG_EVERY_SEC(Warn, Room, 5, "heartbeat to register shard {} failed: {}", shard,
                    st.toString());
      resync_needed_ = true;  // it may have missed batches: ask for a pull when it is back
    }
  });
}

// ---------------------------------------------------------------- RPC

void RoomServer::deliver(const DeliverRequest& request, DeliverResponse* response) {
  const Message& msg = request.message();
  const int app = findApp(msg.app());
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
      auto it = users_.find(userKey(static_cast<uint16_t>(app), t.user()));
      if (it != users_.end()) {
        for (uint64_t id : it->second) {
          ClientConn* c = lookup(id);
          if (!c || c->state != State::Active) continue;
          if (!t.device().empty() && c->device != t.device()) continue;
          written += sendEncoded(*c, bytes);
        }
      }
    }
    response->add_connections(written);
    total += written;
  }
  roomMetrics().pushes.inc(total);
  if (msg.qos() > 0 && total > 0) acks_.delivered(msg.id(), total);
}

uint32_t RoomServer::kick(const std::string& app_name, const std::string& user,
                          const std::string& device, const std::string& reason) {
  const int app = findApp(app_name);
  if (app < 0) return 0;
  auto it = users_.find(userKey(static_cast<uint16_t>(app), user));
  if (it == users_.end()) return 0;
  const std::vector<uint64_t> ids = it->second;  // closing edits the index
  uint32_t kicked = 0;
  for (uint64_t id : ids) {
    ClientConn* c = lookup(id);
    if (!c || c->state != State::Active) continue;
    if (!device.empty() && c->device != device) continue;
    client::Frame frame;
    frame.mutable_kick()->set_reason(reason.empty() ? "kicked by operator" : reason);
    sendFrame(*c, frame);
    closeAfterError(*c);
    ++kicked;
  }
  roomMetrics().kicks.inc(kicked);
  return kicked;
}

uint32_t RoomServer::drainFromRpc(uint32_t window_ms, uint32_t deadline_ms) {
  const uint32_t before = static_cast<uint32_t>(live_connections_);
  drain(window_ms ? std::chrono::milliseconds(window_ms) : options_.drain_window,
        deadline_ms ? std::chrono::milliseconds(deadline_ms) : options_.drain_deadline, nullptr);
  return before;
}

Status RoomServer::listSessions(const ListSessionsRequest& request,
                                ListSessionsResponse* response) const {
  const uint32_t limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);
  std::vector<bool> slots;
  if (request.slots_size() > 0) {
    slots.assign(reg::kSlotCount, false);
    for (uint32_t s : request.slots()) {
      if (s >= reg::kSlotCount)
        return invalidArgument("slot " + std::to_string(s) + " out of range");
      slots[s] = true;
    }
  }
  size_t i = static_cast<size_t>(request.cursor());
  for (; i < conns_.size() && static_cast<uint32_t>(response->sessions_size()) < limit; ++i) {
    const ClientConn& c = conns_[i];
    if (!c.in_use || c.state != State::Active) continue;
    for (uint8_t a = 0; a < c.app_count; ++a) {
      const std::string& app = options_.apps[c.apps[a]].name;
      if (!slots.empty() && !slots[reg::slotOf(app, c.user)]) continue;
      Session* s = response->add_sessions();
      s->set_app(app);
      s->set_user(c.user);
      s->set_device(c.device);
      s->set_room_id(room_id_);
      s->set_room_address(advertised_rpc_);
      s->set_conn_id(c.id(i));
      s->set_since_ms(c.since_ms);
    }
  }
  response->set_next_cursor(i);
  response->set_done(i >= conns_.size());
  return Status::ok();
}

// ---------------------------------------------------------------- drain and stop

void RoomServer::drain(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
                       std::function<void()> on_drained) {
  if (on_drained) on_drained_ = std::move(on_drained);
  if (draining_) return;
  draining_ = true;
  const int64_t now = loop_.nowMs();
  drain_deadline_ms_ = now + deadline.count();
  // New connections go to the other workers sharing the port (SO_REUSEPORT) or elsewhere.
  if (tcp_listener_) {
    tcp_listener_->close();
    tcp_listener_ = nullptr;
  }
  if (ws_listener_) {
    ws_listener_->close();
    ws_listener_ = nullptr;
  }
  std::vector<size_t> active;
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].in_use && conns_[i].state != State::Closing) active.push_back(i);
  }
  LOG_INFO(Room, "room {} draining {} connections over {} ms (deadline {} ms)", room_id_,
           active.size(), window.count(), deadline.count());
  for (size_t k = 0; k < active.size(); ++k) {
    ClientConn& c = conns_[active[k]];
    const int64_t delay = active.size() > 1 ? window.count() * static_cast<int64_t>(k) /
                                                  static_cast<int64_t>(active.size())
                                            : 0;
    if (c.state == State::Active) {
      client::Frame frame;
      frame.mutable_reconnect()->set_delay_ms(static_cast<uint32_t>(delay));
      frame.mutable_reconnect()->set_reason("room draining");
      sendFrame(c, frame);
      // The session stays Active, so messages keep reaching it until the client has moved
      // (it connects elsewhere first, then closes this one) or its grace is over.
      c.close_at_ms = std::min(now + delay + kDrainCloseGraceMs, drain_deadline_ms_);
    } else {
      fail(c, client::ERROR_DRAINING, "room is draining: reconnect elsewhere");
    }
    arm(c);
  }
  maybeFinishDrain();
}

void RoomServer::maybeFinishDrain() {
  if (live_connections_ == 0 && on_drained_) {
    auto done = std::move(on_drained_);
    on_drained_ = nullptr;
    LOG_INFO(Room, "room {} drained", room_id_);
    loop_.post(std::move(done));
  }
}

void RoomServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  on_stopped_ = std::move(done);
  if (tcp_listener_) tcp_listener_->close();
  if (ws_listener_) ws_listener_->close();
  tcp_listener_ = ws_listener_ = nullptr;
  if (admin_) admin_->close();
  admin_ = nullptr;
  if (housekeeping_) housekeeping_->close();
  housekeeping_ = nullptr;
  if (register_) register_->flush();
  for (auto& c : conns_) {
    if (c.in_use) c.tcp->close();
  }
  if (rpc_server_) {
    rpc_server_->shutdown(std::chrono::milliseconds(1000), [this] {
      rpc_stopped_ = true;
      maybeFinishStop();
    });
    rpc_server_ = nullptr;
  } else {
    rpc_stopped_ = true;
  }
  maybeFinishStop();
}

void RoomServer::maybeFinishStop() {
  if (!stopping_ || live_connections_ > 0 || !rpc_stopped_ || !on_stopped_) return;
  if (wheel_) wheel_->close();
  wheel_ = nullptr;
  register_.reset();  // closes its channels
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  loop_.post(std::move(done));
}

std::string RoomServer::statusJson() const {
  std::string out =
      "{\"room_id\":\"" + room_id_ + "\",\"tcp\":\"" + tcp_address_.toString() + "\",\"rpc\":\"" +
      advertised_rpc_ + "\",\"connections\":" + std::to_string(live_connections_) +
      ",\"sessions\":" + std::to_string(sessions_) + ",\"users\":" + std::to_string(users_.size()) +
      ",\"draining\":" + (draining_ ? "true" : "false") +
      ",\"ip_tracked\":" + std::to_string(ip_filter_.trackedAddresses()) +
      ",\"acks\":" + acks_.recentJson(20) + "}";
  return out;
}

}  // namespace push::room
