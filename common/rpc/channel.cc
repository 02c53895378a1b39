#include "common/rpc/channel.h"

#include <uv.h>

#include <algorithm>
#include <future>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/loop_wheel.h"
#include "common/net/tcp_connector.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/frame.h"
#include "proto/config.pb.h"
#include "proto/rpc.pb.h"

namespace push::rpc {

namespace pb = google::protobuf;

namespace {

constexpr int64_t kTickMs = 10;          // reconnect checks
constexpr int64_t kDeadlineTickMs = 2;   // deadline resolution
constexpr size_t kDeadlineSlots = 4096;  // ~8 s per wheel turn
constexpr uint32_t kMinRequestBytes = 1u << 10;
constexpr uint32_t kMaxRequestBytes = 256u << 20;
constexpr size_t kMaxClusterKeyBytes = 1024;
// A connection that stayed up this long counts as healthy when it closes, even if it carried
// no response: its slot's reconnect backoff starts over.
constexpr int64_t kHealthyAfterMs = 1000;

struct ClientMetrics {
  std::array<metrics::Counter*, 16> calls{};
  metrics::Histogram& seconds = metrics::Registry::global().histogram(
      "push_rpc_client_call_seconds", "Client call latency, all channels.",
      metrics::latencyBuckets());
  metrics::Counter& late = metrics::Registry::global().counter(
      "push_rpc_client_late_responses_total", "Responses that arrived after their call timed out.");
  metrics::Counter& retries = metrics::Registry::global().counter(
      "push_rpc_client_retries_total", "Calls re-sent after a server did not execute them.");
  metrics::Counter& oversized = metrics::Registry::global().counter(
      "push_rpc_client_oversized_requests_total",
      "Calls failed INVALID_ARGUMENT without being sent: request over max_request_bytes.");
  metrics::Counter& refused = metrics::Registry::global().counter(
      "push_rpc_client_refused_connections_total",
      "Connections a server refused (goaway with an error: cluster key missing or wrong).");
  metrics::Counter& goaways = metrics::Registry::global().counter(
      "push_rpc_client_goaways_total",
      "Connections a server closed as idle or shutting down (goaway UNAVAILABLE).");
  ClientMetrics() {
    for (size_t i = 0; i < calls.size(); ++i) {
      calls[i] = &metrics::Registry::global().counter(
          "push_rpc_client_calls_total", "Client calls completed, by status code.",
          "code=\"" + std::string(codeName(static_cast<Code>(i))) + "\"");
    }
  }
  void count(Code code) {
    size_t i = static_cast<size_t>(code);
    calls[i < calls.size() ? i : static_cast<size_t>(Code::INTERNAL)]->inc();
  }
};

ClientMetrics& clientMetrics() {
  static ClientMetrics* m = new ClientMetrics();
  return *m;
}

}  // namespace

struct Channel::Slot {
  EndpointState* endpoint = nullptr;
  net::TcpConnection* conn = nullptr;      // up
  net::TcpConnector* connector = nullptr;  // connecting
  int64_t retry_at_ms = 0;                 // when neither: next attempt (loop time)
  int64_t up_since_ms = 0;                 // loop time conn came up; 0 when down
  uint32_t backoff_ms = 0;
  uint32_t inflight = 0;
  // About `conn`, reset when it goes down:
  bool healthy = false;   // it carried a response that was not a refusal
  bool graceful = false;  // the server closed it as idle or shutting down (goaway UNAVAILABLE)
  bool refused = false;   // the server refused it (goaway with an error, e.g. wrong key)
};

struct Channel::EndpointState {
  Endpoint endpoint;
  net::InetAddress addr;
  std::vector<Slot> slots;
  int index = -1;  // position in endpoints_; -1 once retired
  uint32_t next_slot = 0;
  bool ever_failed = false;  // a connect attempt failed since the endpoint was last up
  bool refused = false;      // its last connection was refused and none has worked since
  Status last_error;

  size_t upCount() const {
    size_t n = 0;
    for (const Slot& s : slots)
      n += s.conn != nullptr;
    return n;
  }
  size_t openCount() const {
    size_t n = 0;
    for (const Slot& s : slots)
      n += (s.conn != nullptr) + (s.connector != nullptr);
    return n;
  }
};

struct Channel::PendingCall {
  const pb::MethodDescriptor* method;
  Controller* controller;
  const pb::Message* request;  // kept for a later send (waiting, retry)
  pb::Message* response;
  pb::Closure* done;
  net::TcpConnection* conn = nullptr;  // where it was sent; nullptr while waiting
  size_t body_bytes = 0;               // request->ByteSizeLong() when last measured
  int64_t start_us = 0;
  int64_t deadline_ms = 0;  // loop time
  uint8_t retries_left = 1;
};

// The reconnect timer: a heap object so it can finish closing after the channel is gone.
class Channel::MaintenanceTimer {
 public:
  explicit MaintenanceTimer(Channel* channel, uv_loop_t* loop) : channel_(channel) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  void ensureRunning() {
    if (running_ || !channel_) return;
    running_ = true;
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<MaintenanceTimer*>(t->data);
          if (self->channel_) self->channel_->onTick();
        },
        kTickMs, kTickMs);
  }
  void stop() {
    running_ = false;
    uv_timer_stop(&timer_);
  }
  void close() {
    channel_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* h) { delete static_cast<MaintenanceTimer*>(h->data); });
  }

 private:
  uv_timer_t timer_;
  Channel* channel_;
  bool running_ = false;
};

net::TcpConnection::Limits Channel::Options::defaultLimits() {
  net::TcpConnection::Limits limits;
  limits.high_watermark = 8u << 20;
  limits.low_watermark = 2u << 20;
  limits.hard_limit = 64u << 20;
  limits.max_input = (16u << 20) + 64;
  limits.retain_output = 256u << 10;  // see Server: few, busy connections
  limits.retain_input = 256u << 10;
  return limits;
}

Result<Channel::Options> Channel::Options::fromConfig(const config::RpcChannelConfig& c) {
  Options o;
  if (!c.load_balancer().empty()) o.load_balancer = c.load_balancer();
  if (c.connections_per_endpoint()) o.connections_per_endpoint = c.connections_per_endpoint();
  if (c.timeout_ms()) o.timeout = std::chrono::milliseconds(c.timeout_ms());
  if (c.connect_timeout_ms()) o.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms());
  if (c.max_inflight()) o.max_inflight = c.max_inflight();
  if (c.reconnect_min_ms()) o.reconnect_min = std::chrono::milliseconds(c.reconnect_min_ms());
  if (c.reconnect_max_ms()) o.reconnect_max = std::chrono::milliseconds(c.reconnect_max_ms());
  if (c.max_frame_bytes()) o.max_frame_bytes = c.max_frame_bytes();
  RETURN_IF_ERROR(checkFieldRange(nullptr, "max_request_bytes", c.max_request_bytes(),
                                  kMinRequestBytes, kMaxRequestBytes));
  if (c.max_request_bytes()) o.max_request_bytes = c.max_request_bytes();
  if (c.cluster_key().size() > kMaxClusterKeyBytes) {
    return invalidArgument("cluster_key: longer than 1024 bytes");
  }
  o.cluster_key = c.cluster_key();
  return o;
}

Result<ChannelPtr> Channel::create(net::EventLoop& loop, Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<LoadBalancer> lb, LoadBalancer::create(options.load_balancer));
  if (options.connections_per_endpoint < 1 || options.connections_per_endpoint > 64) {
    return invalidArgument("connections_per_endpoint must be in [1, 64]");
  }
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return invalidArgument("timeouts must be positive");
  }
  if (options.max_inflight == 0) return invalidArgument("max_inflight must be positive");
  if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
    return invalidArgument("need 0 < reconnect_min <= reconnect_max");
  }
  if (options.max_request_bytes < kMinRequestBytes ||
      options.max_request_bytes > kMaxRequestBytes) {
    return invalidArgument("max_request_bytes must be in [1024, 268435456]");
  }
  if (options.cluster_key.size() > kMaxClusterKeyBytes) {
    return invalidArgument("cluster_key must be at most 1024 bytes");
  }
  options.limits.max_input = std::max(options.limits.max_input, options.max_frame_bytes + 64);
  return ChannelPtr(new Channel(loop, std::move(options), std::move(lb)));
}

Channel::Channel(net::EventLoop& loop, Options options, std::unique_ptr<LoadBalancer> lb)
    : loop_(loop),
      options_(std::move(options)),
      lb_(std::move(lb)),
      scratch_meta_(std::make_unique<RpcMeta>()) {
  rng_state_ = mix64Seed();
  deadlines_ = net::LoopWheel::create(loop_, kDeadlineTickMs, kDeadlineSlots,
                                      [this](uint64_t id) { onDeadline(id); });
  timer_ = new MaintenanceTimer(this, loop_.uvLoop());
  if (!options_.cluster_key.empty()) {
    // The handshake, written first on every new connection (proto/rpc.proto): request id 0.
    RpcMeta meta;
    meta.set_method(std::string(detail::kHelloMethod));
    Hello hello;
    hello.set_cluster_key(options_.cluster_key);
    const std::string meta_bytes = meta.SerializeAsString();
    const std::string body = hello.SerializeAsString();
    hello_frame_.resize(detail::kHeaderBytes);
    detail::writeHeader(detail::FrameHeader{0, static_cast<uint32_t>(meta_bytes.size()),
                                            static_cast<uint32_t>(body.size())},
                        hello_frame_.data());
    hello_frame_ += meta_bytes;
    hello_frame_ += body;
  }
  (void)clientMetrics();
}

Channel::~Channel() = default;

uint64_t Channel::mix64Seed() {
  return static_cast<uint64_t>(Clock::system().monoNow().time_since_epoch().count()) ^
         reinterpret_cast<uintptr_t>(this);
}

int64_t Channel::nowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             Clock::system().monoNow().time_since_epoch())
      .count();
}

Status Channel::setEndpoints(const std::vector<std::string>& addresses) {
  std::vector<Endpoint> eps;
  eps.reserve(addresses.size());
  for (const auto& a : addresses)
    eps.push_back(Endpoint{a, 1});
  return setEndpoints(eps);
}

Status Channel::setEndpoints(const std::vector<Endpoint>& endpoints) {
  loop_.assertInLoopThread();
  if (closing_) return Status(Code::CANCELLED, "channel closed");
  std::vector<net::InetAddress> addrs;
  for (const auto& e : endpoints) {
    auto addr = net::InetAddress::parse(e.address);
    if (!addr.isOk()) return addr.status();
    addrs.push_back(*addr);
  }
  std::vector<std::unique_ptr<EndpointState>> next;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    std::unique_ptr<EndpointState> state;
    for (auto& old : endpoints_) {
      if (old && old->endpoint.address == endpoints[i].address) {
        state = std::move(old);
        break;
      }
    }
    if (!state) {
      state = std::make_unique<EndpointState>();
      state->addr = addrs[i];
      state->slots.resize(options_.connections_per_endpoint);
      for (Slot& s : state->slots)
        s.endpoint = state.get();
    }
    state->endpoint = endpoints[i];
    state->index = static_cast<int>(i);
    next.push_back(std::move(state));
  }
  for (auto& old : endpoints_) {
    if (!old) continue;
    old->index = -1;
    retired_.push_back(std::move(old));
  }
  endpoints_ = std::move(next);
  lb_->setEndpoints(endpoints);
  refreshUsable();
  for (auto& ep : endpoints_) {
    for (Slot& s : ep->slots) {
      if (!s.conn && !s.connector) connectSlot(*ep, s);
    }
  }
  onTick();  // closes retired endpoints that are idle
  failWaitingIfHopeless();
  return Status::ok();
}

size_t Channel::usableEndpoints() const {
  return static_cast<size_t>(std::count(usable_.begin(), usable_.end(), true));
}

void Channel::refreshUsable() {
  usable_.assign(endpoints_.size(), false);
  for (size_t i = 0; i < endpoints_.size(); ++i)
    usable_[i] = endpoints_[i]->upCount() > 0;
}

bool Channel::anyEndpointConnecting() const {
  for (const auto& ep : endpoints_) {
    if (!ep->ever_failed && ep->upCount() == 0) return true;
  }
  return false;
}

void Channel::connectSlot(EndpointState& ep, Slot& slot) {
  ++open_connections_;
  Slot* s = &slot;
  slot.connector = net::TcpConnector::start(
      loop_, ep.addr, options_.connect_timeout, [this, s](Result<net::TcpConnection*> result) {
        s->connector = nullptr;
        --open_connections_;
        EndpointState& ep = *s->endpoint;
        if (closing_ || ep.index < 0) {
          if (result.isOk()) (*result)->close();
          if (closing_) {
            maybeDelete();
          } else {
            onTick();
          }
          return;
        }
        if (!result.isOk()) {
          onSlotDown(ep, *s, result.status());
          return;
        }
        net::TcpConnection* conn = *result;
        ++open_connections_;
        conn->setContext(s);
        conn->start(this, &options_.limits);
        // The Hello goes first; calls are pipelined right behind it.
        if (!hello_frame_.empty()) conn->send(hello_frame_);
        s->conn = conn;
        s->up_since_ms = loop_.nowMs();
        // The backoff is not reset here but when the connection proves healthy (onSlotDown):
        // a server that accepts and then refuses us must not be reconnected to at full speed.
        if (ep.ever_failed && !ep.refused) {
          LOG_INFO(Rpc, "RPC endpoint {} is reachable again", ep.endpoint.address);
        }
        ep.ever_failed = false;
        if (!ep.refused) ep.last_error = Status();
        refreshUsable();
        drainWaiting();
      });
}

void Channel::onSlotDown(EndpointState& ep, Slot& slot, const Status& why) {
  if (why.code() != Code::OK) {
    if (!ep.ever_failed && !slot.refused) {  // a refusal logs itself (onGoaway)
      LOG_WARN(Rpc, "RPC endpoint {} unreachable: {}", ep.endpoint.address, why.toString());
    }
    ep.ever_failed = true;
    ep.last_error = why;
  }
  const int64_t now = loop_.nowMs();
  const bool healthy =
      !slot.refused &&
      (slot.healthy || (slot.up_since_ms != 0 && now - slot.up_since_ms >= kHealthyAfterMs));
  const bool graceful = slot.graceful && !slot.refused;
  slot.up_since_ms = 0;
  slot.healthy = slot.graceful = slot.refused = false;
  if (healthy) slot.backoff_ms = 0;  // it worked: the backoff starts over
  if (graceful && healthy) {
    // The server closed an idle connection (or is going away) that worked: reconnect now
    // rather than after a backoff; a failure backs off as usual. A server that sends goaways
    // right after accepting is not healthy and gets the backoff.
    connectSlot(ep, slot);
  } else {
    const uint32_t min_ms = static_cast<uint32_t>(options_.reconnect_min.count());
    const uint32_t max_ms = static_cast<uint32_t>(options_.reconnect_max.count());
    slot.backoff_ms = slot.backoff_ms == 0 ? min_ms : std::min(max_ms, slot.backoff_ms * 2);
    // +-25% jitter so many clients of a restarted server do not reconnect in lockstep.
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    const int64_t jitter = static_cast<int64_t>(rng_state_ % (slot.backoff_ms / 2 + 1)) -
                           static_cast<int64_t>(slot.backoff_ms / 4);
    slot.retry_at_ms = now + slot.backoff_ms + jitter;
    timer_->ensureRunning();
  }
  refreshUsable();
  drainWaiting();  // calls waiting for this endpoint may go to another one
  failWaitingIfHopeless();
}

void Channel::onTick() {
  if (closing_) return;
  const int64_t now = loop_.nowMs();
  bool pending = false;
  for (auto& ep : endpoints_) {
    for (Slot& s : ep->slots) {
      if (s.conn || s.connector) continue;
      if (now >= s.retry_at_ms) {
        connectSlot(*ep, s);
      } else {
        pending = true;
      }
    }
  }
  // Retired endpoints: close connections with nothing in flight; drop the state when empty.
  for (auto& ep : retired_) {
    for (Slot& s : ep->slots) {
      if (s.conn && s.inflight == 0 && !s.conn->closing()) s.conn->closeAfterFlush();
      if (s.connector) s.connector->cancel();
    }
  }
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const auto& ep) { return ep->openCount() == 0; }),
                 retired_.end());
  if (!retired_.empty()) pending = true;
  if (!pending) timer_->stop();
}

void Channel::CallMethod(const pb::MethodDescriptor* method, pb::RpcController* controller,
                         const pb::Message* request, pb::Message* response, pb::Closure* done) {
  auto* ctrl = static_cast<Controller*>(controller);
  if (loop_.isInLoopThread()) {
    if (!done) {
      ctrl->setStatus(internalError("synchronous RPC on the loop thread would deadlock"));
      return;
    }
    callInLoop(method, ctrl, request, response, done);
    return;
  }
  if (done) {
    loop_.post([=, this] { callInLoop(method, ctrl, request, response, done); });
    return;
  }
  std::promise<void> finished;
  pb::Closure* signal = newCallback([&finished] { finished.set_value(); });
  loop_.post([=, this] { callInLoop(method, ctrl, request, response, signal); });
  finished.get_future().wait();
}

void Channel::callInLoop(const pb::MethodDescriptor* method, Controller* ctrl,
                         const pb::Message* request, pb::Message* response, pb::Closure* done) {
  ctrl->setStatus(Status());
  if (closing_) {
    ctrl->setStatus(Status(Code::CANCELLED, "channel closed"));
    clientMetrics().count(Code::CANCELLED);
    done->Run();
    return;
  }
  if (calls_.size() >= options_.max_inflight) {
    ctrl->setStatus(Status(Code::OVERLOADED, std::to_string(calls_.size()) +
                                                 " calls in flight on the channel (max_inflight)"));
    clientMetrics().count(Code::OVERLOADED);
    done->Run();
    return;
  }
  // Checked before anything is queued: a frame over the server's limit would make it close
  // the connection and fail every other call on it.
  const size_t body_len = request->ByteSizeLong();
  const size_t frame_len = requestFrameBound(method, body_len);
  if (frame_len > options_.max_request_bytes) {
    clientMetrics().oversized.inc();
    clientMetrics().count(Code::INVALID_ARGUMENT);
    ctrl->setStatus(requestTooLarge(method, frame_len));
    done->Run();
    return;
  }
  const uint64_t id = next_request_id_++;
  const int64_t timeout_ms = ctrl->timeoutMs() > 0 ? ctrl->timeoutMs() : options_.timeout.count();
  auto [it, inserted] = calls_.try_emplace(id);
  PendingCall& call = it->second;
  call.method = method;
  call.controller = ctrl;
  call.request = request;
  call.response = response;
  call.done = done;
  call.body_bytes = body_len;  // the request's cached sizes are fresh: trySend uses them
  call.start_us = nowUs();
  // The loop's time is cached at the start of its turn, which may be long ago (a slow
  // handler, a program that did work before running the loop): a deadline counted from it
  // would expire early. uv_hrtime() is the same monotonic clock, read now.
  const int64_t now_ms = std::max(loop_.nowMs(), static_cast<int64_t>(uv_hrtime() / 1000000));
  call.deadline_ms = now_ms + timeout_ms;
  deadlines_->schedule(id, call.deadline_ms);
  if (trySend(id, call, -1)) return;
  if (anyEndpointConnecting()) {
    waiting_.push_back(id);
    return;
  }
  complete(id, noEndpointStatus());
}

size_t Channel::requestFrameBound(const pb::MethodDescriptor* method, size_t body_len) {
  return detail::kHeaderBytes + detail::requestMetaBound(method->full_name().size()) + body_len;
}

Status Channel::requestTooLarge(const pb::MethodDescriptor* method, size_t frame_len) const {
  return invalidArgument("request of " + std::to_string(frame_len) + " bytes over the limit " +
                         std::to_string(options_.max_request_bytes) + " (max_request_bytes) for " +
                         method->full_name());
}

size_t Channel::maxRequestBodyBytes(const pb::MethodDescriptor* method) const {
  const size_t overhead = requestFrameBound(method, 0);
  return options_.max_request_bytes > overhead ? options_.max_request_bytes - overhead : 0;
}

Status Channel::noEndpointStatus() const {
  if (endpoints_.empty()) return unavailable("channel has no endpoints");
  for (const auto& ep : endpoints_) {
    if (ep->last_error.isOk()) continue;
    const std::string why = "no endpoint reachable (" + ep->last_error.message() + ")";
    // A refusal keeps its code (UNAUTHENTICATED for a key mismatch): retrying will not help.
    return ep->refused ? Status(ep->last_error.code(), why) : unavailable(why);
  }
  return unavailable("no endpoint reachable");
}

bool Channel::resend(uint64_t id, PendingCall& call, int exclude_endpoint, bool fallback) {
  // Measured again: the cached sizes may be stale if the request object was reused meanwhile
  // (against the contract, but it must never overflow the frame it is written into).
  call.body_bytes = call.request->ByteSizeLong();
  const size_t frame_len = requestFrameBound(call.method, call.body_bytes);
  if (frame_len > options_.max_request_bytes) {
    clientMetrics().oversized.inc();
    complete(id, requestTooLarge(call.method, frame_len));
    return true;
  }
  if (trySend(id, call, exclude_endpoint)) return true;
  return fallback && exclude_endpoint >= 0 && trySend(id, call, -1);
}

bool Channel::trySend(uint64_t id, PendingCall& call, int exclude_endpoint) {
  bool restore = false;
  if (exclude_endpoint >= 0 && static_cast<size_t>(exclude_endpoint) < usable_.size() &&
      usable_[exclude_endpoint]) {
    usable_[exclude_endpoint] = false;
    restore = true;
  }
  int index = lb_->select(call.controller->hashKey(), usable_);
  if (restore) usable_[exclude_endpoint] = true;
  if (index < 0) return false;
  EndpointState& ep = *endpoints_[index];
  Slot* slot = nullptr;
  for (size_t n = 0; n < ep.slots.size(); ++n) {
    Slot& s = ep.slots[(ep.next_slot + n) % ep.slots.size()];
    if (s.conn && !s.conn->closing()) {
      slot = &s;
      ep.next_slot = static_cast<uint32_t>((ep.next_slot + n + 1) % ep.slots.size());
      break;
    }
  }
  if (!slot) return false;

  const int64_t remaining = std::max<int64_t>(1, call.deadline_ms - loop_.nowMs());
  RpcMeta& meta = *scratch_meta_;
  meta.Clear();
  meta.set_request_id(id);
  meta.set_method(call.method->full_name());
  meta.set_timeout_ms(static_cast<uint32_t>(std::min<int64_t>(remaining, UINT32_MAX)));
  const size_t meta_len = meta.ByteSizeLong();
  const size_t body_len = call.body_bytes;  // measured with the limit check, caches fresh
  detail::FrameHeader header{0, static_cast<uint32_t>(meta_len), static_cast<uint32_t>(body_len)};
  char* out = slot->conn->prepareSend(header.frameBytes());
  if (!out) return false;  // the connection is closing (its onClosed will follow)
  detail::writeHeader(header, out);
  meta.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + detail::kHeaderBytes));
  call.request->SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out + detail::kHeaderBytes + meta_len));
  slot->conn->commitSend(header.frameBytes());
  call.conn = slot->conn;
  ++slot->inflight;
  call.controller->setRemote(ep.endpoint.address);
  return true;
}

void Channel::complete(uint64_t id, Status status) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  PendingCall call = it->second;
  calls_.erase(it);
  completeCall(call, std::move(status));
}

void Channel::completeCall(PendingCall& call, Status status) {
  if (call.conn) {
    Slot* slot = static_cast<Slot*>(call.conn->context());
    if (slot->inflight > 0) --slot->inflight;
  }
  const int64_t latency = nowUs() - call.start_us;
  call.controller->setLatencyUs(latency);
  clientMetrics().count(status.code());
  clientMetrics().seconds.observe(static_cast<double>(latency) / 1e6);
  call.controller->setStatus(std::move(status));
  call.done->Run();  // may issue new calls on this channel, or close it
}

size_t Channel::onData(net::TcpConnection& conn, const char* data, size_t len) {
  size_t used = 0;
  while (used < len && !conn.closing()) {
    detail::FrameHeader header;
    auto hs = detail::parseHeader(data + used, len - used, options_.max_frame_bytes, &header);
    if (hs == detail::HeaderStatus::Incomplete) break;
    if (hs != detail::HeaderStatus::Ok || !(header.flags & detail::kFlagResponse)) {
      LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection to {}: {}", conn.peerAddress().toString(),
                    hs == detail::HeaderStatus::Ok ? "request frame sent to a client"
                                                   : detail::headerStatusText(hs));
      conn.close();
      return len;
    }
    if (header.frameBytes() > len - used) break;
    const char* meta = data + used + detail::kHeaderBytes;
    used += header.frameBytes();
    onResponse(conn, meta, header.meta_len, meta + header.meta_len, header.body_len);
    if (deleted_) return used;  // a completion closed the channel (it is gone)
  }
  return used;
}

void Channel::onResponse(net::TcpConnection& conn, const char* meta_bytes, size_t meta_len,
                         const char* body, size_t body_len) {
  RpcMeta& meta = *scratch_meta_;
  if (!meta.ParseFromArray(meta_bytes, static_cast<int>(meta_len))) {
    LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection to {}: unparsable RpcMeta",
                  conn.peerAddress().toString());
    conn.close();
    return;
  }
  Slot* slot = static_cast<Slot*>(conn.context());
  if (meta.code() != Code::OK && meta.goaway()) {
    onGoaway(conn, Status(meta.code(), meta.error()));
    return;
  }
  if (!slot->healthy) {
    slot->healthy = true;
    EndpointState& ep = *slot->endpoint;
    if (ep.refused) {
      LOG_INFO(Rpc, "RPC endpoint {} accepts this client again", ep.endpoint.address);
      ep.refused = false;
      ep.last_error = Status();
    }
  }
  auto it = calls_.find(meta.request_id());
  if (it == calls_.end() || it->second.conn != &conn) {
    clientMetrics().late.inc();
    return;
  }
  PendingCall& call = it->second;
  const uint64_t id = it->first;
  if (meta.code() != Code::OK) {
    Status status(meta.code(), meta.error());
    if (meta.not_executed() && call.retries_left > 0 && loop_.nowMs() < call.deadline_ms) {
      // The server did not run it: another endpoint may.
      if (slot->inflight > 0) --slot->inflight;
      call.conn = nullptr;
      --call.retries_left;
      clientMetrics().retries.inc();
      if (resend(id, call, slot->endpoint->index, false)) return;
    }
    complete(id, std::move(status));
    return;
  }
  if (!call.response->ParseFromArray(body, static_cast<int>(body_len))) {
    complete(id, internalError("response is not a valid " + call.response->GetTypeName()));
    return;
  }
  complete(id, Status());
}

void Channel::onGoaway(net::TcpConnection& conn, const Status& status) {
  Slot* slot = static_cast<Slot*>(conn.context());
  EndpointState& ep = *slot->endpoint;
  // Every call still on the connection did not run (rpc.proto): detach them all first.
  std::vector<uint64_t> ids;
  for (auto& [id, call] : calls_) {
    if (call.conn == &conn) {
      call.conn = nullptr;
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  slot->inflight = 0;
  conn.close();  // nothing more is sent on it; onClosed follows and reconnects the slot
  if (status.code() != Code::UNAVAILABLE) {
    clientMetrics().refused.inc();
    slot->refused = true;
    ep.refused = true;
    ep.ever_failed = true;  // new calls fail fast with this status until a connection works
    ep.last_error = status;
    LOG_EVERY_SEC(Warn, Rpc, 1,
                  "RPC endpoint {} refused the connection: {} ({} calls fail; check that "
                  "cluster_key is the same on both sides)",
                  ep.endpoint.address, status.toString(), ids.size());
    for (uint64_t id : ids)
      complete(id, status);  // may run user code: nothing of `ep` is used after
    return;
  }
  clientMetrics().goaways.inc();
  slot->graceful = true;
  LOG_DEBUG(Rpc, "RPC endpoint {} closed a connection ({}); {} calls re-sent", ep.endpoint.address,
            status.message(), ids.size());
  const int index = ep.index;
  for (uint64_t id : ids) {
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.conn) continue;
    if (!resend(id, it->second, index, true)) waiting_.push_back(id);
  }
}

void Channel::onDeadline(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  const int64_t now = loop_.nowMs();
  if (now < it->second.deadline_ms) {
    deadlines_->schedule(id, it->second.deadline_ms);  // loop time lagged; check again later
    return;
  }
  const int64_t waited = (nowUs() - it->second.start_us) / 1000;
  std::string where = it->second.conn ? "from " + it->second.controller->remote()
                                      : "(no connection became available)";
  complete(id, Status(Code::TIMEOUT, "no reply within " + std::to_string(waited) + " ms " + where));
}

void Channel::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  Slot* slot = static_cast<Slot*>(conn.context());
  slot->conn = nullptr;
  slot->inflight = 0;
  --open_connections_;
  EndpointState& ep = *slot->endpoint;
  std::vector<uint64_t> broken;
  for (auto& [id, call] : calls_) {
    if (call.conn == &conn) {
      call.conn = nullptr;  // its slot is gone: completeCall must not touch it
      broken.push_back(id);
    }
  }
  if (!closing_ && ep.index >= 0 && !slot->graceful && !slot->refused) {  // those logged already
    LOG_INFO(Rpc, "RPC connection to {} closed ({}); {} calls in flight fail", ep.endpoint.address,
             net::TcpConnection::reasonName(reason), broken.size());
  }
  const std::string why = "connection to " + ep.endpoint.address + " closed (" +
                          net::TcpConnection::reasonName(reason) + ") with the call in flight";
  // The slot's bookkeeping comes first: completions run user code, which may replace the
  // endpoints (freeing `ep` once its connections are gone) or close the channel.
  if (!closing_) {
    if (ep.index < 0) {
      slot->up_since_ms = 0;
      slot->healthy = slot->graceful = slot->refused = false;
      onTick();  // may free the retired endpoint
    } else {
      onSlotDown(ep, *slot, slot->refused ? ep.last_error : Status());
    }
  }
  std::sort(broken.begin(), broken.end());
  for (uint64_t id : broken)
    complete(id, unavailable(why));
  if (closing_) maybeDelete();
}

void Channel::drainWaiting() {
  while (!waiting_.empty() && !closing_) {
    const uint64_t id = waiting_.front();
    waiting_.pop_front();
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.conn) continue;
    if (!resend(id, it->second, -1, false)) {
      waiting_.push_front(id);
      break;
    }
  }
}

void Channel::failWaitingIfHopeless() {
  if (waiting_.empty() || usableEndpoints() > 0 || anyEndpointConnecting()) return;
  std::deque<uint64_t> ids;
  ids.swap(waiting_);
  const Status why = noEndpointStatus();
  for (uint64_t id : ids) {
    auto it = calls_.find(id);
    if (it != calls_.end() && !it->second.conn) complete(id, why);
  }
}

void Channel::close() {
  loop_.assertInLoopThread();
  if (closing_) return;
  closing_ = true;
  std::vector<uint64_t> ids;
  ids.reserve(calls_.size());
  for (auto& [id, call] : calls_)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids)
    complete(id, Status(Code::CANCELLED, "channel closed"));
  waiting_.clear();
  auto closeAll = [](std::vector<std::unique_ptr<EndpointState>>& list) {
    for (auto& ep : list) {
      if (!ep) continue;
      for (Slot& s : ep->slots) {
        if (s.conn) s.conn->close();
        if (s.connector) s.connector->cancel();
      }
    }
  };
  closeAll(endpoints_);
  closeAll(retired_);
  deadlines_.reset();
  timer_->close();
  timer_ = nullptr;
  maybeDelete();
}

void Channel::maybeDelete() {
  if (!closing_ || open_connections_ > 0 || deleted_) return;
  deleted_ = true;
  // Deferred: we may be inside a callback of an object the channel still references.
  loop_.post([this] { delete this; });
}

}  // namespace push::rpc
