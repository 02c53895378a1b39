#include "sdk/client.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <list>
#include <mutex>
#include <thread>
#include <utility>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/host_resolver.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"
#include "proto/client.pb.h"
#include "sdk/backoff.h"
#include "sdk/dedup_window.h"

namespace push::sdk {

namespace {

using std::chrono::milliseconds;

// At most this many ids per Ack frame, so a large batch stays far below the room's 64 KiB
// frame limit (an id is at most 10 bytes on the wire).
constexpr size_t kMaxIdsPerAck = 1024;
// Output queued on one connection above which it is dropped (only a stalled room gets
// there: upstream and acks are bounded).
constexpr uint32_t kOutputHardLimit = 8u << 20;
// Bind tokens remembered at most (a room allows 8 apps per connection).
constexpr size_t kMaxBindTokens = 16;
// Bytes of an Upstream frame besides payload and app name (tags, lengths, seq).
constexpr size_t kUpstreamOverhead = 32;

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

// Largest heartbeat interval ClientOptions may allow (heartbeat_max_s, default_heartbeat_s).
constexpr uint32_t kMaxHeartbeatS = 3600;

// The interval to use for a room's AuthResult.heartbeat_interval_s (ClientOptions: 0 means
// none proposed; others are kept within [heartbeat_min_s, heartbeat_max_s]).
uint32_t heartbeatInterval(uint32_t proposed_s, const ClientOptions& options) {
  if (proposed_s == 0) return options.default_heartbeat_s;
  return std::clamp(proposed_s, options.heartbeat_min_s, options.heartbeat_max_s);
}

// How long to wait for a room's Reconnect{delay_ms}: at most max_reconnect_delay.
milliseconds reconnectDelay(uint32_t proposed_ms, const ClientOptions& options) {
  return std::min(milliseconds(proposed_ms), options.max_reconnect_delay);
}

}  // namespace

const char* stateName(State state) {
  switch (state) {
    case State::Disconnected:
      return "disconnected";
    case State::Connecting:
      return "connecting";
    case State::Authenticating:
      return "authenticating";
    case State::Online:
      return "online";
    case State::Backoff:
      return "backoff";
    case State::NeedsToken:
      return "needs_token";
    case State::Kicked:
      return "kicked";
    case State::Closed:
      return "closed";
  }
  return "unknown";
}

const char* errorName(int code) {
  switch (code) {
    case kErrorConnectFailed:
      return "SDK_CONNECT_FAILED";
    case kErrorConnectionLost:
      return "SDK_CONNECTION_LOST";
    case kErrorHeartbeatTimeout:
      return "SDK_HEARTBEAT_TIMEOUT";
    case kErrorAuthTimeout:
      return "SDK_AUTH_TIMEOUT";
    case kErrorProtocol:
      return "SDK_PROTOCOL_ERROR";
    default:
      break;
  }
  if (code >= 0 && code < 1000 && client::ErrorCode_IsValid(code)) {
    return client::ErrorCode_Name(static_cast<client::ErrorCode>(code)).c_str();
  }
  return "UNKNOWN";
}

// ------------------------------------------------------------------------------------ Impl

namespace {

// One entry of ClientOptions::servers: numeric (connected to directly) or a host name
// (resolved before every connection attempt, so a changed DNS record is followed).
struct ServerAddress {
  std::string text;  // for logs and state details
  std::string host;  // the name to resolve; empty when numeric
  uint16_t port = 0;
  net::InetAddress numeric;
};

// RFC 1123 host name: dot-separated labels of letters, digits and '-' (not at either end of
// a label), 1..63 bytes each, 253 in all; an optional final dot.
bool isHostName(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  // An all-digit last label ("10.1", "256.1.1.1", "2130706433") is a malformed number, not
  // a name: getaddrinfo would read it with inet_aton's legacy rules (RFC 1123 2.1).
  const size_t last_dot = host.rfind('.');
  const std::string_view last =
      last_dot == std::string_view::npos ? host : host.substr(last_dot + 1);
  if (last.find_first_not_of("0123456789") == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    const char c = i < host.size() ? host[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    ++label;
  }
  return true;
}

Result<ServerAddress> parseServer(const std::string& text) {
  ServerAddress server;
  if (auto addr = net::InetAddress::parse(text); addr.isOk()) {
    server.numeric = *addr;
    server.port = addr->port();
    server.text = addr->toString();
    return server;
  }
  const size_t colon = text.rfind(':');
  const std::string_view host = std::string_view(text).substr(0, std::min(colon, text.size()));
  uint32_t port = 0;
  bool port_ok = colon != std::string::npos && colon + 1 < text.size() && text.size() - colon <= 6;
  for (size_t i = colon + 1; port_ok && i < text.size(); ++i) {
    port_ok = text[i] >= '0' && text[i] <= '9';
    port = port * 10 + static_cast<uint32_t>(text[i] - '0');
  }
  if (!port_ok || port == 0 || port > 65535 || !isHostName(host)) {
    return invalidArgument(
        "servers: '" + text +
        "': want host:port (numeric IPv4, [IPv6] or a host name; port 1..65535)");
  }
  server.text = text;
  server.host = std::string(host);
  server.port = static_cast<uint16_t>(port);
  return server;
}

}  // namespace

class Client::Impl {
 public:
  Impl(ClientOptions options, std::vector<ServerAddress> servers);
  ~Impl();

  // Any thread.
  Status setCallbacks(Callbacks callbacks);
  Status connect();
  Status ack(uint64_t message_id);
  Result<uint64_t> sendUpstream(std::string_view app, std::string_view payload);
  Status setToken(std::string token);
  Status bind(std::string token);
  Status unbind(std::string app);
  void close();
  State state() const { return state_.load(std::memory_order_acquire); }
  bool onSdkThread() const {
    return sdk_thread_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // For ~Client on the SDK thread: close, and delete this object when the thread ends.
  void closeAndDeleteWhenDone();

 private:
  struct Link;
  enum class Role { Primary, Next, Other };
  struct PendingUpstream {
    uint64_t seq;
    std::string app;
    std::string payload;
  };
  struct BindEntry {
    std::string token;
    std::string app;  // empty until the room confirmed it
  };

  void threadMain();

  // Everything below runs on the SDK thread.
  void startInLoop();
  void connectInLoop();
  void openLink();
  void onResolved(Link& link, Result<std::vector<net::InetAddress>> result);
  // Connects to link.candidates[link.candidate].
  void connectCandidate(Link& link);
  void onConnected(Link& link, Result<net::TcpConnection*> result);
  size_t onLinkData(Link& link, const char* data, size_t len);
  void onLinkClosed(Link& link, net::TcpConnection::CloseReason reason);
  void onLinkTimer(Link& link);
  void onFrame(Link& link, const client::Frame& frame);
  void onAuthResult(Link& link, const client::AuthResult& result);
  void onPush(Link& link, const client::Push& push);
  void onUpstreamAck(Link& link, const client::UpstreamAck& ack);
  void onBindResult(Link& link, const client::BindResult& result);
  void onReconnect(Link& link, const client::Reconnect& reconnect);
  void onErrorFrame(Link& link, const client::Error& error);

  bool sendFrame(Link& link, const client::Frame& frame);
  void sendAuth(Link& link);
  void sendBind(Link& link, const std::string& token);
  void sendUpstreamFrame(Link& link, PendingUpstream up);
  void flushAcks(Link& link);
  void flushManualAcks();
  void armHeartbeat(Link& link);

  Role roleOf(const Link& link) const;
  // Closes the link's connection (graceful: acks flushed, FIN, wait for the room's FIN, at
  // most close_timeout) and takes it out of primary_/next_. The Link is deleted once its
  // connection, connector or resolver has finished (removeLink). Idempotent.
  void closeLink(Link& link, bool graceful);
  // The link failed: close it, report `code` (unless 0), and connect again as needed.
  void linkFailed(Link& link, int code, const std::string& why, bool graceful);
  void removeLink(Link& link);
  void retire(Link& link);
  void scheduleRetry(milliseconds delay, bool report);
  void onRetryTimer();
  bool reconnectAllowed() const;
  void enterTerminal(State state, std::string detail);
  // Sets state_ unless close() made it Closed (close() may run on another thread meanwhile).
  void storeState(State state);
  void setState(State state, std::string detail);
  void closeInLoop();
  void maybeFinishClose();
  Link* onlineLink() const;
  // Work posted before close() that runs after it is dropped.
  bool stopped() const { return closing_ || closed_.load(std::memory_order_acquire); }
  void failUpstream(uint64_t seq, int code, const std::string& message);

  template <typename Fn, typename... Args>
  void invoke(const Fn& fn, Args&&... args);

  // Immutable after create().
  const ClientOptions options_;
  const std::vector<ServerAddress> servers_;
  net::TcpConnection::Limits limits_;

  net::EventLoop loop_;
  std::thread thread_;
  std::atomic<std::thread::id> sdk_thread_{};
  std::atomic<State> state_{State::Disconnected};
  std::atomic<bool> closed_{false};    // close() called: no more callbacks, no more work
  std::atomic<uint64_t> next_seq_{1};  // upstream seqs
  std::atomic<size_t> upstream_pending_{0};

  std::mutex mu_;                  // guards started_, callbacks_ (until started), join
  bool started_ = false;           // the SDK thread exists
  Callbacks callbacks_;            // read-only on the SDK thread once started_
  std::mutex join_mu_;             // one joiner at a time
  bool delete_when_done_ = false;  // SDK thread only

  // SDK thread only.
  std::string token_;
  net::PeriodicTimerPtr retry_timer_;  // reset by closeInLoop(), before the loop shuts down
  Backoff backoff_;
  DedupWindow dedup_;
  std::list<std::unique_ptr<Link>> links_;  // every link not yet finished
  Link* primary_ = nullptr;                 // the connection the state describes
  Link* next_ = nullptr;                    // make-before-break: the replacement being established
  size_t server_index_ = 0;                 // where the next connection attempt goes
  uint64_t link_serial_ = 0;
  std::deque<PendingUpstream> upstream_queue_;  // waiting to be online
  std::deque<uint64_t> manual_acks_;            // ack() calls not written yet
  bool manual_flush_posted_ = false;
  std::vector<BindEntry> binds_;
  client::Frame frame_;  // parsing reuses its memory
  bool closing_ = false;
};

// One connection to one room, from the connect attempt until its connection has closed.
// It is the TcpConnection's handler; the Impl owns it (links_).
struct Client::Impl::Link final : net::TcpConnection::Handler {
  enum class Phase : uint8_t { Connecting, Authenticating, Online, Closing };

  Link(Impl& owner, size_t server_index, uint64_t id)
      : impl(owner), server(server_index), serial(id) {}

  size_t onData(net::TcpConnection&, const char* data, size_t len) override {
    return impl.onLinkData(*this, data, len);
  }
  void onClosed(net::TcpConnection&, net::TcpConnection::CloseReason reason) override {
    impl.onLinkClosed(*this, reason);
  }

  Impl& impl;
  const size_t server;                     // index into servers_
  const uint64_t serial;                   // for logs
  net::HostResolver* resolver = nullptr;   // while the server's name is being resolved
  net::TcpConnector* connector = nullptr;  // while the connect is in progress
  // The addresses of the server (one when numeric, the resolver's answer otherwise), tried
  // in order within this attempt until one connects.
  std::vector<net::InetAddress> candidates;
  size_t candidate = 0;
  net::TcpConnection* conn = nullptr;  // from connected until onClosed
  // Authenticating: the auth deadline. Online: heartbeat and liveness (or the switch grace
  // when retiring). Closing: the bound on a graceful close.
  net::PeriodicTimerPtr timer;
  Phase phase = Phase::Connecting;
  bool was_online = false;
  bool retiring = false;  // replaced by a newer connection; closes after switch_grace
  uint32_t heartbeat_s = 0;
  int64_t last_send_ms = 0;
  int64_t last_recv_ms = 0;
  int64_t online_since_ms = 0;
  std::string room;
  std::vector<uint64_t> acks;               // written at the end of this loop turn
  std::vector<uint64_t> upstream_inflight;  // seqs waiting for UpstreamAck
  std::deque<std::string> binds_inflight;   // tokens of Binds waiting for BindResult
};

Client::Impl::Impl(ClientOptions options, std::vector<ServerAddress> servers)
    : options_(std::move(options)),
      servers_(std::move(servers)),
      backoff_({options_.backoff_initial, options_.backoff_max, options_.backoff_jitter}),
      dedup_(options_.dedup_window) {
  limits_.max_input = options_.max_frame_bytes + static_cast<uint32_t>(net::kLengthPrefixBytes);
  limits_.hard_limit = kOutputHardLimit;
  limits_.high_watermark = kOutputHardLimit;
  limits_.low_watermark = kOutputHardLimit / 2;
  token_ = options_.token;
}

Client::Impl::~Impl() {
  if (!delete_when_done_) close();
}

template <typename Fn, typename... Args>
void Client::Impl::invoke(const Fn& fn, Args&&... args) {
  if (!fn || closed_.load(std::memory_order_acquire)) return;
  // A callback is user code called from a libuv callback: nothing may unwind through C.
  try {
    fn(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    LOG_ERROR(Sdk, "a callback threw (ignored): {}", e.what());
  } catch (...) {
    LOG_ERROR(Sdk, "a callback threw a non-std exception (ignored)");
  }
}

// ------------------------------------------------------------------ public, any thread

Status Client::Impl::setCallbacks(Callbacks callbacks) {
  std::lock_guard lock(mu_);
  if (started_ || closed_) {
    return Status(Code::FAILED_PRECONDITION, "callbacks can only be set before connect()");
  }
  callbacks_ = std::move(callbacks);
  return Status::ok();
}

Status Client::Impl::connect() {
  std::lock_guard lock(mu_);
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  if (started_) {
    loop_.post([this] { connectInLoop(); });
    return Status::ok();
  }
  started_ = true;
  loop_.post([this] { startInLoop(); });
  thread_ = std::thread([this] { threadMain(); });
  sdk_thread_.store(thread_.get_id(), std::memory_order_release);
  return Status::ok();
}

Status Client::Impl::ack(uint64_t message_id) {
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  loop_.post([this, message_id] {
    if (stopped()) return;
    dedup_.markAcked(message_id);
    manual_acks_.push_back(message_id);
    if (manual_acks_.size() > options_.max_pending_acks) manual_acks_.pop_front();
    if (!manual_flush_posted_) {
      // Every ack() of this batch of posted work goes out in one frame.
      manual_flush_posted_ = true;
      loop_.post([this] {
        manual_flush_posted_ = false;
        if (!stopped()) flushManualAcks();
      });
    }
  });
  return Status::ok();
}

Result<uint64_t> Client::Impl::sendUpstream(std::string_view app, std::string_view payload) {
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  if (payload.size() + app.size() + kUpstreamOverhead > options_.max_frame_bytes) {
    return invalidArgument("upstream of " + std::to_string(payload.size()) +
                           " bytes does not fit in a frame of " +
                           std::to_string(options_.max_frame_bytes) + " bytes");
  }
  if (upstream_pending_.fetch_add(1) >= options_.max_pending_upstream) {
    upstream_pending_.fetch_sub(1);
    return Status(Code::OVERLOADED, std::to_string(options_.max_pending_upstream) +
                                        " upstream messages pending already");
  }
  const uint64_t seq = next_seq_.fetch_add(1);
  loop_.post([this, up = PendingUpstream{seq, std::string(app), std::string(payload)}]() mutable {
    if (stopped()) return;
    if (Link* link = onlineLink()) {
      sendUpstreamFrame(*link, std::move(up));
    } else {
      upstream_queue_.push_back(std::move(up));
    }
  });
  return seq;
}

Status Client::Impl::setToken(std::string token) {
  if (token.empty()) return invalidArgument("empty token");
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  loop_.post([this, token = std::move(token)]() mutable {
    if (stopped()) return;
    token_ = std::move(token);
    if (state_ == State::NeedsToken) {
      backoff_.reset();
      openLink();
    }
  });
  return Status::ok();
}

Status Client::Impl::bind(std::string token) {
  if (token.empty()) return invalidArgument("empty token");
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  loop_.post([this, token = std::move(token)] {
    if (stopped()) return;
    if (binds_.size() >= kMaxBindTokens) {
      invoke(callbacks_.on_bind, std::string(), static_cast<int>(client::ERROR_TOO_MANY_APPS),
             "at most " + std::to_string(kMaxBindTokens) + " bind tokens");
      return;
    }
    binds_.push_back({token, ""});
    if (Link* link = onlineLink()) sendBind(*link, token);
  });
  return Status::ok();
}

Status Client::Impl::unbind(std::string app) {
  if (app.empty()) return invalidArgument("empty app");
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  loop_.post([this, app = std::move(app)] {
    if (stopped()) return;
    std::erase_if(binds_, [&](const BindEntry& e) { return e.app == app; });
    if (Link* link = onlineLink()) {
      client::Frame frame;
      frame.mutable_unbind()->set_app(app);
      sendFrame(*link, frame);
    }
  });
  return Status::ok();
}

void Client::Impl::close() {
  {
    std::lock_guard lock(mu_);
    if (!closed_.exchange(true)) {
      state_.store(State::Closed, std::memory_order_release);
      if (started_) loop_.post([this] { closeInLoop(); });
    }
    if (!started_) return;
  }
  if (onSdkThread()) return;  // from a callback: the thread ends after it returns
  std::lock_guard join(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void Client::Impl::closeAndDeleteWhenDone() {
  close();
  delete_when_done_ = true;
  thread_.detach();
}

void Client::Impl::threadMain() {
  sdk_thread_.store(std::this_thread::get_id(), std::memory_order_release);
  loop_.run();
  Status st = loop_.shutdown();
  if (!st.isOk()) LOG_WARN(Sdk, "client loop shutdown: {}", st.toString());
  if (delete_when_done_) delete this;
}

// ------------------------------------------------------------------ SDK thread

void Client::Impl::startInLoop() {
  if (stopped()) return;
  retry_timer_ = net::PeriodicTimer::create(loop_, [this] { onRetryTimer(); });
  connectInLoop();
}

void Client::Impl::connectInLoop() {
  if (stopped()) return;
  switch (state_.load()) {
    case State::Disconnected:
    case State::Kicked:
    case State::NeedsToken:
      if (token_.empty()) {
        enterTerminal(State::NeedsToken, "code=SDK_NO_TOKEN message=no token set");
        return;
      }
      backoff_.reset();
      openLink();
      break;
    case State::Backoff:
      retry_timer_->stop();
      openLink();
      break;
    default:
      break;  // connecting or online already
  }
}

void Client::Impl::openLink() {
  auto owned = std::make_unique<Link>(*this, server_index_, ++link_serial_);
  Link* link = owned.get();
  links_.push_back(std::move(owned));
  if (primary_ && primary_->phase == Link::Phase::Online) {
    next_ = link;
  } else {
    primary_ = link;
  }
  const ServerAddress& server = servers_[link->server];
  if (link == primary_) setState(State::Connecting, "server=" + server.text);
  if (server.host.empty()) {
    link->candidates = {server.numeric};
    connectCandidate(*link);
    return;
  }
  LOG_DEBUG(Sdk, "link {}: resolving {}", link->serial, server.host);
  link->resolver = net::HostResolver::start(
      loop_, server.host, server.port, options_.connect_timeout,
      [this, link](Result<std::vector<net::InetAddress>> r) { onResolved(*link, std::move(r)); });
}

void Client::Impl::onResolved(Link& link, Result<std::vector<net::InetAddress>> result) {
  link.resolver = nullptr;
  if (link.phase == Link::Phase::Closing) {  // closed while resolving
    removeLink(link);
    return;
  }
  if (!result.isOk()) {
    linkFailed(link, kErrorConnectFailed, result.status().message(), false);
    removeLink(link);
    return;
  }
  link.candidates = std::move(*result);
  link.candidate = 0;
  connectCandidate(link);
}

void Client::Impl::connectCandidate(Link& link) {
  const net::InetAddress& addr = link.candidates[link.candidate];
  LOG_DEBUG(Sdk, "link {}: connecting to {} ({})", link.serial, addr.toString(),
            servers_[link.server].text);
  link.connector = net::TcpConnector::start(
      loop_, addr, options_.connect_timeout,
      [this, l = &link](Result<net::TcpConnection*> r) { onConnected(*l, std::move(r)); });
}

void Client::Impl::onConnected(Link& link, Result<net::TcpConnection*> result) {
  link.connector = nullptr;
  if (!result.isOk()) {
    if (link.phase != Link::Phase::Closing && link.candidate + 1 < link.candidates.size()) {
      LOG_DEBUG(Sdk, "link {}: {}; trying the next address", link.serial,
                result.status().message());
      ++link.candidate;
      connectCandidate(link);
      return;
    }
    if (link.phase != Link::Phase::Closing) {
      linkFailed(link, kErrorConnectFailed, result.status().message(), false);
    }
    removeLink(link);
    return;
  }
  net::TcpConnection* conn = *result;
  if (link.phase == Link::Phase::Closing) {  // closed while connecting
    conn->close();
    removeLink(link);
    return;
  }
  link.conn = conn;
  conn->setId(link.serial);
  conn->start(&link, &limits_);
  link.phase = Link::Phase::Authenticating;
  link.last_recv_ms = loop_.nowMs();
  link.timer = net::PeriodicTimer::create(loop_, [this, l = &link] { onLinkTimer(*l); });
  link.timer->start(options_.auth_timeout, false);
  sendAuth(link);
  if (&link == primary_) {
    setState(State::Authenticating, "server=" + servers_[link.server].text);
  }
}

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
  link.heartbeat_s = heartbeatInterval(result.heartbeat_interval_s(), options_);
  link.room = result.room();
  server_index_ = link.server;  // sticky: come back here after a drop
  if (&link == next_) {
    Link* old = primary_;
    primary_ = &link;
    next_ = nullptr;
    if (old) retire(*old);
  }
  armHeartbeat(link);
  LOG_DEBUG(Sdk, "link {}: online at room {} (heartbeat {} s)", link.serial, link.room,
            link.heartbeat_s);
  setState(State::Online, "room=" + link.room + " server=" + servers_[link.server].text +
                              " heartbeat=" + std::to_string(link.heartbeat_s));
  if (link.phase != Link::Phase::Online || closing_) return;  // the callback changed things
  for (const BindEntry& entry : binds_)
    sendBind(link, entry.token);
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
  if (fresh) {
    Message message;
    message.id = id;
    message.app = push.app();
    message.payload = push.payload();
    message.qos = push.qos();
    message.created_ms = push.created_ms();
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
  invoke(callbacks_.on_upstream_ack, ack.seq(), static_cast<int>(ack.code()), ack.message());
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
    // A newer token for the same app replaces the older one.
    std::erase_if(binds_,
                  [&](const BindEntry& e) { return e.app == result.app() && e.token != token; });
    if (first) invoke(callbacks_.on_bind, result.app(), 0, std::string());
    return;
  }
  binds_.erase(it);
  invoke(callbacks_.on_bind, result.app(), static_cast<int>(result.code()), result.message());
}

void Client::Impl::onReconnect(Link& link, const client::Reconnect& reconnect) {
  if (&link != primary_ || next_) return;  // a retiring connection, or moving already
  const milliseconds delay = reconnectDelay(reconnect.delay_ms(), options_);
  LOG_DEBUG(Sdk, "link {}: room {} asks to reconnect in {} ms ({}); waiting {} ms", link.serial,
            link.room, reconnect.delay_ms(), reconnect.reason(), delay.count());
  // This room is going away: start with the next address. The room keeps the old connection
  // for delay + a grace, so the new one is authenticated before the old one closes.
  server_index_ = (link.server + 1) % servers_.size();
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
  if (code == client::ERROR_DRAINING) {
    server_index_ = (link.server + 1) % servers_.size();
  }
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
  auth->set_network(static_cast<client::NetworkType>(options_.network));
  auth->set_client_version(options_.client_version);
  for (uint64_t id : dedup_.recent(options_.auth_recent_ids))
    auth->add_recent_message_ids(id);
  sendFrame(link, frame);
}

void Client::Impl::sendBind(Link& link, const std::string& token) {
  client::Frame frame;
  frame.mutable_bind()->set_token(token);
  if (sendFrame(link, frame)) link.binds_inflight.push_back(token);
}

void Client::Impl::sendUpstreamFrame(Link& link, PendingUpstream up) {
  client::Frame frame;
  auto* u = frame.mutable_upstream();
  u->set_seq(up.seq);
  u->set_app(std::move(up.app));
  u->set_payload(std::move(up.payload));
  if (sendFrame(link, frame)) {
    link.upstream_inflight.push_back(up.seq);
  } else {
    failUpstream(up.seq, kErrorConnectionLost, "connection closed before the upstream was sent");
  }
}

void Client::Impl::failUpstream(uint64_t seq, int code, const std::string& message) {
  upstream_pending_.fetch_sub(1);
  invoke(callbacks_.on_upstream_ack, seq, code, message);
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

// ------------------------------------------------------------------ links and states

Client::Impl::Link* Client::Impl::onlineLink() const {
  return primary_ && primary_->phase == Link::Phase::Online ? primary_ : nullptr;
}

Client::Impl::Role Client::Impl::roleOf(const Link& link) const {
  if (&link == primary_) return Role::Primary;
  if (&link == next_) return Role::Next;
  return Role::Other;
}

void Client::Impl::closeLink(Link& link, bool graceful) {
  if (link.phase == Link::Phase::Closing) return;
  link.phase = Link::Phase::Closing;
  if (&link == primary_) primary_ = nullptr;
  if (&link == next_) next_ = nullptr;
  if (link.resolver) {
    link.resolver->cancel();  // onResolved follows with CANCELLED
  } else if (link.connector) {
    link.connector->cancel();  // onConnected follows with CANCELLED
  } else if (link.conn) {
    if (graceful) {
      flushAcks(link);
      link.conn->closeAfterFlush();
      if (link.timer) link.timer->start(options_.close_timeout, false);
    } else {
      link.conn->close();
    }
  }
  for (uint64_t seq : link.upstream_inflight) {
    failUpstream(seq, kErrorConnectionLost, "connection closed before UpstreamAck");
  }
  link.upstream_inflight.clear();
}

void Client::Impl::linkFailed(Link& link, int code, const std::string& why, bool graceful) {
  const Role role = roleOf(link);
  const bool was_online = link.phase == Link::Phase::Online;
  LOG_DEBUG(Sdk, "link {}: {} ({})", link.serial, why.empty() ? "closed" : why,
            code ? errorName(code) : "reported");
  closeLink(link, graceful);
  if (role == Role::Other) return;  // a retiring connection: nobody depends on it
  if (code != 0) invoke(callbacks_.on_error, code, why);
  if (!reconnectAllowed()) return;
  if (role == Role::Next) {
    // The replacement failed; the current connection still works. Try the next address.
    server_index_ = (link.server + 1) % servers_.size();
    scheduleRetry(backoff_.next(), false);
    return;
  }
  if (next_) {  // the replacement takes over
    primary_ = next_;
    next_ = nullptr;
    const State s =
        primary_->phase == Link::Phase::Connecting ? State::Connecting : State::Authenticating;
    setState(s, "server=" + servers_[primary_->server].text);
    return;
  }
  if (was_online) {
    // It worked until now: try the same room first, and forgive the past after a long run.
    if (loop_.nowMs() - link.online_since_ms >= options_.backoff_reset_after.count()) {
      backoff_.reset();
    }
  } else if (code != 0 || server_index_ == link.server) {
    server_index_ = (link.server + 1) % servers_.size();
  }
  scheduleRetry(backoff_.next(), true);
}

void Client::Impl::onLinkClosed(Link& link, net::TcpConnection::CloseReason reason) {
  link.conn = nullptr;
  if (link.phase != Link::Phase::Closing) {
    linkFailed(link, kErrorConnectionLost,
               std::string("connection closed (") + net::TcpConnection::reasonName(reason) + ")",
               false);
  }
  removeLink(link);
}

void Client::Impl::removeLink(Link& link) {
  link.timer.reset();
  if (primary_ == &link) primary_ = nullptr;
  if (next_ == &link) next_ = nullptr;
  links_.remove_if([&](const std::unique_ptr<Link>& l) { return l.get() == &link; });
  maybeFinishClose();
}

void Client::Impl::retire(Link& link) {
  link.retiring = true;
  flushAcks(link);
  if (link.phase == Link::Phase::Online) link.timer->start(options_.switch_grace, false);
}

void Client::Impl::scheduleRetry(milliseconds delay, bool report) {
  retry_timer_->start(delay, false);
  if (report) {
    setState(State::Backoff, "delay_ms=" + std::to_string(delay.count()) +
                                 " attempt=" + std::to_string(backoff_.attempts()));
  }
}

void Client::Impl::onRetryTimer() {
  if (!reconnectAllowed() || next_) return;
  if (primary_ && primary_->phase != Link::Phase::Online) return;  // connecting already
  openLink();
}

bool Client::Impl::reconnectAllowed() const {
  const State s = state_.load();
  return !stopped() && s != State::NeedsToken && s != State::Kicked && s != State::Closed;
}

void Client::Impl::enterTerminal(State state, std::string detail) {
  if (stopped()) return;
  storeState(state);  // first: closing links must not reconnect
  if (retry_timer_) retry_timer_->stop();
  std::vector<Link*> open;
  for (auto& l : links_)
    open.push_back(l.get());
  for (Link* l : open)
    closeLink(*l, true);
  LOG_DEBUG(Sdk, "{}: {}", stateName(state), detail);
  setState(state, std::move(detail));
}

void Client::Impl::storeState(State state) {
  State current = state_.load(std::memory_order_acquire);
  while (current != State::Closed && !state_.compare_exchange_weak(current, state)) {
  }
}

void Client::Impl::setState(State state, std::string detail) {
  if (stopped()) return;
  storeState(state);
  invoke(callbacks_.on_state, state, detail);
}

void Client::Impl::closeInLoop() {
  if (closing_) return;
  closing_ = true;
  retry_timer_.reset();
  std::vector<Link*> open;
  for (auto& l : links_)
    open.push_back(l.get());
  for (Link* l : open)
    closeLink(*l, true);
  upstream_queue_.clear();
  maybeFinishClose();
}

void Client::Impl::maybeFinishClose() {
  if (closing_ && links_.empty()) loop_.stop();
}

// ------------------------------------------------------------------------------------ Client

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  if (options.servers.empty()) return invalidArgument("servers: at least one address");
  std::vector<ServerAddress> servers;
  for (const std::string& s : options.servers) {
    auto server = parseServer(s);
    if (!server.isOk()) return server.status();
    servers.push_back(std::move(*server));
  }
  auto in = [](milliseconds v, milliseconds lo, milliseconds hi) { return v >= lo && v <= hi; };
  if (!in(options.connect_timeout, milliseconds(1), std::chrono::minutes(10))) {
    return invalidArgument("connect_timeout: 1 ms..10 min");
  }
  if (!in(options.auth_timeout, milliseconds(1), std::chrono::minutes(10))) {
    return invalidArgument("auth_timeout: 1 ms..10 min");
  }
  if (options.backoff_initial.count() < 1 || options.backoff_max < options.backoff_initial) {
    return invalidArgument("backoff_initial: at least 1 ms and at most backoff_max");
  }
  if (!(options.backoff_jitter >= 0 && options.backoff_jitter < 1)) {
    return invalidArgument("backoff_jitter: 0 <= jitter < 1");
  }
  if (options.max_frame_bytes < 1024 || options.max_frame_bytes > (16u << 20)) {
    return invalidArgument("max_frame_bytes: 1 KiB..16 MiB");
  }
  if (options.dedup_window < 1) return invalidArgument("dedup_window: at least 1");
  auto heartbeat_ok = [](uint32_t s) { return s >= 1 && s <= kMaxHeartbeatS; };
  if (!heartbeat_ok(options.heartbeat_min_s) || !heartbeat_ok(options.heartbeat_max_s) ||
      !heartbeat_ok(options.default_heartbeat_s) ||
      options.heartbeat_min_s > options.default_heartbeat_s ||
      options.default_heartbeat_s > options.heartbeat_max_s) {
    return invalidArgument(
        "heartbeat_min_s, default_heartbeat_s, heartbeat_max_s: 1..3600 s and in that order");
  }
  if (!in(options.max_reconnect_delay, milliseconds(0), std::chrono::hours(1))) {
    return invalidArgument("max_reconnect_delay: 0..1 h");
  }
  if (options.max_pending_upstream < 1) return invalidArgument("max_pending_upstream: at least 1");
  if (options.switch_grace.count() < 0 || options.close_timeout.count() < 1 ||
      options.backoff_reset_after.count() < 0) {
    return invalidArgument("switch_grace, close_timeout, backoff_reset_after: not negative");
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(servers));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_ && impl_->onSdkThread()) {
    impl_.release()->closeAndDeleteWhenDone();  // cannot join our own thread
  }
}

Status Client::setCallbacks(Callbacks callbacks) {
  return impl_->setCallbacks(std::move(callbacks));
}
Status Client::connect() {
  return impl_->connect();
}
Status Client::ack(uint64_t message_id) {
  return impl_->ack(message_id);
}
Result<uint64_t> Client::sendUpstream(std::string_view app, std::string_view payload) {
  return impl_->sendUpstream(app, payload);
}
Status Client::setToken(std::string token) {
  return impl_->setToken(std::move(token));
}
Status Client::bind(std::string token) {
  return impl_->bind(std::move(token));
}
Status Client::unbind(std::string app) {
  return impl_->unbind(std::move(app));
}
void Client::close() {
  impl_->close();
}
State Client::state() const {
  return impl_->state();
}

}  // namespace push::sdk
