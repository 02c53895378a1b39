#include "sdk/client_impl.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/base/log.h"
#include "common/net/frame_codec.h"
#include "sdk/token_app.h"

// Client::Impl, the wire protocol on one open link (sdk/PROTOCOL.md): frames from the room
// decoded and dispatched (AuthResult, Push, UpstreamAck, BindResult, Kick, Reconnect, Error),
// frames sent (Auth, Bind, Upstream, batched Acks, Ping), the heartbeat, and the link's timer
// (auth deadline, liveness, switch grace, graceful-close bound). The class is declared in
// client_impl.h; opening, closing and replacing links is client_links.cc.

namespace push::sdk {

namespace {

using std::chrono::milliseconds;

// At most this many ids per Ack frame, so a large batch stays far below the room's 64 KiB
// frame limit (an id is at most 10 bytes on the wire).
constexpr size_t kMaxIdsPerAck = 1024;

// The room follows these Error frames with a close (sdk/PROTOCOL.md, error table).
bool closesConnection(int code) {
  switch (code) {
    case client::ERROR_BAD_FRAME:
    case client::ERROR_FRAME_TOO_LARGE:
    case client::ERROR_AUTH_REQUIRED:
    case client::ERROR_BAD_TOKEN:
    case client::ERROR_TOKEN_EXPIRED:
    case client::ERROR_UNKNOWN_APP:
    case client::ERROR_AUTH_TIMEOUT:
    case client::ERROR_RATE_LIMITED:
    case client::ERROR_TOO_MANY_CONNECTIONS:
    case client::ERROR_DRAINING:
    case client::ERROR_FORBIDDEN:
    case client::ERROR_ALREADY_AUTHENTICATED:
      return true;
    default:
      return false;
  }
}

// Errors that reconnecting with the same token cannot fix.
bool needsNewToken(int code) {
  return code == client::ERROR_BAD_TOKEN || code == client::ERROR_TOKEN_EXPIRED ||
         code == client::ERROR_UNKNOWN_APP || code == client::ERROR_FORBIDDEN;
}

// The interval to use for a room's AuthResult.heartbeat_interval_s (ClientOptions: 0 means
// none proposed: the dispatcher's hint for the network when there is one, else
// default_heartbeat_s; values are kept within [heartbeat_min_s, heartbeat_max_s]). The room's
// proposal wins over the hint: the room closes a connection silent for 2.5 of its intervals.
uint32_t heartbeatInterval(uint32_t proposed_s, uint32_t hint_s, const ClientOptions& options) {
  if (proposed_s == 0) proposed_s = hint_s;
  if (proposed_s == 0) return options.default_heartbeat_s;
  return std::clamp(proposed_s, options.heartbeat_min_s, options.heartbeat_max_s);
}

// How long to wait for a room's Reconnect{delay_ms}: at most max_reconnect_delay.
milliseconds reconnectDelay(uint32_t proposed_ms, const ClientOptions& options) {
  return std::min(milliseconds(proposed_ms), options.max_reconnect_delay);
}

}  // namespace

size_t Client::Impl::onLinkData(Link& link, const char* data, size_t len) {
  link.last_recv_ms = loop_.nowMs();  // any byte proves the room is alive
  size_t used = 0;
  while (used < len && link.phase != Link::Phase::Closing) {
    net::FrameView view;
    auto st = net::decodeLengthPrefixed(data + used, len - used, options_.max_frame_bytes, &view);
    if (st == net::FrameStatus::Incomplete) break;
    if (st == net::FrameStatus::TooLarge) {
      linkFailed(link, kErrorProtocol,
                 "frame over " + std::to_string(options_.max_frame_bytes) + " bytes from the room",
                 false);
      return len;
    }
    used += view.consumed;
    if (!frame_.ParseFromArray(view.payload, static_cast<int>(view.size))) {
      linkFailed(link, kErrorProtocol, "bytes from the room are not a Frame", false);
      return len;
    }
    onFrame(link, frame_);
  }
  if (link.phase == Link::Phase::Closing) return len;
  flushAcks(link);  // every ack of this read in one frame, after the callbacks returned
  return used;
}

void Client::Impl::onFrame(Link& link, const client::Frame& frame) {
  const bool online = link.phase == Link::Phase::Online;
  switch (frame.body_case()) {
    case client::Frame::kAuthResult:
      if (link.phase != Link::Phase::Authenticating) {
        linkFailed(link, kErrorProtocol, "AuthResult on an authenticated connection", false);
        return;
      }
      onAuthResult(link, frame.auth_result());
      return;
    case client::Frame::kError:
      onErrorFrame(link, frame.error());
      return;
    case client::Frame::kPong:
      return;  // its arrival already counted as life
    case client::Frame::BODY_NOT_SET:
      return;  // a frame type newer than this SDK: ignore
    default:
      break;
  }
  if (!online) {
    linkFailed(link, kErrorProtocol,
               "frame type " + std::to_string(frame.body_case()) + " before AuthResult", false);
    return;
  }
  switch (frame.body_case()) {
    case client::Frame::kPush:
      onPush(link, frame.push());
      break;
    case client::Frame::kUpstreamAck:
      onUpstreamAck(link, frame.upstream_ack());
      break;
    case client::Frame::kBindResult:
      onBindResult(link, frame.bind_result());
      break;
    case client::Frame::kSubscribeResult:
      onSubscribeResult(link, frame.subscribe_result());
      break;
    case client::Frame::kKick:
      enterTerminal(State::Kicked, "reason=" + frame.kick().reason());
      break;
    case client::Frame::kReconnect:
      onReconnect(link, frame.reconnect());
      break;
    default:
      linkFailed(link, kErrorProtocol,
                 "frame type " + std::to_string(frame.body_case()) + " is not sent by rooms",
                 false);
  }
}

void Client::Impl::onAuthResult(Link& link, const client::AuthResult& result) {
  const int64_t now = loop_.nowMs();
  link.phase = Link::Phase::Online;
  link.was_online = true;
  link.online_since_ms = now;
  link.heartbeat_s =
      heartbeatInterval(result.heartbeat_interval_s(), link.heartbeat_hint_s, options_);
  link.room = result.room();
  // A client that has seen no broadcast of the app starts from the room's latest.
  noteBroadcastSeq(result.app(), result.broadcast_seq(), true);
  if (link.route_gen == route_gen_) server_index_ = link.server;  // sticky after a drop
  failures_in_row_ = 0;
  route_retry_ = 0;
  if (&link == next_) {
    Link* old = primary_;
    primary_ = &link;
    next_ = nullptr;
    if (old) retire(*old);
  }
  armHeartbeat(link);
  LOG_DEBUG(Sdk, "link {}: online at room {} (heartbeat {} s)", link.serial, link.room,
            link.heartbeat_s);
  setState(State::Online, "room=" + link.room + " server=" + link.address.text +
                              " heartbeat=" + std::to_string(link.heartbeat_s));
  if (link.phase != Link::Phase::Online || closing_) return;  // the callback changed things
  for (const BindEntry& entry : binds_)
    sendBind(link, entry.token);
  // After the Binds (the room handles frames in order): the tags of every app, again.
  for (const auto& [app, tags] : subscribed_) {
    sendTagRequest(link, TagRequest{0, app, {tags.begin(), tags.end()}, true});
  }
  flushTagQueue();
  flushManualAcks();
  while (!upstream_queue_.empty() && link.phase == Link::Phase::Online) {
    PendingUpstream up = std::move(upstream_queue_.front());
    upstream_queue_.pop_front();
    sendUpstreamFrame(link, std::move(up));
  }
}

void Client::Impl::onPush(Link& link, const client::Push& push) {
  const uint64_t id = push.message_id();
  const bool fresh = id == 0 || dedup_.insert(id);  // id 0 is "no id": never suppressed
  // A replayed broadcast may come after a live one with a higher sequence: keep the highest.
  noteBroadcastSeq(push.app(), push.broadcast_seq(), false);
  if (fresh) {
    Message message;
    message.id = id;
    message.app = push.app();
    message.payload = push.payload();
    message.qos = push.qos();
    message.created_ms = push.created_ms();
    message.broadcast_seq = push.broadcast_seq();
    message.tag = push.tag();
    invoke(callbacks_.on_message, message);
  }
  if (push.qos() == 0) return;
  if (options_.auto_ack) {
    dedup_.markAcked(id);
    link.acks.push_back(id);
  } else if (!fresh && dedup_.acked(id)) {
    link.acks.push_back(id);  // the app acked it, the ack got lost: say it again
  }
}

void Client::Impl::onUpstreamAck(Link& link, const client::UpstreamAck& ack) {
  auto it = std::find(link.upstream_inflight.begin(), link.upstream_inflight.end(), ack.seq());
  if (it == link.upstream_inflight.end()) return;  // not ours (or answered already)
  link.upstream_inflight.erase(it);
  upstream_pending_.fetch_sub(1);
  invoke(callbacks_.on_upstream_ack, ack.seq(), static_cast<int>(ack.code()), ack.message(),
         ack.reply());
}

void Client::Impl::onBindResult(Link& link, const client::BindResult& result) {
  if (link.binds_inflight.empty()) return;
  const std::string token = std::move(link.binds_inflight.front());
  link.binds_inflight.pop_front();
  auto it = std::find_if(binds_.begin(), binds_.end(),
                         [&](const BindEntry& e) { return e.token == token; });
  if (it == binds_.end()) return;  // unbound meanwhile
  if (result.code() == client::ERROR_NONE) {
    const bool first = it->app.empty();
    it->app = result.app();
    noteBroadcastSeq(result.app(), result.broadcast_seq(), true);
    // A newer token for the same app replaces the older one.
    std::erase_if(binds_,
                  [&](const BindEntry& e) { return e.app == result.app() && e.token != token; });
    if (first) invoke(callbacks_.on_bind, result.app(), 0, std::string());
    return;
  }
  binds_.erase(it);
  invoke(callbacks_.on_bind, result.app(), static_cast<int>(result.code()), result.message());
}

void Client::Impl::onSubscribeResult(Link& link, const client::SubscribeResult& result) {
  if (link.tags_inflight.empty() || link.tags_inflight.front().seq != result.seq()) return;
  TagRequest req = std::move(link.tags_inflight.front());
  link.tags_inflight.pop_front();
  const bool refused = result.code() != client::ERROR_NONE;
  std::vector<std::string> now(result.tags().begin(), result.tags().end());
  if (refused && req.subscribe) {
    // Forget what the room refused, so it is not asked again after every reconnect.
    auto it = subscribed_.find(req.app);
    if (it != subscribed_.end()) {
      for (const std::string& tag : req.tags) {
        if (std::find(now.begin(), now.end(), tag) == now.end()) it->second.erase(tag);
      }
      if (it->second.empty()) subscribed_.erase(it);
    }
  }
  if (req.seq == 0 && !refused) return;  // a silent re-subscription
  invoke(callbacks_.on_subscribe, req.seq, result.app(), static_cast<int>(result.code()),
         result.message(), now);
}

void Client::Impl::onReconnect(Link& link, const client::Reconnect& reconnect) {
  if (&link != primary_ || next_) return;  // a retiring connection, or moving already
  const milliseconds delay = reconnectDelay(reconnect.delay_ms(), options_);
  LOG_DEBUG(Sdk, "link {}: room {} asks to reconnect in {} ms ({}); waiting {} ms", link.serial,
            link.room, reconnect.delay_ms(), reconnect.reason(), delay.count());
  // This room is going away: start with the next address. The room keeps the old connection
  // for delay + a grace, so the new one is authenticated before the old one closes.
  advancePast(link);
  retry_timer_->start(delay, false);
}

void Client::Impl::onErrorFrame(Link& link, const client::Error& error) {
  const int code = static_cast<int>(error.code());
  if (roleOf(link) != Role::Other) invoke(callbacks_.on_error, code, error.message());
  if (!closesConnection(code)) return;
  if (needsNewToken(code)) {
    enterTerminal(State::NeedsToken,
                  std::string("code=") + errorName(code) + " message=" + error.message());
    return;
  }
  if (code == client::ERROR_DRAINING) advancePast(link);
  linkFailed(link, 0, "", true);  // reported above
}

// ------------------------------------------------------------------ sending

bool Client::Impl::sendFrame(Link& link, const client::Frame& frame) {
  if (!link.conn) return false;
  const size_t size = frame.ByteSizeLong();
  char* out = link.conn->prepareSend(net::kLengthPrefixBytes + size);
  if (!out) return false;
  net::encodeLengthPrefix(static_cast<uint32_t>(size), out);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + net::kLengthPrefixBytes));
  link.conn->commitSend(net::kLengthPrefixBytes + size);
  link.last_send_ms = loop_.nowMs();
  return true;
}

void Client::Impl::sendAuth(Link& link) {
  client::Frame frame;
  auto* auth = frame.mutable_auth();
  auth->set_token(token_);
  auth->set_network(static_cast<client::NetworkType>(network_));
  auth->set_client_version(options_.client_version);
  for (uint64_t id : dedup_.recent(options_.auth_recent_ids))
    auth->add_recent_message_ids(id);
  auth->set_last_broadcast_seq(lastBroadcastSeq(tokenApp(token_)));
  sendFrame(link, frame);
}

void Client::Impl::sendBind(Link& link, const std::string& token) {
  client::Frame frame;
  frame.mutable_bind()->set_token(token);
  frame.mutable_bind()->set_last_broadcast_seq(lastBroadcastSeq(tokenApp(token)));
  if (sendFrame(link, frame)) link.binds_inflight.push_back(token);
}

void Client::Impl::sendTagRequest(Link& link, TagRequest request) {
  client::Frame frame;
  auto fill = [&](auto* body) {
    body->set_seq(request.seq);
    body->set_app(request.app);
    for (const std::string& tag : request.tags)
      body->add_tags(tag);
  };
  if (request.subscribe) {
    fill(frame.mutable_subscribe());
  } else {
    fill(frame.mutable_unsubscribe());
  }
  if (sendFrame(link, frame)) {
    link.tags_inflight.push_back(std::move(request));
  } else if (request.seq != 0) {
    tag_queue_.push_back(std::move(request));  // answered on the next connection
  }
}

void Client::Impl::flushTagQueue() {
  Link* link = onlineLink();
  while (link && !tag_queue_.empty() && link->phase == Link::Phase::Online && link->conn) {
    TagRequest req = std::move(tag_queue_.front());
    tag_queue_.pop_front();
    const size_t queued = tag_queue_.size();
    sendTagRequest(*link, std::move(req));
    if (tag_queue_.size() > queued) break;  // could not write: wait for the next connection
  }
}

void Client::Impl::sendUpstreamFrame(Link& link, PendingUpstream up) {
  client::Frame frame;
  auto* u = frame.mutable_upstream();
  u->set_seq(up.seq);
  u->set_app(std::move(up.app));
  u->set_type(std::move(up.type));
  u->set_payload(std::move(up.payload));
  if (sendFrame(link, frame)) {
    link.upstream_inflight.push_back(up.seq);
  } else {
    failUpstream(up.seq, kErrorConnectionLost, "connection closed before the upstream was sent");
  }
}

void Client::Impl::failUpstream(uint64_t seq, int code, const std::string& message) {
  upstream_pending_.fetch_sub(1);
  invoke(callbacks_.on_upstream_ack, seq, code, message, std::string());
}

void Client::Impl::flushAcks(Link& link) {
  size_t done = 0;
  while (done < link.acks.size()) {
    const size_t n = std::min(kMaxIdsPerAck, link.acks.size() - done);
    client::Frame frame;
    auto* ack = frame.mutable_ack();
    for (size_t i = 0; i < n; ++i)
      ack->add_message_ids(link.acks[done + i]);
    if (!sendFrame(link, frame)) break;  // closing: the room sends them again later
    done += n;
  }
  link.acks.clear();
}

void Client::Impl::flushManualAcks() {
  Link* link = onlineLink();
  if (!link || manual_acks_.empty()) return;
  link->acks.insert(link->acks.end(), manual_acks_.begin(), manual_acks_.end());
  manual_acks_.clear();
  flushAcks(*link);
}

// Heartbeat (sdk/PROTOCOL.md): Ping when nothing was sent for an interval, and also when
// nothing was received for an interval (to provoke a Pong); the connection is dead when
// nothing arrived for 2.5 intervals. One one-shot timer per connection, re-armed for the
// earliest of those deadlines.
void Client::Impl::armHeartbeat(Link& link) {
  const int64_t now = loop_.nowMs();
  const int64_t interval = int64_t{link.heartbeat_s} * 1000;
  int64_t next = std::min(link.last_send_ms + interval, link.last_recv_ms + interval * 5 / 2);
  if (link.last_send_ms <= link.last_recv_ms) next = std::min(next, link.last_recv_ms + interval);
  link.timer->start(milliseconds(std::max<int64_t>(next - now, 1)), false);
}

void Client::Impl::onLinkTimer(Link& link) {
  switch (link.phase) {
    case Link::Phase::Connecting:
      return;
    case Link::Phase::Authenticating:
      linkFailed(link, kErrorAuthTimeout,
                 "no AuthResult within " + std::to_string(options_.auth_timeout.count()) + " ms",
                 false);
      return;
    case Link::Phase::Closing:
      if (link.conn) link.conn->close();  // the graceful close took too long
      return;
    case Link::Phase::Online:
      break;
  }
  if (link.retiring) {
    closeLink(link, true);
    return;
  }
  const int64_t now = loop_.nowMs();
  const int64_t interval = int64_t{link.heartbeat_s} * 1000;
  if (now >= link.last_recv_ms + interval * 5 / 2) {
    linkFailed(link, kErrorHeartbeatTimeout,
               "nothing from the room for " + std::to_string(now - link.last_recv_ms) + " ms",
               false);
    return;
  }
  if (now >= link.last_send_ms + interval ||
      (link.last_send_ms <= link.last_recv_ms && now >= link.last_recv_ms + interval)) {
    client::Frame ping;
    ping.mutable_ping();
    sendFrame(link, ping);
  }
  armHeartbeat(link);
}

}  // namespace push::sdk
