#include "loadtest/loadgen/push_client_pool.h"

#include <algorithm>
#include <chrono>

#include "common/auth/token.h"
#include "common/base/clock.h"
#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"

namespace push::loadgen {
namespace {

// Frames from the room are pushes of at most ~60 KiB plus envelope (center's limit).
constexpr size_t kMaxFrameBytes = 1u << 20;
// A Ping frame on the wire: length 2, field 3 (ping), length 0.
constexpr char kPingFrame[] = {0, 0, 0, 2, 0x1a, 0};

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool sendFrame(net::TcpConnection& conn, const client::Frame& frame) {
  const size_t size = frame.ByteSizeLong();
  char* out = conn.prepareSend(net::kLengthPrefixBytes + size);
  if (!out) return false;
  net::encodeLengthPrefix(static_cast<uint32_t>(size), out);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + net::kLengthPrefixBytes));
  conn.commitSend(net::kLengthPrefixBytes + size);
  return true;
}

PushClientPool::Ending endingOf(net::TcpConnection::CloseReason reason) {
  using R = net::TcpConnection::CloseReason;
  switch (reason) {
    case R::PeerClosed:
      return PushClientPool::Ending::PeerClosed;
    case R::ReadError:
    case R::WriteError:
      return PushClientPool::Ending::Reset;
    default:
      return PushClientPool::Ending::Other;
  }
}

}  // namespace

const char* PushClientPool::endingName(Ending ending) {
  switch (ending) {
    case Ending::ConnectError:
      return "connect";
    case Ending::AuthTimeout:
      return "auth_timeout";
    case Ending::ErrorFrame:
      return "error";
    case Ending::Kicked:
      return "kick";
    case Ending::PeerClosed:
      return "closed";
    case Ending::Reset:
      return "reset";
    case Ending::Other:
      return "other";
    case Ending::Moved:
      return "moved";
  }
  return "other";
}

std::string PushClientPool::encodeEndings(const EndingCounts& counts) {
  std::string out;
  for (size_t i = 0; i < kEndingCount; ++i) {
    if (counts[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += endingName(static_cast<Ending>(i));
    out += ':';
    out += std::to_string(counts[i]);
  }
  return out;
}

PushClientPool::PushClientPool(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {
  limits_.retain_output = 0;  // idle clients keep no output buffer
  limits_.max_input = kMaxFrameBytes + 64;
  clients_.resize(options_.connect.count);
  tick_ns_.assign(kTickRing, 0);
}

PushClientPool::~PushClientPool() = default;

void PushClientPool::start() {
  opener_ = std::make_unique<ConnectionOpener>(
      loop_, options_.connect,
      [this](size_t index, net::TcpConnection& conn) { onConnected(index, conn); },
      [this](size_t index, const Status& st) {
        Client& c = clients_[index];
        if (c.attempts > 0) {  // a reconnect attempt
          ++reconnect_failures_;
          scheduleReconnect(c);
          return;
        }
        c.state = State::Failed;
        ++failed_;
        ++failed_by_[static_cast<size_t>(Ending::ConnectError)];
        if (first_error_.empty()) first_error_ = st.toString();
        maybeSettled();
      });
  opener_->start();
  origin_ns_ = steadyNs();
  tick_ns_[0] = origin_ns_;
  heartbeat_ = net::PeriodicTimer::create(loop_, [this] { heartbeatTick(); });
  heartbeat_->start(std::chrono::milliseconds(1000 / kTicksPerSecond));
  maybeSettled();  // count 0
}

void PushClientPool::close() {
  if (closing_) return;
  closing_ = true;
  if (opener_) opener_->stop();
  heartbeat_.reset();
  reconnect_due_ = {};
  for (Client& c : clients_) {
    if (c.conn) c.conn->close();
  }
}

void PushClientPool::onConnected(size_t index, net::TcpConnection& conn) {
  Client& c = clients_[index];
  c.conn = &conn;
  c.state = State::Authenticating;
  conn.setId(index);
  conn.start(this, &limits_);
  auth::TokenClaims claims;
  claims.app = options_.app;
  claims.user = options_.user_prefix + std::to_string(options_.first_user + index);
  claims.device = options_.device;
  claims.exp = Clock::system().wallMillis() / 1000 + options_.token_ttl_s;
  client::Frame frame;
  client::Auth* hello = frame.mutable_auth();
  hello->set_token(auth::mintToken(options_.secret, claims));
  hello->set_network(options_.network);
  hello->set_client_version("push-load");
  if (!sendFrame(conn, frame)) fail(c, Ending::Other, "could not send Auth");
}

size_t PushClientPool::onData(net::TcpConnection& conn, const char* data, size_t len) {
  Client& c = clients_[static_cast<size_t>(conn.id())];
  size_t used = 0;
  ack_ids_.clear();
  const bool raw = on_raw_frame_ && c.state == State::Active;
  const int64_t read_ns = raw ? steadyNs() : 0;  // one clock read per read, not per frame
  while (used < len && !conn.closing()) {
    net::FrameView frame;
    const auto st = net::decodeLengthPrefixed(data + used, len - used, kMaxFrameBytes, &frame);
    if (st == net::FrameStatus::Incomplete) break;
    if (st == net::FrameStatus::TooLarge) {
      fail(c, Ending::Other, "frame from the room over 1 MiB");
      return len;
    }
    used += frame.consumed;
    if (raw && on_raw_frame_(static_cast<size_t>(conn.id()),
                             std::string_view(frame.payload, frame.size), read_ns)) {
      continue;
    }
    onFrame(c, frame.payload, frame.size);
  }
  if (!ack_ids_.empty() && !conn.closing()) {
    client::Frame ack;
    auto* ids = ack.mutable_ack()->mutable_message_ids();
    ids->Reserve(static_cast<int>(ack_ids_.size()));
    for (uint64_t id : ack_ids_)
      ids->Add(id);
    if (sendFrame(conn, ack)) acks_sent_ += ack_ids_.size();
  }
  return conn.closing() ? len : used;
}

void PushClientPool::onFrame(Client& c, const char* data, size_t len) {
  client::Frame& frame = scratch_;
  if (!frame.ParseFromArray(data, static_cast<int>(len))) {
    fail(c, Ending::Other, "bytes from the room are not a Frame");
    return;
  }
  switch (frame.body_case()) {
    case client::Frame::kAuthResult:
      if (c.state != State::Authenticating) break;
      c.state = State::Active;
      c.heartbeat_s = options_.heartbeat_s != 0
                          ? options_.heartbeat_s
                          : static_cast<uint16_t>(std::min<uint32_t>(
                                frame.auth_result().heartbeat_interval_s(), 65535));
      c.auth_tick = tick_;
      if (opener_) opener_->finished();
      if (c.attempts > 0) {
        c.attempts = 0;
        ++reconnected_;
        last_reconnect_ns_ = steadyNs();
        break;
      }
      ++ready_;
      maybeSettled();
      break;
    case client::Frame::kPong: {
      ++pongs_;
      if (c.heartbeat_s == 0) break;
      // The last Ping left at the last tick a whole number of intervals after the auth tick.
      const uint32_t since = tick_ - c.auth_tick;
      const uint32_t ping_tick = tick_ - since % (c.heartbeat_s * kTicksPerSecond);
      if (ping_tick != c.auth_tick && tick_ - ping_tick < kTickRing) {
        ping_rtt_.record(steadyNs() - tick_ns_[ping_tick & (kTickRing - 1)]);
      }
      break;
    }
    case client::Frame::kPush: {
      ++pushes_;
      const client::Push& push = frame.push();
      if (push.qos() != 0) ack_ids_.push_back(push.message_id());
      if (on_push_) on_push_(static_cast<size_t>(&c - clients_.data()), push, steadyNs());
      break;
    }
    case client::Frame::kUpstreamAck:
      if (on_upstream_ack_) {
        on_upstream_ack_(static_cast<size_t>(&c - clients_.data()), frame.upstream_ack(),
                         steadyNs());
      }
      break;
    case client::Frame::kError:
      fail(c,
           frame.error().code() == client::ERROR_AUTH_TIMEOUT ? Ending::AuthTimeout
                                                              : Ending::ErrorFrame,
           "room: " + client::ErrorCode_Name(frame.error().code()) + " " + frame.error().message());
      break;
    case client::Frame::kKick:
      fail(c, Ending::Kicked, "kicked: " + frame.kick().reason());
      break;
    case client::Frame::kReconnect:
      // A drain: leave after its delay and come back at once, as the SDK does (it connects
      // again first; the pool closes first). Without Options::reconnect the room closes it.
      if (c.state != State::Active || !options_.reconnect) break;
      c.state = State::Moving;
      reconnect_due_.emplace(steadyNs() + int64_t{frame.reconnect().delay_ms()} * 1'000'000,
                             static_cast<uint32_t>(&c - clients_.data()));
      break;
    default:
      break;  // BindResult, SubscribeResult, ...: not used by the load
  }
}

void PushClientPool::fail(Client& c, Ending ending, const std::string& why) {
  // Forgotten before the close: its onClosed (now or later) sees another connection, or none.
  net::TcpConnection* conn = c.conn;
  c.conn = nullptr;
  if (c.state == State::Authenticating && c.attempts > 0) {
    ++reconnect_failures_;
    if (opener_) opener_->finished();
    scheduleReconnect(c);
  } else if (c.state == State::Authenticating || c.state == State::Idle) {
    c.state = State::Failed;
    ++failed_;
    ++failed_by_[static_cast<size_t>(ending)];
    if (first_error_.empty()) first_error_ = why;
    if (opener_) opener_->finished();
    maybeSettled();
  } else if (c.state == State::Active || c.state == State::Moving) {
    onLost(c, ending);
  }
  if (conn) conn->close();
}

void PushClientPool::onLost(Client& c, Ending ending) {
  const bool was_moving = c.state == State::Moving;
  c.state = State::Closed;
  ++lost_;
  ++lost_by_[static_cast<size_t>(ending)];
  // A kicked client was told to stay away (an operator's kick, or a newer login of its user).
  if (options_.reconnect && ending != Ending::Kicked && !closing_ && was_moving) {
    // Closed before its Reconnect delay ran out: it returns when that delay does (its entry
    // is queued already; a second one would open two connections for it).
    c.attempts = 1;
    c.state = State::Waiting;
  } else if (options_.reconnect && ending != Ending::Kicked && !closing_) {
    c.attempts = 0;
    scheduleReconnect(c);
  }
}

void PushClientPool::scheduleReconnect(Client& c) {
  // Backoff's delays: initial, doubling per attempt up to max, each times 1 +- jitter.
  const Backoff::Options& b = options_.reconnect_backoff;
  int64_t base_ms = std::max<int64_t>(1, b.initial.count());
  for (uint8_t i = 0; i < c.attempts && base_ms < b.max.count(); ++i)
    base_ms *= 2;
  base_ms = std::min<int64_t>(base_ms, std::max(b.max.count(), b.initial.count()));
  std::uniform_real_distribution<double> spread(1 - b.jitter, 1 + b.jitter);
  const auto delay_ns =
      static_cast<int64_t>(static_cast<double>(base_ms) * 1e6 * spread(jitter_rng_));
  reconnect_due_.emplace(steadyNs() + delay_ns, static_cast<uint32_t>(&c - clients_.data()));
  c.state = State::Waiting;
  if (c.attempts < 255) ++c.attempts;
}

void PushClientPool::reopenDue() {
  const int64_t now = steadyNs();
  while (!reconnect_due_.empty() && reconnect_due_.top().first <= now) {
    const uint32_t index = reconnect_due_.top().second;
    reconnect_due_.pop();
    Client& c = clients_[index];
    if (c.state == State::Moving) {  // its Reconnect delay is over: leave, come back now
      net::TcpConnection* conn = c.conn;
      c.conn = nullptr;
      c.state = State::Closed;
      ++lost_;
      ++lost_by_[static_cast<size_t>(Ending::Moved)];
      c.attempts = 1;  // a return, at once
      if (conn) conn->close();
      if (opener_) opener_->reopen(index);
      c.state = State::Waiting;
    } else if (c.state == State::Waiting && opener_) {
      opener_->reopen(index);
    }
  }
}

bool PushClientPool::sendUpstream(size_t client, uint64_t seq, std::string_view payload) {
  if (client >= clients_.size()) return false;
  Client& c = clients_[client];
  if (c.state != State::Active || c.conn == nullptr) return false;
  client::Frame frame;
  client::Upstream* up = frame.mutable_upstream();
  up->set_seq(seq);
  up->set_payload(payload.data(), payload.size());
  return sendFrame(*c.conn, frame);
}

void PushClientPool::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  Client& c = clients_[static_cast<size_t>(conn.id())];
  if (c.conn != &conn) return;  // an earlier connection of a client that reconnected, or failed
  c.conn = nullptr;
  if (closing_) return;
  if (c.state == State::Authenticating) {
    fail(c, endingOf(reason),
         std::string("closed before AuthResult (") + net::TcpConnection::reasonName(reason) + ")");
  } else if (c.state == State::Active || c.state == State::Moving) {
    onLost(c, endingOf(reason));
  }
}

void PushClientPool::maybeSettled() {
  if (settled_ || ready_ + failed_ < clients_.size()) return;
  settled_ = true;
  if (on_settled_) on_settled_(ready_, failed_, first_error_);
}

LatencyHistogram PushClientPool::takePingRtt() {
  LatencyHistogram taken = ping_rtt_;
  ping_rtt_.reset();
  return taken;
}

void PushClientPool::heartbeatTick() {
  // Ticks follow the clock, not the timer: on a loaded machine the timer fires late (a worker
  // waits its turn for a core), and counting firings made every client ping less often than its
  // interval, so the room closed it as silent. The Pings of the ticks the timer missed go now
  // (late, as a real client's would), one per interval that ended meanwhile; one pass over the
  // clients however many ticks were missed.
  if (!reconnect_due_.empty()) reopenDue();
  const int64_t now = steadyNs();
  const int64_t due = (now - origin_ns_) / (1'000'000'000 / kTicksPerSecond);
  if (due <= static_cast<int64_t>(tick_)) return;
  const uint32_t prev = tick_;
  tick_ = static_cast<uint32_t>(due);
  const uint32_t missed = std::min<uint32_t>(tick_ - prev, kTickRing);
  for (uint32_t t = tick_ - missed + 1; t != tick_ + 1; ++t)
    tick_ns_[t & (kTickRing - 1)] = now;
  for (Client& c : clients_) {
    if ((c.state != State::Active && c.state != State::Moving) || c.heartbeat_s == 0) continue;
    const uint32_t interval = c.heartbeat_s * kTicksPerSecond;
    // Intervals completed since auth, now and at the last tick run.
    uint32_t ended = (tick_ - c.auth_tick) / interval - (prev - c.auth_tick) / interval;
    for (; ended > 0; --ended) {
      if (c.conn->send(kPingFrame, sizeof kPingFrame)) ++pings_;
    }
  }
}

}  // namespace push::loadgen
