#include "sdk/client.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/base/tag_name.h"
#include "common/net/frame_codec.h"
#include "sdk/client_impl.h"
#include "sdk/server_address.h"

// Client and Client::Impl: creation (options checked), the public methods, which post work
// to the SDK thread, and the SDK thread's start and end. The rest of Client::Impl is
// client_links.cc (connections, reconnect, states) and client_frames.cc (the protocol on a
// connection); its declaration is client_impl.h.

namespace push::sdk {

namespace {

using std::chrono::milliseconds;

// Output queued on one connection above which it is dropped (only a stalled room gets
// there: upstream and acks are bounded).
constexpr uint32_t kOutputHardLimit = 8u << 20;
// Bind tokens remembered at most (a room allows 8 apps per connection).
constexpr size_t kMaxBindTokens = 16;
// Tags in one subscribe()/unsubscribe() at most (a room's maximum per connection and app).
constexpr size_t kMaxTagsPerRequest = 4096;
// Upstream.type: at most this many bytes (the room's limit, proto/client.proto).
constexpr size_t kMaxUpstreamTypeBytes = 64;
// Bytes of an Upstream frame besides payload, app name and type (tags, lengths, seq).
constexpr size_t kUpstreamOverhead = 32;

// Largest heartbeat interval ClientOptions may allow (heartbeat_max_s, default_heartbeat_s).
constexpr uint32_t kMaxHeartbeatS = 3600;

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

const char* networkName(Network network) {
  switch (network) {
    case Network::Wifi:
      return "wifi";
    case Network::Cellular:
      return "cellular";
    case Network::Ethernet:
      return "ethernet";
    case Network::Unknown:
      break;
  }
  return "unknown";
}

bool validTag(std::string_view tag) {
  return isValidTagName(tag);
}

bool validUpstreamType(std::string_view type) {
  if (type.size() > kMaxUpstreamTypeBytes) return false;
  return std::all_of(type.begin(), type.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
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

Client::Impl::Impl(ClientOptions options, std::vector<ServerAddress> servers,
                   std::optional<HttpUrl> dispatcher)
    : options_(std::move(options)),
      servers_(std::move(servers)),
      dispatcher_(std::move(dispatcher)),
      backoff_({options_.backoff_initial, options_.backoff_max, options_.backoff_jitter}),
      dedup_(options_.dedup_window) {
  limits_.max_input = options_.max_frame_bytes + static_cast<uint32_t>(net::kLengthPrefixBytes);
  limits_.hard_limit = kOutputHardLimit;
  limits_.high_watermark = kOutputHardLimit;
  limits_.low_watermark = kOutputHardLimit / 2;
  token_ = options_.token;
  network_ = options_.network;
  if (!dispatcher_) {
    // No dispatcher: the configured list for good.
    targets_ = servers_;
    targets_until_ms_ = INT64_MAX;
    route_stale_ = false;
  }
}

Client::Impl::~Impl() {
  if (!delete_when_done_) close();
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

Result<uint64_t> Client::Impl::sendUpstream(std::string_view app, std::string_view payload,
                                            std::string_view type) {
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  if (!validUpstreamType(type)) {
    return invalidArgument("upstream type: at most 64 bytes of [A-Za-z0-9._-]");
  }
  if (payload.size() + app.size() + type.size() + kUpstreamOverhead > options_.max_frame_bytes) {
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
  loop_.post([this, up = PendingUpstream{seq, std::string(app), std::string(type),
                                         std::string(payload)}]() mutable {
    if (stopped()) return;
    if (Link* link = onlineLink()) {
      sendUpstreamFrame(*link, std::move(up));
    } else {
      upstream_queue_.push_back(std::move(up));
    }
  });
  return seq;
}

uint64_t Client::Impl::lastBroadcastSeq(const std::string& app) const {
  std::lock_guard lock(seq_mu_);
  auto it = broadcast_seqs_.find(app);
  return it == broadcast_seqs_.end() ? 0 : it->second;
}

Status Client::Impl::setLastBroadcastSeq(const std::string& app, uint64_t seq) {
  if (app.empty()) return invalidArgument("empty app");
  std::lock_guard lock(seq_mu_);
  if (seq == 0) {
    broadcast_seqs_.erase(app);
  } else {
    broadcast_seqs_[app] = seq;
  }
  return Status::ok();
}

void Client::Impl::noteBroadcastSeq(const std::string& app, uint64_t seq, bool if_none) {
  if (seq == 0 || app.empty()) return;
  std::lock_guard lock(seq_mu_);
  uint64_t& known = broadcast_seqs_[app];
  if (if_none && known != 0) return;
  known = std::max(known, seq);
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

Status Client::Impl::setNetworkType(Network network) {
  if (static_cast<int>(network) > static_cast<int>(Network::Ethernet)) {
    return invalidArgument("network: not a Network value");
  }
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  // Before connect() this runs first on the SDK thread, before the first attempt.
  loop_.post([this, network] {
    if (!stopped()) onNetworkChange(network);
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
    subscribed_.erase(app);  // the room drops the app's tags with it
    if (Link* link = onlineLink()) {
      client::Frame frame;
      frame.mutable_unbind()->set_app(app);
      sendFrame(*link, frame);
    }
  });
  return Status::ok();
}

Result<uint64_t> Client::Impl::tagRequest(std::string app, std::vector<std::string> tags,
                                          bool subscribe) {
  if (app.empty()) return invalidArgument("empty app");
  if (tags.empty()) return invalidArgument("no tags");
  if (tags.size() > kMaxTagsPerRequest) {
    return invalidArgument("at most " + std::to_string(kMaxTagsPerRequest) + " tags");
  }
  for (const std::string& tag : tags) {
    if (!validTag(tag)) {
      return invalidArgument("bad tag name '" + tag.substr(0, 64) +
                             "': 1..64 bytes of [A-Za-z0-9_.:-]");
    }
  }
  if (closed_) return Status(Code::CANCELLED, "client is closed");
  const uint64_t seq = next_seq_.fetch_add(1);
  loop_.post([this, req = TagRequest{seq, std::move(app), std::move(tags), subscribe}]() mutable {
    if (stopped()) return;
    std::set<std::string>& held = subscribed_[req.app];
    for (const std::string& tag : req.tags) {
      if (req.subscribe) {
        held.insert(tag);
      } else {
        held.erase(tag);
      }
    }
    if (held.empty()) subscribed_.erase(req.app);
    tag_queue_.push_back(std::move(req));
    flushTagQueue();
  });
  return seq;
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

// ------------------------------------------------------------------------------------ Client

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  if (options.servers.empty() && options.dispatcher.empty()) {
    return invalidArgument("servers: at least one address (or a dispatcher)");
  }
  std::optional<HttpUrl> dispatcher;
  if (!options.dispatcher.empty()) {
    auto url = HttpUrl::parse(options.dispatcher);
    if (!url.isOk()) return url.status();
    dispatcher = std::move(*url);
  }
  if (options.region.size() > 64 ||
      !std::all_of(options.region.begin(), options.region.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      })) {
    return invalidArgument("region: at most 64 bytes of [A-Za-z0-9._-]");
  }
  if (options.route_failures < 1 || options.route_failures > 100) {
    return invalidArgument("route_failures: 1..100");
  }
  if (static_cast<int>(options.network) > static_cast<int>(Network::Ethernet)) {
    return invalidArgument("network: not a Network value");
  }
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
  if (!in(options.route_timeout, milliseconds(10), std::chrono::minutes(1))) {
    return invalidArgument("route_timeout: 10 ms..60 s");
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
  auto impl = std::make_unique<Impl>(std::move(options), std::move(servers), std::move(dispatcher));
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
Result<uint64_t> Client::sendUpstream(std::string_view app, std::string_view payload,
                                      std::string_view type) {
  return impl_->sendUpstream(app, payload, type);
}
Status Client::setToken(std::string token) {
  return impl_->setToken(std::move(token));
}
Status Client::setNetworkType(Network network) {
  return impl_->setNetworkType(network);
}
Status Client::bind(std::string token) {
  return impl_->bind(std::move(token));
}
Status Client::unbind(std::string app) {
  return impl_->unbind(std::move(app));
}
Result<uint64_t> Client::subscribe(std::string app, std::vector<std::string> tags) {
  return impl_->tagRequest(std::move(app), std::move(tags), true);
}
Result<uint64_t> Client::unsubscribe(std::string app, std::vector<std::string> tags) {
  return impl_->tagRequest(std::move(app), std::move(tags), false);
}
void Client::close() {
  impl_->close();
}
uint64_t Client::lastBroadcastSeq(const std::string& app) const {
  return impl_->lastBroadcastSeq(app);
}
Status Client::setLastBroadcastSeq(const std::string& app, uint64_t seq) {
  return impl_->setLastBroadcastSeq(app, seq);
}
State Client::state() const {
  return impl_->state();
}

}  // namespace push::sdk
