// Channel: options, creation and lifetime, and the call path (CallMethod -> trySend ->
// complete, deadlines, the request size limit). The endpoint set and its connection pool are in
// channel_connections.cc, the handling of responses and goaways in channel_responses.cc; the
// state they share in detail/channel_state.h.
#include "common/rpc/channel.h"

#include <uv.h>

#include <algorithm>
#include <future>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/loop_wheel.h"
#include "common/net/tcp_connector.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/channel_state.h"
#include "common/rpc/detail/client_metrics.h"
#include "common/rpc/detail/frame.h"
#include "common/rpc/detail/meta_codec.h"
#include "proto/config.pb.h"
#include "proto/rpc.pb.h"

namespace push::rpc {

namespace pb = google::protobuf;

namespace {

constexpr uint32_t kMinRequestBytes = 1u << 10;
constexpr uint32_t kMaxRequestBytes = 256u << 20;
constexpr size_t kMaxClusterKeyBytes = 1024;

}  // namespace

net::TcpConnection::Limits Channel::Options::defaultLimits() {
  net::TcpConnection::Limits limits;
  limits.high_watermark = 8u << 20;
  limits.low_watermark = 2u << 20;
  limits.hard_limit = 64u << 20;
  limits.max_input = (16u << 20) + 64;
  limits.retain_output = 256u << 10;  // see Server: few, busy connections
  limits.retain_input = 256u << 10;
  // Write a long burst of calls in 32 KiB parts: the server starts on the first while the
  // rest are produced (at 1024 calls in flight, +35-60% calls/s; 8, 16, 24 and 48 KiB did less
  // on loopback here). Each part is one syscall.
  limits.write_early_bytes = 32u << 10;
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
      seconds_tally_(std::make_unique<metrics::HistogramTally>(detail::clientMetrics().seconds)) {
  rng_state_ = mix64Seed();
  deadlines_ = net::LoopWheel::create(loop_, detail::kDeadlineTickMs, detail::kDeadlineSlots,
                                      [this](uint64_t key) {
                                        if (key == detail::kDeadlineRunKey) {
                                          onRunsDue();
                                        } else {
                                          onDeadline(key);
                                        }
                                      });
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
  (void)detail::clientMetrics();
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
    detail::clientMetrics().count(Code::CANCELLED);
    done->Run();
    return;
  }
  if (calls_.size() >= options_.max_inflight) {
    ctrl->setStatus(Status(Code::OVERLOADED, std::to_string(calls_.size()) +
                                                 " calls in flight on the channel (max_inflight)"));
    detail::clientMetrics().count(Code::OVERLOADED);
    done->Run();
    return;
  }
  // Checked before anything is queued: a frame over the server's limit would make it close
  // the connection and fail every other call on it.
  const size_t body_len = request->ByteSizeLong();
  const size_t frame_len = requestFrameBound(method, body_len);
  if (frame_len > options_.max_request_bytes) {
    detail::clientMetrics().oversized.inc();
    detail::clientMetrics().count(Code::INVALID_ARGUMENT);
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
  // would expire early. start_us is the same monotonic clock as the loop's, read now (one
  // clock read per call: at depth they are a visible part of a call's cost).
  const int64_t now_ms = std::max(loop_.nowMs(), call.start_us / 1000);
  call.deadline_ms = now_ms + timeout_ms;
  scheduleDeadline(id, call);
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

bool Channel::resend(uint64_t id, PendingCall& call, int exclude_endpoint, bool fallback) {
  // Measured again: the cached sizes may be stale if the request object was reused meanwhile
  // (against the contract, but it must never overflow the frame it is written into).
  call.body_bytes = call.request->ByteSizeLong();
  const size_t frame_len = requestFrameBound(call.method, call.body_bytes);
  if (frame_len > options_.max_request_bytes) {
    detail::clientMetrics().oversized.inc();
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
  detail::MetaView meta;
  meta.request_id = id;
  meta.method = call.method->full_name();
  meta.timeout_ms = static_cast<uint32_t>(std::min<int64_t>(remaining, UINT32_MAX));
  const size_t meta_len = detail::encodedMetaSize(meta);
  const size_t body_len = call.body_bytes;  // measured with the limit check, caches fresh
  detail::FrameHeader header{0, static_cast<uint32_t>(meta_len), static_cast<uint32_t>(body_len)};
  char* out = slot->conn->prepareSend(header.frameBytes());
  if (!out) return false;  // the connection is closing (its onClosed will follow)
  detail::writeHeader(header, out);
  detail::encodeMeta(meta, out + detail::kHeaderBytes);
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
  completeFound(it, std::move(status));
}

void Channel::completeFound(std::unordered_map<uint64_t, PendingCall>::iterator it, Status status) {
  PendingCall call = it->second;
  calls_.erase(it);
  leaveDeadlineRun(call);
  completeCall(call, std::move(status));
}

void Channel::completeCall(PendingCall& call, Status status) {
  if (call.conn) {
    Slot* slot = static_cast<Slot*>(call.conn->context());
    if (slot->inflight > 0) --slot->inflight;
  }
  const int64_t latency = nowUs() - call.start_us;
  call.controller->setLatencyUs(latency);
  const double seconds = static_cast<double>(latency) / 1e6;
  if (in_read_ && status.isOk()) {
    ++ok_tally_;
    seconds_tally_->observe(seconds);
  } else {
    detail::clientMetrics().count(status.code());
    detail::clientMetrics().seconds.observe(seconds);
  }
  call.controller->setStatus(std::move(status));
  call.done->Run();  // may issue new calls on this channel, or close it
}

void Channel::flushReadTallies() {
  if (ok_tally_ == 0) return;
  detail::clientMetrics().count(Code::OK, ok_tally_);
  ok_tally_ = 0;
  seconds_tally_->flush();
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
  runs_front_seq_ += runs_.size();  // no call is left in them
  runs_.clear();
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
