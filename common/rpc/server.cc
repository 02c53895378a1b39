#include "common/rpc/server.h"

#include <uv.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/service.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_server.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/frame.h"
#include "proto/config.pb.h"
#include "proto/rpc.pb.h"

namespace push::rpc {

namespace pb = google::protobuf;

namespace {
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

Server* Server::create(net::EventLoop& loop, Options options) {
  return new Server(loop, std::move(options));
}

Server::Server(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), scratch_meta_(std::make_unique<RpcMeta>()) {
  options_.limits.max_input = std::max(options_.limits.max_input, options_.max_frame_bytes + 64);
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
    m->seconds = &registry.histogram("push_rpc_server_call_seconds",
                                     "Time from request parsed to response queued, by method.",
                                     metrics::latencyBuckets(), label);
    methods_.emplace(md->full_name(), std::move(m));
  }
  return Status::ok();
}

Status Server::start() {
  loop_.assertInLoopThread();
  net::TcpServer::Options lo;
  lo.address = options_.address;
  lo.reuse_port = options_.reuse_port;
  auto listener = net::TcpServer::listen(loop_, lo, [this](net::TcpConnection& conn) {
    if (shutting_down_) {
      conn.close();
      return;
    }
    const uint64_t id = next_conn_id_++;
    conn.setId(id);
    connections_.emplace(id, &conn);
    conn.start(this, &options_.limits);
  });
  if (!listener.isOk()) return listener.status();
  listener_ = *listener;
  address_ = listener_->address();
  LOG_INFO(Rpc, "RPC server listening on {} ({} methods)", address_.toString(), methods_.size());
  return Status::ok();
}

void Server::protocolError(net::TcpConnection& conn, std::string_view what) {
  protocolErrors().inc();
  LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection from {}: {}", conn.peerAddress().toString(),
                what);
  conn.close();
}

size_t Server::onData(net::TcpConnection& conn, const char* data, size_t len) {
  size_t used = 0;
  while (used < len && !conn.closing()) {
    detail::FrameHeader header;
    auto hs = detail::parseHeader(data + used, len - used, options_.max_frame_bytes, &header);
    if (hs == detail::HeaderStatus::Incomplete) break;
    if (hs != detail::HeaderStatus::Ok) {
      protocolError(conn, detail::headerStatusText(hs));
      return len;
    }
    if (header.frameBytes() > len - used) break;  // wait for the rest of the frame
    if (header.flags & detail::kFlagResponse) {
      protocolError(conn, "response frame sent to a server");
      return len;
    }
    const char* meta = data + used + detail::kHeaderBytes;
    handleRequest(conn, meta, header.meta_len, meta + header.meta_len, header.body_len);
    used += header.frameBytes();
  }
  return used;
}

void Server::handleRequest(net::TcpConnection& conn, const char* meta_bytes, size_t meta_len,
                           const char* body, size_t body_len) {
  RpcMeta& meta = *scratch_meta_;
  if (!meta.ParseFromArray(meta_bytes, static_cast<int>(meta_len))) {
    protocolError(conn, "unparsable RpcMeta");
    return;
  }
  if (shutting_down_) {
    rejected("shutdown").inc();
    reply(conn, meta.request_id(), unavailable("server shutting down"), true, nullptr);
    return;
  }
  if (running_ >= options_.max_concurrency) {
    rejected("overloaded").inc();
    reply(conn, meta.request_id(),
          Status(Code::OVERLOADED, "server has " + std::to_string(running_) + " calls running"),
          true, nullptr);
    return;
  }
  auto it = methods_.find(meta.method());
  if (it == methods_.end()) {
    rejected("no_method").inc();
    reply(conn, meta.request_id(), notFound("no method '" + meta.method() + "'"), true, nullptr);
    return;
  }
  Method* method = it->second.get();
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
    reply(conn, meta.request_id(),
          invalidArgument("request body is not a valid " +
                          method->descriptor->input_type()->full_name()),
          true, nullptr);
    return;
  }
  call->conn_id = conn.id();
  call->request_id = meta.request_id();
  call->start_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       Clock::system().monoNow().time_since_epoch())
                       .count();
  call->controller.setDeadlineMonoMs(meta.timeout_ms() ? call->start_us / 1000 + meta.timeout_ms()
                                                       : 0);
  call->running = true;
  ++running_;
  method->calls->inc();
  method->service->CallMethod(method->descriptor, &call->controller, call->request.get(),
                              call->response.get(), call);
}

void Server::finishCall(Call* call) {
  loop_.assertInLoopThread();
  if (!call->running) {
    LOG_ERROR(Rpc, "done run twice for {}", call->method->descriptor->full_name());
    return;
  }
  call->running = false;
  Method* method = call->method;
  const Status& status = call->controller.status();
  if (!status.isOk()) method->errors->inc();
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             Clock::system().monoNow().time_since_epoch())
                             .count();
  method->seconds->observe(static_cast<double>(now_us - call->start_us) / 1e6);
  auto it = connections_.find(call->conn_id);
  if (it != connections_.end()) {
    reply(*it->second, call->request_id, status, false, call->response.get());
  }
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

void Server::reply(net::TcpConnection& conn, uint64_t request_id, const Status& status,
                   bool not_executed, const pb::Message* response) {
  RpcMeta meta;
  meta.set_request_id(request_id);
  if (!status.isOk()) {
    meta.set_code(status.code());
    meta.set_error(status.message());
    meta.set_not_executed(not_executed);
    response = nullptr;
  }
  const size_t meta_len = meta.ByteSizeLong();
  const size_t body_len = response ? response->ByteSizeLong() : 0;
  detail::FrameHeader header{detail::kFlagResponse, static_cast<uint32_t>(meta_len),
                             static_cast<uint32_t>(body_len)};
  char* out = conn.prepareSend(header.frameBytes());
  if (!out) return;  // closing, or the client stopped reading (closed as a slow peer)
  detail::writeHeader(header, out);
  meta.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + detail::kHeaderBytes));
  if (response) {
    response->SerializeWithCachedSizesToArray(
        reinterpret_cast<uint8_t*>(out + detail::kHeaderBytes + meta_len));
  }
  conn.commitSend(header.frameBytes());
}

void Server::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  LOG_DEBUG(Rpc, "RPC connection {} closed: {}", conn.id(), net::TcpConnection::reasonName(reason));
  connections_.erase(conn.id());
  if (shutting_down_) maybeFinishShutdown();
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  loop_.assertInLoopThread();
  if (shutting_down_) return;
  shutting_down_ = true;
  on_shutdown_ = std::move(done);
  if (listener_) {
    listener_->close();
    listener_ = nullptr;
  }
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
  std::vector<net::TcpConnection*> conns;
  conns.reserve(connections_.size());
  for (auto& [id, conn] : connections_)
    conns.push_back(conn);
  for (auto* conn : conns) {
    if (after_flush) {
      conn->closeAfterFlush();
    } else {
      conn->close();
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
