#include "services/room/client_protocol.h"

#include <algorithm>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "services/room/ack_forwarder.h"
#include "services/room/ack_tracker.h"
#include "services/room/app_table.h"
#include "services/room/broadcast_consumer.h"
#include "services/room/connection_table.h"
#include "services/room/ip_filter.h"
#include "services/room/offline_replay.h"
#include "services/room/room_metrics.h"
#include "services/room/room_options.h"
#include "services/room/sessions.h"
#include "services/room/tag_index.h"
#include "services/room/upstream_forwarder.h"

namespace push::room {

namespace {

int64_t wallMs() {
  return Clock::system().wallMillis();
}

client::ErrorCode refusalCode(IpFilter::Verdict verdict) {
  switch (verdict) {
    case IpFilter::Verdict::Denied:
      return client::ERROR_FORBIDDEN;
    case IpFilter::Verdict::RateLimited:
      return client::ERROR_RATE_LIMITED;
    default:
      return client::ERROR_TOO_MANY_CONNECTIONS;
  }
}

}  // namespace

ClientProtocol::ClientProtocol(Context context)
    : ctx_(context),
      heartbeats_(context.options.heartbeats()),
      deadlines_(ctx_.loop, ctx_.table, ctx_.options.auth_timeout,
                 [this](ClientConn& c, int64_t now) { onDeadline(c, now); }) {
  (void)roomMetrics();
}

ClientProtocol::~ClientProtocol() = default;

void ClientProtocol::start() {
  deadlines_.start();
}

void ClientProtocol::stop() {
  deadlines_.stop();
  held_auths_.clear();
}

void ClientProtocol::setHoldAuth(bool hold) {
  hold_auth_ = hold;
  if (hold) return;
  auto held = std::move(held_auths_);
  held_auths_.clear();
  for (auto& [id, auth] : held) {
    ClientConn* c = ctx_.table.find(id);
    if (c != nullptr && c->state == ConnState::Authenticating) onAuth(*c, auth);
  }
}

// ---------------------------------------------------------------- accept and close

void ClientProtocol::accept(net::TcpConnection& conn, bool websocket) {
  roomMetrics().accepted.inc();
  if (draining_) {
    roomMetrics().refused.inc();
    conn.close();
    return;
  }
  const net::InetAddress peer = conn.peerAddress();
  const IpFilter::Verdict verdict = ctx_.ip_filter.admit(peer, ctx_.loop.nowMs());
  ClientConn& c = ctx_.table.add(conn);
  c.peer = ctx_.ip_filter.keyOf(peer);
  c.state = websocket ? ConnState::WsHandshake : ConnState::Authenticating;
  c.last_seen_ms = ctx_.loop.nowMs();
  c.ip_counted = verdict == IpFilter::Verdict::Accept;
  conn.start(this, &ctx_.options.limits);
  if (websocket) {
    c.ws = std::make_unique<http::WebSocketServerSession>(conn, ctx_.options.websocket);
  }
  if (verdict != IpFilter::Verdict::Accept) {
    LOG_EVERY_SEC(Info, Room, 1, "refusing {}: {}", peer.host(), IpFilter::verdictName(verdict));
    refuse(c, refusalCode(verdict), IpFilter::verdictName(verdict));
    return;
  }
  deadlines_.arm(c);
}

void ClientProtocol::refuse(ClientConn& c, client::ErrorCode code, const char* why) {
  roomMetrics().refused.inc();
  c.state = ConnState::Closing;
  if (c.ws) {
    c.tcp->close();  // before the handshake there is no way to send a frame
    return;
  }
  client::Frame err;
  err.mutable_error()->set_code(code);
  err.mutable_error()->set_message(why);
  sendFrame(c, err);
  // Not counted against the address, so it must not linger either: gone once written.
  c.tcp->closeAfterWrite();
}

void ClientProtocol::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  ClientConn& c = ConnectionTable::of(conn);
  roomMetrics().closedBy(reason).inc();
  ctx_.sessions.closeAll(c);
  ctx_.tags.removeConnection(ConnectionTable::idOf(c));
  if (replay_) replay_->connectionClosed(ConnectionTable::idOf(c));
  if (c.ip_counted) ctx_.ip_filter.release(c.peer);
  LOG_CONN(Debug, Room, conn.id(), "closed ({}): user '{}' device '{}'",
           net::TcpConnection::reasonName(reason), c.user, c.device);
  ctx_.table.remove(c);
  if (on_closed_) on_closed_();
}

void ClientProtocol::closeAfterError(ClientConn& c) {
  if (c.state == ConnState::Closing) return;
  ctx_.sessions.closeAll(c);
  ctx_.tags.removeConnection(ConnectionTable::idOf(c));  // a closing connection gets no broadcast
  c.state = ConnState::Closing;
  c.close_at_ms = ctx_.loop.nowMs() + kCloseGraceMs;
  if (c.ws && c.ws->isOpen()) {
    c.ws->close(1008, "policy violation");
  } else {
    c.tcp->closeAfterFlush();
  }
  deadlines_.arm(c);
}

void ClientProtocol::closeAt(ClientConn& c, int64_t at_ms) {
  c.close_at_ms = c.close_at_ms ? std::min(c.close_at_ms, at_ms) : at_ms;
  deadlines_.arm(c);
}

void ClientProtocol::onDeadline(ClientConn& c, int64_t now) {
  switch (c.state) {
    case ConnState::WsHandshake:
    case ConnState::Authenticating:
      roomMetrics().auth_timeout.inc();
      fail(c, client::ERROR_AUTH_TIMEOUT,
           "no Auth within " + std::to_string(ctx_.options.auth_timeout.count()) + " ms");
      break;
    case ConnState::Active:
      if (c.close_at_ms && now >= c.close_at_ms) {
        c.tcp->close();  // drained: the client did not leave within its Reconnect delay
        break;
      }
      roomMetrics().heartbeat_timeout.inc();
      LOG_CONN(Debug, Room, c.tcp->id(), "silent for {} ms (heartbeat {} s): closing",
               now - c.last_seen_ms, c.heartbeat_s);
      c.tcp->close();
      break;
    case ConnState::Closing:
      c.tcp->close();
      break;
  }
}

// ---------------------------------------------------------------- input

size_t ClientProtocol::onData(net::TcpConnection& conn, const char* data, size_t len) {
  ClientConn& c = ConnectionTable::of(conn);
  if (c.state == ConnState::Closing) return len;  // input after an error is ignored
  // Before auth, last_seen_ms stays the accept time: trickled bytes do not extend the
  // auth deadline.
  if (c.state == ConnState::Active) c.last_seen_ms = ctx_.loop.nowMs();
  if (c.ws) {
    current_ws_ = &c;
    size_t used = c.ws->onData(data, len, *this);
    current_ws_ = nullptr;
    return used;
  }
  size_t used = 0;
  while (used < len && !conn.closing() && c.state != ConnState::Closing) {
    net::FrameView frame;
    auto st =
        net::decodeLengthPrefixed(data + used, len - used, ctx_.options.max_frame_bytes, &frame);
    if (st == net::FrameStatus::Incomplete) break;
    if (st == net::FrameStatus::TooLarge) {
      roomMetrics().bad_frames.inc();
      fail(c, client::ERROR_FRAME_TOO_LARGE,
           "frame over " + std::to_string(ctx_.options.max_frame_bytes) + " bytes");
      return len;
    }
    used += frame.consumed;
    onFrame(c, frame.payload, frame.size);
  }
  return conn.closing() ? len : used;
}

void ClientProtocol::onWsOpen() {
  if (current_ws_ && current_ws_->state == ConnState::WsHandshake) {
    current_ws_->state = ConnState::Authenticating;
  }
}

void ClientProtocol::onWsMessage(const char* data, size_t len, bool binary) {
  ClientConn* c = current_ws_;
  if (!c || c->state == ConnState::Closing) return;
  if (!binary) {
    roomMetrics().bad_frames.inc();
    fail(*c, client::ERROR_BAD_FRAME, "text messages are not frames: send binary");
    return;
  }
  onFrame(*c, data, len);
}

void ClientProtocol::onFrame(ClientConn& c, const char* data, size_t len) {
  client::Frame& frame = scratch_frame_;
  if (!frame.ParseFromArray(data, static_cast<int>(len))) {
    roomMetrics().bad_frames.inc();
    fail(c, client::ERROR_BAD_FRAME, "bytes are not a Frame");
    return;
  }
  if (c.state != ConnState::Active && frame.body_case() != client::Frame::kAuth) {
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
    case client::Frame::kSubscribe:
      onTags(c, frame.subscribe().seq(), frame.subscribe().app(), frame.subscribe().tags(), true);
      break;
    case client::Frame::kUnsubscribe:
      onTags(c, frame.unsubscribe().seq(), frame.unsubscribe().app(), frame.unsubscribe().tags(),
             false);
      break;
    case client::Frame::BODY_NOT_SET:
      break;  // a frame type this room does not know (a newer client): ignored, compatibly
    default:
      roomMetrics().bad_frames.inc();
      fail(c, client::ERROR_BAD_FRAME, "frame type not accepted from clients");
  }
}

uint32_t ClientProtocol::heartbeatFor(client::NetworkType network) const {
  const RoomOptions::HeartbeatHints& h = heartbeats_;
  uint32_t s = h.unknown_s;
  if (network == client::NETWORK_WIFI || network == client::NETWORK_ETHERNET) s = h.wifi_s;
  if (network == client::NETWORK_CELLULAR) s = h.cellular_s;
  return std::clamp(s, h.min_s, h.max_s);
}

bool ClientProtocol::makeRoom(ClientConn& c, uint16_t app, std::string* why) {
  Sessions::Admission admission = ctx_.sessions.admit(c, app);
  if (admission.refuse) {
    roomMetrics().session_limit_refused.inc();
    *why = std::move(admission.why);
    return false;
  }
  for (net::ConnId id : admission.evict) {
    ClientConn* old = ctx_.table.find(id);
    if (!old || old->state == ConnState::Closing) continue;
    roomMetrics().displaced.inc();
    LOG_CONN(Debug, Room, id, "displaced by [C{}]: {}", c.tcp->id(), admission.why);
    kick(*old, admission.why);
  }
  return true;
}

void ClientProtocol::onAuth(ClientConn& c, const client::Auth& auth) {
  if (c.state == ConnState::Active) {
    fail(c, client::ERROR_ALREADY_AUTHENTICATED, "already authenticated");
    return;
  }
  if (draining_) {
    fail(c, client::ERROR_DRAINING, "room is draining: reconnect elsewhere");
    return;
  }
  if (hold_auth_) {
    if (held_auths_.size() >= kMaxHeldAuths) {
      fail(c, client::ERROR_DRAINING, "room is starting: its apps are not loaded yet");
      return;
    }
    held_auths_.insert_or_assign(ConnectionTable::idOf(c), auth);
    return;
  }
  AppTable::Verified v;
  std::string why;
  client::ErrorCode code = ctx_.apps.verify(auth.token(), wallMs(), &v, &why);
  if (code != client::ERROR_NONE) {
    roomMetrics().auth_failed.inc();
    LOG_EVERY_SEC(Info, Room, 1, "auth from {} refused: {}", ctx_.ip_filter.describe(c.peer), why);
    fail(c, code, why);
    return;
  }
  c.user = std::move(v.claims.user);
  c.device = std::move(v.claims.device);
  c.since_ms = wallMs();
  if (!makeRoom(c, v.app, &why)) {
    fail(c, client::ERROR_TOO_MANY_CONNECTIONS, why);
    return;
  }
  roomMetrics().auth_ok.inc();
  c.last_seen_ms = ctx_.loop.nowMs();
  c.heartbeat_s = static_cast<uint16_t>(heartbeatFor(auth.network()));
  c.state = ConnState::Active;
  c.apps[0] = v.app;
  c.app_count = 1;
  ctx_.sessions.open(c, v.app);
  client::Frame reply;
  auto* r = reply.mutable_auth_result();
  r->set_heartbeat_interval_s(c.heartbeat_s);
  r->set_app(ctx_.apps.name(v.app));
  r->set_user(c.user);
  r->set_device(c.device);
  r->set_server_time_ms(static_cast<uint64_t>(c.since_ms));
  r->set_room(ctx_.room_id);
  if (broadcasts_) r->set_broadcast_seq(broadcasts_->latestSequence(v.app));
  sendFrame(c, reply);
  deadlines_.arm(c);  // the heartbeat deadline may come before the auth deadline
  // After the AuthResult, before any live push (OfflineReplay holds those meanwhile).
  if (replay_) replay_->start(c, v.app, auth.last_broadcast_seq());
  LOG_CONN(Debug, Room, c.tcp->id(), "authenticated app '{}' user '{}' device '{}' heartbeat {} s",
           ctx_.apps.name(v.app), c.user, c.device, c.heartbeat_s);
}

void ClientProtocol::onBind(ClientConn& c, const client::Bind& bind) {
  client::Frame reply;
  auto* r = reply.mutable_bind_result();
  AppTable::Verified v;
  std::string why;
  client::ErrorCode code = client::ERROR_NONE;
  if (draining_) {
    code = client::ERROR_DRAINING;
    why = "room is draining: reconnect elsewhere";
  } else {
    code = ctx_.apps.verify(bind.token(), wallMs(), &v, &why);
    if (!v.claims.app.empty()) r->set_app(v.claims.app);  // the token parsed
  }
  if (code == client::ERROR_NONE && v.claims.device != c.device) {
    code = client::ERROR_DEVICE_MISMATCH;
    why = "token is for device '" + v.claims.device + "', this connection is '" + c.device + "'";
  }
  if (code == client::ERROR_NONE && v.claims.user != c.user) {
    // One connection, one user: index entries and register sessions carry a single user.
    code = client::ERROR_BAD_TOKEN;
    why = "token is for user '" + v.claims.user + "', this connection is '" + c.user + "'";
  }
  bool opened = false;  // a new session: announced to register
  if (code == client::ERROR_NONE && !c.hasApp(v.app)) {
    if (c.app_count >= ctx_.options.max_apps_per_connection) {
      code = client::ERROR_TOO_MANY_APPS;
      why = "at most " + std::to_string(ctx_.options.max_apps_per_connection) +
            " apps per connection";
    } else if (!makeRoom(c, v.app, &why)) {
      code = client::ERROR_TOO_MANY_CONNECTIONS;
    } else {
      c.apps[c.app_count++] = v.app;
      ctx_.sessions.open(c, v.app);
      opened = true;
    }
  }
  r->set_code(code);
  if (code != client::ERROR_NONE) r->set_message(why);
  if (code == client::ERROR_NONE && broadcasts_) {
    r->set_broadcast_seq(broadcasts_->latestSequence(v.app));
  }
  sendFrame(c, reply);
  // A Bind of an app already bound replays again: harmless (the SDK drops duplicates), and
  // the client asked for that app's state.
  if (code == client::ERROR_NONE && replay_) {
    replay_->start(c, v.app, bind.last_broadcast_seq(), opened);
  }
}

void ClientProtocol::onUnbind(ClientConn& c, const client::Unbind& unbind) {
  const int app = ctx_.apps.find(unbind.app());
  if (app < 0 || !c.hasApp(static_cast<uint16_t>(app))) {
    client::Frame err;
    err.mutable_error()->set_code(client::ERROR_NOT_BOUND);
    err.mutable_error()->set_message("app '" + unbind.app() + "' is not bound to this connection");
    sendFrame(c, err);
    return;
  }
  auto* end = std::remove(c.apps, c.apps + c.app_count, static_cast<uint16_t>(app));
  c.app_count = static_cast<uint8_t>(end - c.apps);
  ctx_.sessions.close(c, static_cast<uint16_t>(app));
  ctx_.tags.removeApp(ConnectionTable::idOf(c), static_cast<uint16_t>(app));
}

void ClientProtocol::onAck(ClientConn& c, const client::Ack& ack) {
  for (uint64_t id : ack.message_ids()) {
    // Only a message written to this connection: an ack of anything else (another user's
    // message, a guessed id) is counted and dropped, and never reaches saver.
    uint16_t app = 0;
    if (c.pending_acks && c.pending_acks->take(id, &app)) {
      roomMetrics().acks.inc();
      ctx_.acks.acked(id);
      // Saver removes it from the user's inbox (batched), so it is not sent again.
      if (forwarder_) forwarder_->acked(app, c.user, id);
    } else {
      roomMetrics().unknown_acks.inc();
    }
  }
  if (c.pending_acks && c.pending_acks->empty()) c.pending_acks.reset();
}

void ClientProtocol::onUpstream(ClientConn& c, const client::Upstream& up) {
  client::Frame reply;
  auto* r = reply.mutable_upstream_ack();
  r->set_seq(up.seq());
  const int app = up.app().empty() ? c.apps[0] : ctx_.apps.find(up.app());
  if (app < 0 || !c.hasApp(static_cast<uint16_t>(app))) {
    r->set_code(client::ERROR_NOT_BOUND);
    r->set_message("app '" + up.app() + "' is not bound to this connection");
    sendFrame(c, reply);
    return;
  }
  if (!validUpstreamType(up.type())) {
    r->set_code(client::ERROR_BAD_FRAME);
    r->set_message("upstream type: at most 64 bytes of [A-Za-z0-9._-]");
    sendFrame(c, reply);
    return;
  }
  if (!upstream_) {
    r->set_code(client::ERROR_UNAVAILABLE);
    r->set_message("upstream forwarding is not enabled on this room");
    sendFrame(c, reply);
    return;
  }
  // Forwarded to the coordinator; the UpstreamAck comes later (UpstreamForwarder).
  Status st = upstream_->submit(ConnectionTable::idOf(c), c,
                                ctx_.apps.name(static_cast<uint16_t>(app)), up);
  if (st.isOk()) return;
  r->set_code(client::ERROR_UNAVAILABLE);
  r->set_message(st.message());
  sendFrame(c, reply);
}

// ---------------------------------------------------------------- output

bool ClientProtocol::sendFrame(ClientConn& c, const client::Frame& frame) {
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

bool ClientProtocol::sendEncoded(ClientConn& c, std::string_view frame_bytes) {
  if (c.ws) return c.ws->sendBinary(frame_bytes.data(), frame_bytes.size());
  char* out = c.tcp->prepareSend(net::kLengthPrefixBytes + frame_bytes.size());
  if (!out) return false;
  net::encodeLengthPrefix(static_cast<uint32_t>(frame_bytes.size()), out);
  std::memcpy(out + net::kLengthPrefixBytes, frame_bytes.data(), frame_bytes.size());
  c.tcp->commitSend(net::kLengthPrefixBytes + frame_bytes.size());
  return true;
}

bool ClientProtocol::sendFramed(ClientConn& c, std::string_view length_prefixed_frames) {
  return c.tcp->send(length_prefixed_frames);
}

void ClientProtocol::fail(ClientConn& c, client::ErrorCode code, std::string message) {
  client::Frame err;
  err.mutable_error()->set_code(code);
  err.mutable_error()->set_message(std::move(message));
  sendFrame(c, err);
  closeAfterError(c);
}

void ClientProtocol::kick(ClientConn& c, std::string_view reason) {
  client::Frame frame;
  frame.mutable_kick()->set_reason(std::string(reason));
  sendFrame(c, frame);
  closeAfterError(c);
}

}  // namespace push::room
