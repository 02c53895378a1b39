#include "common/queue/client/nsq_connection.h"

#include <unistd.h>

#include <algorithm>

#include "common/base/json_reader.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connector.h"

namespace push::queue {

namespace {

constexpr std::chrono::milliseconds kTick{100};
constexpr std::string_view kHeartbeat = "_heartbeat_";

uint64_t nextSerial() {
  static uint64_t serial = 0;  // loop-thread objects; one counter per process is enough
  return ++serial;
}

std::string localHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

void appendSizedBody(std::string* out, std::string_view body) {
  char size[4];
  wire::putU32(size, static_cast<uint32_t>(body.size()));
  out->append(size, 4);
  out->append(body);
}

// Counts nested owner callbacks so the object is not deleted under one of them.
struct CallbackScope {
  explicit CallbackScope(int& depth) : depth_(depth) { ++depth_; }
  ~CallbackScope() { --depth_; }
  int& depth_;
};

}  // namespace

void NsqConnectionCloser::operator()(NsqConnection* conn) const {
  conn->close();
}

net::TcpConnection::Limits NsqConnection::Options::defaultLimits() {
  net::TcpConnection::Limits limits;
  limits.high_watermark = 4u << 20;
  limits.low_watermark = 1u << 20;
  limits.hard_limit = 64u << 20;
  limits.max_input = (16u << 20) + (64u << 10);
  limits.retain_output = 64u << 10;  // few, busy connections
  limits.retain_input = 64u << 10;
  return limits;
}

Result<NsqConnectionPtr> NsqConnection::start(net::EventLoop& loop, const net::InetAddress& addr,
                                              const Options& options, Owner* owner) {
  loop.assertInLoopThread();
  if (options.tls_v1 || options.deflate || options.snappy) {
    // TODO(queue codecs): plug common/queue/codec's StreamCodec in under the framing.
    return invalidArgument(
        "tls_v1/deflate/snappy need the stream codecs (common/queue/codec), not wired in yet");
  }
  if (options.heartbeat_interval.count() < 0 || options.msg_timeout.count() < 0) {
    return invalidArgument("heartbeat_interval and msg_timeout must not be negative");
  }
  if (options.max_frame_bytes < 64) return invalidArgument("max_frame_bytes below 64");
  NsqConnectionPtr conn(new NsqConnection(loop, addr, options, owner));
  conn->begin();
  return conn;
}

NsqConnection::NsqConnection(net::EventLoop& loop, const net::InetAddress& addr,
                             const Options& options, Owner* owner)
    : loop_(loop), addr_(addr), options_(options), owner_(owner), serial_(nextSerial()) {}

NsqConnection::~NsqConnection() = default;

size_t NsqConnection::pendingBytes() const {
  return (conn_ ? conn_->pendingBytes() : 0) + early_.size();
}

void NsqConnection::begin() {
  timer_ = net::PeriodicTimer::create(loop_, [this] { onTimer(); });
  timer_->start(kTick);
  deadline_ms_ = loop_.nowMs() + options_.connect_timeout.count();
  connector_ = net::TcpConnector::start(
      loop_, addr_, options_.connect_timeout, [this](Result<net::TcpConnection*> r) {
        connector_ = nullptr;
        if (state_ == State::Closed) {
          if (r.isOk()) (*r)->close();
          return maybeDelete();
        }
        if (!r.isOk()) {
          return fail(r.status().withContext("connecting to " + addr_.toString()));
        }
        onConnected(*r);
      });
}

void NsqConnection::onConnected(net::TcpConnection* conn) {
  conn_ = conn;
  conn_->start(this, &options_.limits);
  state_ = State::Identifying;
  deadline_ms_ = loop_.nowMs() + options_.connect_timeout.count();
  last_read_ms_ = loop_.nowMs();
  sendIdentify();
}

void NsqConnection::sendIdentify() {
  std::string json = "{\"client_id\":";
  appendJsonString(&json, options_.client_id.empty() ? localHostName() : options_.client_id);
  json += ",\"hostname\":";
  appendJsonString(&json, options_.hostname.empty() ? localHostName() : options_.hostname);
  json += ",\"user_agent\":";
  appendJsonString(&json, options_.user_agent);
  if (options_.heartbeat_interval.count() > 0) {
    json += ",\"heartbeat_interval\":" + std::to_string(options_.heartbeat_interval.count());
  }
  if (options_.msg_timeout.count() > 0) {
    json += ",\"msg_timeout\":" + std::to_string(options_.msg_timeout.count());
  }
  json += ",\"feature_negotiation\":true";
  json += std::string(",\"tls_v1\":") + (options_.tls_v1 ? "true" : "false");
  json += std::string(",\"deflate\":") + (options_.deflate ? "true" : "false");
  json += ",\"deflate_level\":" + std::to_string(options_.deflate_level);
  json += std::string(",\"snappy\":") + (options_.snappy ? "true" : "false");
  json += "}";
  std::string bytes(wire::kMagicV2);
  bytes += "IDENTIFY\n";
  appendSizedBody(&bytes, json);
  write(bytes);
}

bool NsqConnection::write(std::string_view bytes) {
  if (!conn_ || conn_->closing()) return false;
  return conn_->send(bytes);  // false: closed as SlowPeer, onClosed follows
}

bool NsqConnection::send(std::string_view line) {
  if (state_ == State::Closed) return false;
  std::string bytes;
  bytes.reserve(line.size() + 1);
  bytes.append(line);
  bytes += '\n';
  if (state_ != State::Ready) {
    early_ += bytes;
    return true;
  }
  return write(bytes);
}

bool NsqConnection::sendWithBody(std::string_view line, std::string_view body) {
  if (state_ == State::Closed) return false;
  std::string bytes;
  bytes.reserve(line.size() + 5 + body.size());
  bytes.append(line);
  bytes += '\n';
  appendSizedBody(&bytes, body);
  if (state_ != State::Ready) {
    early_ += bytes;
    return true;
  }
  return write(bytes);
}

bool NsqConnection::sendMulti(std::string_view line, const std::vector<std::string>& bodies) {
  if (state_ == State::Closed) return false;
  size_t total = 4;
  for (const std::string& b : bodies)
    total += 4 + b.size();
  std::string bytes;
  bytes.reserve(line.size() + 5 + total);
  bytes.append(line);
  bytes += '\n';
  char word[4];
  wire::putU32(word, static_cast<uint32_t>(total));
  bytes.append(word, 4);
  wire::putU32(word, static_cast<uint32_t>(bodies.size()));
  bytes.append(word, 4);
  for (const std::string& b : bodies)
    appendSizedBody(&bytes, b);
  if (state_ != State::Ready) {
    early_ += bytes;
    return true;
  }
  return write(bytes);
}

void NsqConnection::close() {
  if (closed_by_owner_) return;
  closed_by_owner_ = true;
  owner_ = nullptr;
  if (state_ != State::Closed) {
    state_ = State::Closed;
    if (connector_) connector_->cancel();
    if (conn_) {
      // What the owner queued last (FIN, CLS) still goes out; the daemon then sees our FIN.
      conn_->closeAfterFlush();
      deadline_ms_ = loop_.nowMs() + options_.close_timeout.count();
    }
  }
  maybeDelete();
}

void NsqConnection::fail(Status why) {
  if (state_ == State::Closed) return maybeDelete();
  state_ = State::Closed;
  if (connector_) connector_->cancel();
  if (conn_) conn_->close();
  Owner* owner = owner_;
  owner_ = nullptr;
  if (owner) {
    CallbackScope scope(in_callback_depth_);
    owner->onClosed(*this, why);
  }
  maybeDelete();
}

void NsqConnection::maybeDelete() {
  if (state_ != State::Closed || !closed_by_owner_ || connector_ || conn_ ||
      in_callback_depth_ > 0) {
    return;
  }
  timer_.reset();
  delete this;
}

void NsqConnection::onTimer() {
  const int64_t now = loop_.nowMs();
  switch (state_) {
    case State::Connecting:  // the connector has its own deadline
      return;
    case State::Identifying:
    case State::Authenticating:
      if (now >= deadline_ms_) {
        fail(Status(Code::TIMEOUT, addr_.toString() + " did not answer " +
                                       (state_ == State::Identifying ? "IDENTIFY" : "AUTH") +
                                       " within " +
                                       std::to_string(options_.connect_timeout.count()) + " ms"));
      }
      return;
    case State::Ready: {
      const int64_t hb =
          options_.heartbeat_interval.count() > 0 ? options_.heartbeat_interval.count() : 30'000;
      if (now - last_read_ms_ > 2 * hb + 1000) {
        fail(Status(Code::TIMEOUT, addr_.toString() + " sent nothing for " +
                                       std::to_string(now - last_read_ms_) + " ms (no heartbeat)"));
      }
      return;
    }
    case State::Closed:
      if (conn_ && now >= deadline_ms_) conn_->close();  // close_timeout: give up flushing
      return;
  }
}

size_t NsqConnection::onData(net::TcpConnection& conn, const char* data, size_t len) {
  last_read_ms_ = loop_.nowMs();
  size_t offset = 0;
  while (offset < len && state_ != State::Closed) {
    wire::FrameView frame;
    size_t used = 0;
    const wire::ParseStatus st = wire::parseFrame(std::string_view(data + offset, len - offset),
                                                  options_.max_frame_bytes, &frame, &used);
    if (st == wire::ParseStatus::NeedMore) break;
    if (st == wire::ParseStatus::Error) {
      fail(Status(Code::PROTOCOL_ERROR, "bad frame from " + addr_.toString() + " (size over " +
                                            std::to_string(options_.max_frame_bytes) +
                                            " bytes or unknown type)"));
      return len;
    }
    offset += used;
    if (state_ == State::Identifying || state_ == State::Authenticating) {
      if (!onHandshakeFrame(frame)) return len;
      continue;
    }
    CallbackScope scope(in_callback_depth_);
    switch (frame.type) {
      case wire::FrameType::Response:
        if (frame.data == kHeartbeat) {
          write("NOP\n");
        } else {
          owner_->onResponse(*this, frame.data);
        }
        break;
      case wire::FrameType::Error:
        owner_->onError(*this, frame.data);
        break;
      case wire::FrameType::Message: {
        wire::MessageView message;
        if (!wire::parseMessage(frame.data, &message)) {
          fail(Status(Code::PROTOCOL_ERROR, "message frame of " +
                                                std::to_string(frame.data.size()) + " bytes from " +
                                                addr_.toString() + " is shorter than its header"));
          return len;
        }
        owner_->onMessage(*this, message);
        break;
      }
    }
  }
  return state_ == State::Closed ? len : offset;
}

bool NsqConnection::onHandshakeFrame(const wire::FrameView& frame) {
  if (frame.type == wire::FrameType::Response && frame.data == kHeartbeat) {
    write("NOP\n");
    return true;
  }
  if (frame.type != wire::FrameType::Response) {
    const bool auth = state_ == State::Authenticating;
    fail(Status(auth ? Code::UNAUTHENTICATED : Code::PROTOCOL_ERROR,
                addr_.toString() + " refused " + (auth ? "AUTH" : "IDENTIFY") + ": " +
                    std::string(frame.data.substr(0, 256))));
    return false;
  }
  if (state_ == State::Identifying) {
    Status parsed = parseIdentifyAnswer(frame.data);
    if (!parsed.isOk()) {
      fail(parsed);
      return false;
    }
    if (info_.auth_required) {
      if (options_.auth_secret.empty()) {
        fail(Status(Code::UNAUTHENTICATED,
                    addr_.toString() + " requires AUTH and no auth_secret is set"));
        return false;
      }
      state_ = State::Authenticating;
      std::string bytes = "AUTH\n";
      appendSizedBody(&bytes, options_.auth_secret);
      write(bytes);
      return true;
    }
  }
  // IDENTIFY (or AUTH, whose JSON answer names the identity) succeeded.
  state_ = State::Ready;
  if (!early_.empty()) {
    std::string queued;
    queued.swap(early_);
    if (!write(queued)) return false;
  }
  CallbackScope scope(in_callback_depth_);
  owner_->onReady(*this);
  return state_ != State::Closed;
}

Status NsqConnection::parseIdentifyAnswer(std::string_view data) {
  if (data == "OK") return Status::ok();  // a daemon without feature negotiation
  JsonReader r(data);
  Status st = r.beginObject();
  std::string key;
  while (st.isOk() && r.nextKey(&key)) {
    uint64_t n = 0;
    if (key == "max_rdy_count") {
      st = r.readUintTruncated(&n, UINT32_MAX);
      info_.max_rdy_count = static_cast<uint32_t>(n);
    } else if (key == "max_msg_timeout") {
      st = r.readUintTruncated(&n, INT64_MAX);
      info_.max_msg_timeout_ms = static_cast<int64_t>(n);
    } else if (key == "msg_timeout") {
      st = r.readUintTruncated(&n, INT64_MAX);
      info_.msg_timeout_ms = static_cast<int64_t>(n);
    } else if (key == "version") {
      st = r.readString(&info_.version);
    } else if (key == "auth_required") {
      st = r.readBool(&info_.auth_required);
    } else if (key == "tls_v1") {
      st = r.readBool(&info_.tls_v1);
    } else if (key == "deflate") {
      st = r.readBool(&info_.deflate);
    } else if (key == "snappy") {
      st = r.readBool(&info_.snappy);
    } else {
      st = r.skipValue();
    }
  }
  if (st.isOk()) st = r.status();
  if (st.isOk()) st = r.finish();
  if (!st.isOk()) {
    return Status(Code::PROTOCOL_ERROR,
                  "bad IDENTIFY answer from " + addr_.toString() + ": " + st.message());
  }
  if ((info_.tls_v1 && !options_.tls_v1) || (info_.deflate && !options_.deflate) ||
      (info_.snappy && !options_.snappy)) {
    return Status(Code::PROTOCOL_ERROR,
                  addr_.toString() + " turned on a stream feature that was not asked for");
  }
  if (info_.max_rdy_count == 0) info_.max_rdy_count = 1;
  return Status::ok();
}

void NsqConnection::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  conn_ = nullptr;
  if (state_ == State::Closed) return maybeDelete();
  fail(unavailable("connection to " + addr_.toString() + " closed (" +
                   net::TcpConnection::reasonName(reason) + ")"));
}

}  // namespace push::queue
