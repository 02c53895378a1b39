#include "common/rpc/server.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <uv.h>

#include <algorithm>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/service.h>

#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/loop_wheel.h"
#include "common/net/tcp_server.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/frame.h"
#include "common/rpc/detail/meta_codec.h"
#include "proto/config.pb.h"
#include "proto/rpc.pb.h"

namespace push::rpc {

namespace pb = google::protobuf;

namespace {

constexpr uint32_t kMinResponseBytes = 4u << 10;
constexpr uint32_t kMaxResponseBytes = 256u << 20;
constexpr size_t kMaxClusterKeyBytes = 1024;
constexpr int64_t kMaxIdleTimeoutMs = 24 * 3600 * 1000;
constexpr int64_t kMaxHandshakeTimeoutMs = 10 * 60 * 1000;
// After a goaway the connection closes once its output is written and the peer closes its
// side; a peer that does neither is closed hard after this long.
constexpr int64_t kGoawayLingerMs = 2000;
constexpr size_t kWheelSlots = 512;

struct ServerMetrics {
  metrics::Registry& r = metrics::Registry::global();
  metrics::Counter& oversized_responses =
      r.counter("push_rpc_server_oversized_responses_total",
                "Responses over max_response_bytes, replaced by an INVALID_ARGUMENT error.");
  metrics::Counter& key_missing =
      r.counter("push_rpc_server_handshake_failures_total",
                "Connections refused for their cluster key, by reason.", R"(reason="missing")");
  metrics::Counter& key_wrong =
      r.counter("push_rpc_server_handshake_failures_total",
                "Connections refused for their cluster key, by reason.", R"(reason="wrong")");
  metrics::Counter& key_timeout =
      r.counter("push_rpc_server_handshake_failures_total",
                "Connections refused for their cluster key, by reason.", R"(reason="timeout")");
  metrics::Counter& idle_closed =
      r.counter("push_rpc_server_idle_closed_total", "Connections closed after idle_timeout.");
};

ServerMetrics& serverMetrics() {
  static ServerMetrics* m = new ServerMetrics();
  return *m;
}

bool isLoopback(const net::InetAddress& address) {
  const sockaddr* sa = address.sockaddrPtr();
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return false;
}

std::string sha256(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

metrics::Counter& protocolErrors() {
  static auto& c = metrics::Registry::global().counter(
      "push_rpc_server_protocol_errors_total",
      "RPC connections closed for bytes that are not a valid frame.");
  return c;
}
metrics::Counter& rejected(const char* why) {
  auto& r = metrics::Registry::global();
  static auto& overloaded = r.counter("push_rpc_server_rejected_total",
                                      "Calls answered without running.", R"(reason="overloaded")");
  static auto& shutting = r.counter("push_rpc_server_rejected_total",
                                    "Calls answered without running.", R"(reason="shutdown")");
  static auto& unknown = r.counter("push_rpc_server_rejected_total",
                                   "Calls answered without running.", R"(reason="no_method")");
  static auto& bad = r.counter("push_rpc_server_rejected_total", "Calls answered without running.",
                               R"(reason="bad_request")");
  switch (why[0]) {
    case 'o':
      return overloaded;
    case 's':
      return shutting;
    case 'n':
      return unknown;
    default:
      return bad;
  }
}
}  // namespace

// One registered method, with a pool of finished calls to reuse (no allocation per call once
// warm: the request/response messages and the controller are cleared and reused).
struct Server::Method {
  pb::Service* service;
  const pb::MethodDescriptor* descriptor;
  const pb::Message* request_prototype;
  const pb::Message* response_prototype;
  std::vector<Call*> free_calls;
  metrics::Counter* calls;
  metrics::Counter* errors;
  metrics::Histogram* seconds;
  ~Method();
};

// A call in progress; it is also the `done` closure handed to the service.
struct Server::Call final : pb::Closure {
  Server* server;
  Method* method;
  uint64_t conn_id;
  uint64_t request_id;
  int64_t start_us;
  Controller controller;
  std::unique_ptr<pb::Message> request;
  std::unique_ptr<pb::Message> response;
  bool running = false;

  void Run() override { server->finishCall(this); }
};

Server::Method::~Method() {
  for (Call* c : free_calls)
    delete c;
}

struct Server::GraceTimer {
  uv_timer_t timer;
  Server* server;
};

net::TcpConnection::Limits Server::Options::defaultLimits() {
  net::TcpConnection::Limits limits;
  limits.high_watermark = 8u << 20;
  limits.low_watermark = 2u << 20;
  limits.hard_limit = 64u << 20;
  limits.max_input = (16u << 20) + 64;
  // Busy pipelined connections (few per process): keep the buffers between turns.
  limits.retain_output = 256u << 10;
  limits.retain_input = 256u << 10;
  // Answers to a long batch of requests leave in 32 KiB parts: the client works on the first
  // while the rest are produced (both sides busy at once, not in turns). One syscall each.
  limits.write_early_bytes = 32u << 10;
  return limits;
}

Result<Server::Options> Server::Options::fromConfig(const config::RpcServerConfig& config) {
  Options o;
  if (!config.listen().address().empty()) o.address = config.listen().address();
  o.reuse_port = config.listen().reuse_port();
  if (config.max_frame_bytes() != 0) {
    if (config.max_frame_bytes() < 1024 || config.max_frame_bytes() > (256u << 20)) {
      return invalidArgument("rpc.max_frame_bytes must be in [1024, 268435456]");
    }
    o.max_frame_bytes = config.max_frame_bytes();
  }
  if (config.max_concurrency() != 0) o.max_concurrency = config.max_concurrency();
  RETURN_IF_ERROR(checkFieldRange(nullptr, "rpc.max_response_bytes", config.max_response_bytes(),
                                  kMinResponseBytes, kMaxResponseBytes));
  if (config.max_response_bytes() != 0) o.max_response_bytes = config.max_response_bytes();
  if (config.cluster_key().size() > kMaxClusterKeyBytes) {
    return invalidArgument("rpc.cluster_key: longer than 1024 bytes");
  }
  o.cluster_key = config.cluster_key();
  o.allow_without_cluster_key = config.allow_without_cluster_key();
  if (config.has_idle_timeout_ms()) {
    if (config.idle_timeout_ms() > kMaxIdleTimeoutMs) {
      return invalidArgument("rpc.idle_timeout_ms: " + std::to_string(config.idle_timeout_ms()) +
                             " is out of range [0, 86400000]");
    }
    o.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms());
  }
  RETURN_IF_ERROR(checkFieldRange(nullptr, "rpc.handshake_timeout_ms",
                                  config.handshake_timeout_ms(), 1, kMaxHandshakeTimeoutMs));
  if (config.handshake_timeout_ms() != 0) {
    o.handshake_timeout = std::chrono::milliseconds(config.handshake_timeout_ms());
  }
  const auto& l = config.limits();
  if (l.high_watermark_bytes()) o.limits.high_watermark = l.high_watermark_bytes();
  if (l.low_watermark_bytes()) o.limits.low_watermark = l.low_watermark_bytes();
  if (l.hard_limit_bytes()) o.limits.hard_limit = l.hard_limit_bytes();
  if (o.limits.hard_limit < o.limits.high_watermark ||
      o.limits.low_watermark > o.limits.high_watermark) {
    return invalidArgument("rpc.limits: need low_watermark <= high_watermark <= hard_limit");
  }
  o.limits.max_input = o.max_frame_bytes + 64;
  return o;
}

ServerPtr Server::create(net::EventLoop& loop, Options options) {
  return ServerPtr(new Server(loop, std::move(options)));
}

Server::Server(net::EventLoop& loop, Options options) : loop_(loop), options_(std::move(options)) {
  options_.limits.max_input = std::max(options_.limits.max_input, options_.max_frame_bytes + 64);
  (void)serverMetrics();  // registered up front: /metrics shows them at zero
}

Server::~Server() = default;

Status Server::addService(pb::Service* service) {
  const pb::ServiceDescriptor* sd = service->GetDescriptor();
  for (int i = 0; i < sd->method_count(); ++i) {
    const pb::MethodDescriptor* md = sd->method(i);
    if (methods_.count(md->full_name())) {
      return Status(Code::ALREADY_EXISTS, "method " + md->full_name() + " already registered");
    }
  }
  auto& registry = metrics::Registry::global();
  for (int i = 0; i < sd->method_count(); ++i) {
    const pb::MethodDescriptor* md = sd->method(i);
    auto m = std::make_unique<Method>();
    m->service = service;
    m->descriptor = md;
    m->request_prototype = &service->GetRequestPrototype(md);
    m->response_prototype = &service->GetResponsePrototype(md);
    const std::string label = "method=\"" + md->full_name() + "\"";
    m->calls = &registry.counter("push_rpc_server_calls_total", "Calls run, by method.", label);
    m->errors = &registry.counter("push_rpc_server_errors_total",
                                  "Calls that ended with a non-OK status, by method.", label);
    m->seconds = &registry.histogram(
        "push_rpc_server_call_seconds",
        "Time from the read that carried the request to its response queued (a call "
        "answered within that read's handling: to its end), by method.",
        metrics::latencyBuckets(), label);
    methods_.emplace(md->full_name(), std::move(m));
  }
  return Status::ok();
}

Status Server::start() {
  loop_.assertInLoopThread();
  if (options_.max_response_bytes < kMinResponseBytes ||
      options_.max_response_bytes > kMaxResponseBytes) {
    return invalidArgument("max_response_bytes must be in [4096, 268435456]");
  }
  if (options_.cluster_key.size() > kMaxClusterKeyBytes) {
    return invalidArgument("cluster_key must be at most 1024 bytes");
  }
  if (options_.idle_timeout.count() < 0 || options_.idle_timeout.count() > kMaxIdleTimeoutMs) {
    return invalidArgument("idle_timeout must be in [0, 24 h]");
  }
  if (options_.handshake_timeout.count() <= 0 ||
      options_.handshake_timeout.count() > kMaxHandshakeTimeoutMs) {
    return invalidArgument("handshake_timeout must be in (0, 10 min]");
  }
  if (!options_.cluster_key.empty()) key_digest_ = sha256(options_.cluster_key);
  if (key_digest_.empty() && !options_.allow_without_cluster_key) {
    // Protected by default: a port other machines can reach takes calls (Deliver, Kick,
    // Drain...) only from processes that know the cluster's key.
    auto wanted = net::InetAddress::parse(options_.address);
    if (wanted.isOk() && !isLoopback(*wanted)) {
      return Status(Code::FAILED_PRECONDITION,
                    "RPC listener on " + options_.address +
                        " needs a cluster_key (set the same cluster_key on every process of the "
                        "cluster), or allow_without_cluster_key on a trusted network");
    }
  }
  net::TcpServer::Options lo;
  lo.address = options_.address;
  lo.reuse_port = options_.reuse_port;
  auto listener =
      net::TcpServer::listen(loop_, lo, [this](net::TcpConnection& conn) { onAccept(conn); });
  if (!listener.isOk()) return listener.status();
  listener_ = std::move(listener).value();
  address_ = listener_->address();
  const int64_t idle_ms = options_.idle_timeout.count();
  const int64_t handshake_ms = key_digest_.empty() ? 0 : options_.handshake_timeout.count();
  if (idle_ms > 0 || handshake_ms > 0) {
    // About ten ticks per timeout: a connection closes at most a tick late.
    int64_t shortest = idle_ms > 0 ? idle_ms : handshake_ms;
    if (handshake_ms > 0) shortest = std::min(shortest, handshake_ms);
    const int64_t tick = std::clamp<int64_t>(shortest / 10, 5, 1000);
    wheel_ = net::LoopWheel::create(loop_, tick, kWheelSlots,
                                    [this](uint64_t conn_id) { onWheel(conn_id); });
  }
  LOG_INFO(Rpc, "RPC server listening on {} ({} methods, cluster key {})", address_.toString(),
           methods_.size(), key_digest_.empty() ? "off" : "required");
  if (key_digest_.empty() && !isLoopback(address_)) {
    LOG_WARN(Rpc,
             "RPC server on {} has no cluster_key (allow_without_cluster_key): anyone who reaches "
             "this port can call every method",
             address_.toString());
  }
  return Status::ok();
}

void Server::onAccept(net::TcpConnection& tcp) {
  if (shutting_down_) {
    tcp.close();
    return;
  }
  const uint64_t id = next_conn_id_++;
  tcp.setId(id);
  Conn& c = connections_[id];
  c.tcp = &tcp;
  c.active_ms = loop_.nowMs();
  c.authenticated = key_digest_.empty();
  tcp.setContext(&c);
  tcp.start(this, &options_.limits);
  arm(c);
}

int64_t Server::deadlineOf(const Conn& c) const {
  if (c.close_at_ms != 0) return c.close_at_ms;
  if (!c.authenticated) return c.active_ms + options_.handshake_timeout.count();
  if (options_.idle_timeout.count() > 0) return c.active_ms + options_.idle_timeout.count();
  return 0;
}

void Server::arm(Conn& c) {
  const int64_t due = deadlineOf(c);
  if (due == 0 || !wheel_) return;
  if (c.wheel_ms != 0 && c.wheel_ms <= due) return;  // the live entry fires first and re-checks
  c.wheel_ms = due;
  wheel_->schedule(c.tcp->id(), due);
}

void Server::onWheel(uint64_t conn_id) {
  auto it = connections_.find(conn_id);
  if (it == connections_.end()) return;  // closed since: a stale entry
  Conn& c = it->second;
  const int64_t now = loop_.nowMs();
  if (c.wheel_ms <= now) c.wheel_ms = 0;  // the tracked entry fired (this one)
  const int64_t due = deadlineOf(c);
  if (due == 0) return;
  if (now < due) {
    if (c.wheel_ms == 0) arm(c);  // a later entry may still be pending: it re-checks
    return;
  }
  if (c.close_at_ms != 0) {
    c.tcp->close();  // goaway sent, and the peer neither read it nor closed: stop waiting
    return;
  }
  if (!c.authenticated) {
    serverMetrics().key_timeout.inc();
    LOG_EVERY_SEC(Warn, Rpc, 1, "RPC connection from {} sent no Hello within {} ms: closing",
                  c.tcp->peerAddress().toString(), options_.handshake_timeout.count());
    c.tcp->close();
    return;
  }
  if (c.running > 0) {
    c.active_ms = now;  // not idle while a call runs
    arm(c);
    return;
  }
  serverMetrics().idle_closed.inc();
  LOG_DEBUG(Rpc, "RPC connection {} from {} idle for {} ms: goaway", conn_id,
            c.tcp->peerAddress().toString(), now - c.active_ms);
  goaway(c, 0, unavailable("connection idle for " + std::to_string(now - c.active_ms) + " ms"));
}

void Server::protocolError(net::TcpConnection& conn, std::string_view what) {
  protocolErrors().inc();
  LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection from {}: {}", conn.peerAddress().toString(),
                what);
  conn.close();
}

namespace {
int64_t monoUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             Clock::system().monoNow().time_since_epoch())
      .count();
}
}  // namespace

size_t Server::onData(net::TcpConnection& conn, const char* data, size_t len) {
  Conn& c = *static_cast<Conn*>(conn.context());
  batch_start_us_ = monoUs();
  in_batch_ = true;
  // Every exit goes past the batch's end below (a protocol error returns from inside).
  const size_t used = [&]() -> size_t {
    size_t at = 0;
    while (at < len && !conn.closing()) {
      detail::FrameHeader header;
      auto hs = detail::parseHeader(data + at, len - at, options_.max_frame_bytes, &header);
      if (hs == detail::HeaderStatus::Incomplete) break;
      if (hs != detail::HeaderStatus::Ok) {
        protocolError(conn, detail::headerStatusText(hs));
        return len;
      }
      if (header.frameBytes() > len - at) break;  // wait for the rest of the frame
      if (header.flags & detail::kFlagResponse) {
        protocolError(conn, "response frame sent to a server");
        return len;
      }
      const char* meta = data + at + detail::kHeaderBytes;
      handleRequest(c, meta, header.meta_len, meta + header.meta_len, header.body_len);
      at += header.frameBytes();
    }
    if (at > 0) c.active_ms = loop_.nowMs();
    return at;
  }();
  in_batch_ = false;
  if (!batch_done_.empty()) {
    // Their responses were queued during the batch; they go out when it ends.
    const double seconds = static_cast<double>(monoUs() - batch_start_us_) / 1e6;
    // One observe per run of the same method (a batch is mostly one method).
    size_t run_start = 0;
    for (size_t i = 1; i <= batch_done_.size(); ++i) {
      if (i == batch_done_.size() || batch_done_[i] != batch_done_[run_start]) {
        batch_done_[run_start]->seconds->observe(seconds, i - run_start);
        run_start = i;
      }
    }
    batch_done_.clear();
  }
  return used;
}

void Server::handleRequest(Conn& c, const char* meta_bytes, size_t meta_len, const char* body,
                           size_t body_len) {
  net::TcpConnection& conn = *c.tcp;
  detail::MetaView meta;
  if (!detail::decodeMeta(meta_bytes, meta_len, &meta)) {
    protocolError(conn, "unparsable RpcMeta");
    return;
  }
  if (meta.method == detail::kHelloMethod) {
    onHello(c, meta.request_id, body, body_len);
    return;
  }
  if (!c.authenticated) {
    serverMetrics().key_missing.inc();
    goaway(c, meta.request_id, Status(Code::UNAUTHENTICATED, "cluster key required"));
    return;
  }
  if (shutting_down_) {
    rejected("shutdown").inc();
    reply(conn, meta.request_id, unavailable("server shutting down"), true, nullptr);
    return;
  }
  if (running_ >= options_.max_concurrency) {
    rejected("overloaded").inc();
    reply(conn, meta.request_id,
          Status(Code::OVERLOADED, "server has " + std::to_string(running_) + " calls running"),
          true, nullptr);
    return;
  }
  // A connection mostly calls one method: the last one found is compared first (the
  // name's hash and the table walk cost more than the compare).
  Method* method = last_method_;
  if (!method || method->descriptor->full_name() != meta.method) {
    auto it = methods_.find(meta.method);
    method = it == methods_.end() ? nullptr : it->second.get();
  }
  if (!method) {
    rejected("no_method").inc();
    // The name is the client's bytes: reply() makes the error text valid UTF-8.
    reply(conn, meta.request_id, notFound("no method '" + std::string(meta.method) + "'"), true,
          nullptr);
    return;
  }
  last_method_ = method;
  Call* call;
  if (!method->free_calls.empty()) {
    call = method->free_calls.back();
    method->free_calls.pop_back();
  } else {
    call = new Call();
    call->server = this;
    call->method = method;
    call->request.reset(method->request_prototype->New());
    call->response.reset(method->response_prototype->New());
  }
  if (!call->request->ParseFromArray(body, static_cast<int>(body_len))) {
    rejected("bad_request").inc();
    method->free_calls.push_back(call);
    reply(conn, meta.request_id,
          invalidArgument("request body is not a valid " +
                          method->descriptor->input_type()->full_name()),
          true, nullptr);
    return;
  }
  call->conn_id = conn.id();
  call->request_id = meta.request_id;
  call->start_us = in_batch_ ? batch_start_us_ : monoUs();
  call->controller.setDeadlineMonoMs(meta.timeout_ms ? call->start_us / 1000 + meta.timeout_ms : 0);
  call->running = true;
  ++running_;
  ++c.running;
  method->calls->inc();
  // Cleared after (a nested request, if a handler ran the loop, leaves it null: its calls
  // look their connection up) and by onClosed(), so it never outlives its Conn.
  handling_ = &c;
  method->service->CallMethod(method->descriptor, &call->controller, call->request.get(),
                              call->response.get(), call);
  handling_ = nullptr;
}

void Server::finishCall(Call* call) {
  loop_.assertInLoopThread();
  if (!call->running) {
    LOG_ERROR(Rpc, "done run twice for {}", call->method->descriptor->full_name());
    return;
  }
  call->running = false;
  Method* method = call->method;
  if (in_batch_ && call->start_us == batch_start_us_) {
    batch_done_.push_back(method);  // timed once the batch is done
  } else {
    method->seconds->observe(static_cast<double>(monoUs() - call->start_us) / 1e6);
  }
  Conn* found = handling_ && handling_->tcp->id() == call->conn_id ? handling_ : nullptr;
  if (!found) {
    auto it = connections_.find(call->conn_id);
    if (it != connections_.end()) found = &it->second;
  }
  if (found) {
    Conn& c = *found;
    if (c.running > 0 && --c.running == 0) c.active_ms = loop_.nowMs();
    if (!reply(*c.tcp, call->request_id, call->controller.status(), false, call->response.get())) {
      LOG_EVERY_SEC(Warn, Rpc, 1,
                    "{}: response over max_response_bytes ({}), answered INVALID_ARGUMENT",
                    method->descriptor->full_name(), options_.max_response_bytes);
      method->errors->inc();
    }
  }
  if (!call->controller.status().isOk()) method->errors->inc();
  call->request->Clear();
  call->response->Clear();
  call->controller.Reset();
  if (method->free_calls.size() < 1024) {
    method->free_calls.push_back(call);
  } else {
    delete call;
  }
  --running_;
  if (shutting_down_) maybeFinishShutdown();
}

bool Server::reply(net::TcpConnection& conn, uint64_t request_id, const Status& status,
                   bool not_executed, const pb::Message* response, bool goaway) {
  detail::MetaView meta;
  meta.request_id = request_id;
  std::string error;  // meta.error's bytes
  size_t body_len = 0;
  bool fits = true;
  if (!status.isOk()) {
    meta.code = static_cast<int32_t>(status.code());
    error = detail::boundedErrorText(status.message());
    meta.not_executed = not_executed;
    meta.goaway = goaway;
    response = nullptr;
  } else if (response) {
    body_len = response->ByteSizeLong();
    const size_t frame = detail::kHeaderBytes + detail::encodedMetaSize(meta) + body_len;
    if (frame > options_.max_response_bytes) {
      // Sent, it would make the client close the connection under every other call on it.
      serverMetrics().oversized_responses.inc();
      meta.code = static_cast<int32_t>(Code::INVALID_ARGUMENT);
      error = "response of " + std::to_string(frame) + " bytes over the limit " +
              std::to_string(options_.max_response_bytes) + " (max_response_bytes)";
      response = nullptr;
      body_len = 0;
      fits = false;
    }
  }
  meta.error = error;
  const size_t meta_len = detail::encodedMetaSize(meta);
  detail::FrameHeader header{detail::kFlagResponse, static_cast<uint32_t>(meta_len),
                             static_cast<uint32_t>(body_len)};
  char* out = conn.prepareSend(header.frameBytes());
  if (!out) return fits;  // closing, or the client stopped reading (closed as a slow peer)
  detail::writeHeader(header, out);
  detail::encodeMeta(meta, out + detail::kHeaderBytes);
  if (response) {
    response->SerializeWithCachedSizesToArray(
        reinterpret_cast<uint8_t*>(out + detail::kHeaderBytes + meta_len));
  }
  conn.commitSend(header.frameBytes());
  return fits;
}

void Server::onHello(Conn& c, uint64_t request_id, const char* body, size_t body_len) {
  if (c.authenticated) return;  // no key required (or already presented): ignored
  Hello hello;
  if (!hello.ParseFromArray(body, static_cast<int>(body_len)) || hello.cluster_key().empty()) {
    serverMetrics().key_missing.inc();
    goaway(c, request_id, Status(Code::UNAUTHENTICATED, "cluster key required"));
    return;
  }
  // Digests of equal length compared in constant time: neither the key's length nor the
  // position of the first differing byte shows in the timing.
  const std::string digest = sha256(hello.cluster_key());
  if (CRYPTO_memcmp(digest.data(), key_digest_.data(), SHA256_DIGEST_LENGTH) != 0) {
    serverMetrics().key_wrong.inc();
    goaway(c, request_id, Status(Code::UNAUTHENTICATED, "wrong cluster key"));
    return;
  }
  c.authenticated = true;  // the handshake deadline's wheel entry re-checks and moves on
}

void Server::goaway(Conn& c, uint64_t request_id, const Status& status) {
  net::TcpConnection& conn = *c.tcp;
  if (conn.closing()) return;
  if (status.code() != Code::UNAVAILABLE) {
    LOG_EVERY_SEC(Warn, Rpc, 1, "RPC connection from {} refused: {}", conn.peerAddress().toString(),
                  status.message());
  }
  reply(conn, request_id, status, true, nullptr, true);
  conn.closeAfterFlush();  // input from now on is discarded: nothing more runs
  c.close_at_ms = loop_.nowMs() + kGoawayLingerMs;
  arm(c);
}

void Server::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  LOG_DEBUG(Rpc, "RPC connection {} closed: {}", conn.id(), net::TcpConnection::reasonName(reason));
  if (handling_ && handling_->tcp == &conn) handling_ = nullptr;
  connections_.erase(conn.id());
  if (shutting_down_) maybeFinishShutdown();
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  loop_.assertInLoopThread();
  if (shutting_down_) return;
  shutting_down_ = true;
  on_shutdown_ = std::move(done);
  listener_.reset();
  LOG_INFO(Rpc, "RPC server {} shutting down: {} calls running, {} connections",
           address_.toString(), running_, connections_.size());
  grace_timer_ = new GraceTimer{};
  grace_timer_->server = this;
  uv_timer_init(loop_.uvLoop(), &grace_timer_->timer);
  grace_timer_->timer.data = grace_timer_;
  uv_timer_start(
      &grace_timer_->timer,
      [](uv_timer_t* t) {
        auto* gt = static_cast<GraceTimer*>(t->data);
        if (gt->server) gt->server->closeConnections(false);  // grace is over
      },
      static_cast<uint64_t>(grace.count()), 0);
  maybeFinishShutdown();
}

void Server::closeConnections(bool after_flush) {
  connections_closing_ = true;
  std::vector<Conn*> conns;
  conns.reserve(connections_.size());
  for (auto& [id, conn] : connections_)
    conns.push_back(&conn);
  for (Conn* c : conns) {
    if (after_flush) {
      // No call is running (maybeFinishShutdown): the client may re-send whatever it wrote
      // since on another connection.
      goaway(*c, 0, unavailable("server shutting down"));
    } else {
      c->tcp->close();
    }
  }
  maybeFinishShutdown();
}

void Server::maybeFinishShutdown() {
  if (deleting_) return;
  if (running_ == 0 && !connections_closing_ && !connections_.empty()) {
    // Every call answered: let the responses drain, then the connections close.
    closeConnections(true);
    return;
  }
  if (running_ > 0 || !connections_.empty()) return;
  deleting_ = true;
  wheel_.reset();
  auto* gt = grace_timer_;
  gt->server = nullptr;
  uv_timer_stop(&gt->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&gt->timer),
           [](uv_handle_t* h) { delete static_cast<GraceTimer*>(h->data); });
  // Deleting from inside a connection's onClosed() is safe: the connection is deleted right
  // after and never calls back into the server again.
  auto done = std::move(on_shutdown_);
  LOG_INFO(Rpc, "RPC server {} stopped", address_.toString());
  delete this;
  if (done) done();
}

}  // namespace push::rpc
