#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_connection.h"

namespace google::protobuf {
class Service;
}
namespace push::config {
class RpcServerConfig;
}
namespace push::net {
class EventLoop;
class TcpServer;
}  // namespace push::net

namespace push::rpc {

class RpcMeta;

// The server side of the pipelined protobuf RPC (DESIGN.md 5). Services are protobuf generic
// services (`option cc_generic_services = true` in the .proto); calls are dispatched by full
// method name ("push.echo.EchoService.Echo"). Requests of one connection run as they arrive
// and their responses go back as each finishes, in any order.
//
// Limits: a frame over max_frame_bytes or bytes that are not our protocol close that
// connection (counted, logged at most once a second); calls over max_concurrency are answered
// OVERLOADED without running; an unknown method gets NOT_FOUND; an unparsable request body
// gets INVALID_ARGUMENT.
//
// Ownership: create(), then start(). Destroy with shutdown() or close(): the Server deletes
// itself once its listener and connections are closed and every call it started has run its
// `done` (a handler that never completes keeps it alive, and is logged). ServerPtr closes on
// scope exit. Loop-thread only; handlers run on the loop thread and may reply later (call
// `done` on the loop thread).
class Server final : private net::TcpConnection::Handler {
 public:
  struct Options {
    // "host:port" to listen on; port 0 picks one (see address()).
    std::string address = "127.0.0.1:0";
    bool reuse_port = false;
    // Largest request frame (header + meta + body). Default: 16 MiB.
    uint32_t max_frame_bytes = 16u << 20;
    // Calls running at once; more are answered OVERLOADED. Default: 100000.
    uint32_t max_concurrency = 100000;
    net::TcpConnection::Limits limits = defaultLimits();

    static net::TcpConnection::Limits defaultLimits();
    // From config, with defaults for unset fields and range checks.
    static Result<Options> fromConfig(const config::RpcServerConfig& config);
  };

  static Server* create(net::EventLoop& loop, Options options);

  // Registers `service` (not owned; must outlive the Server). Before start().
  // ALREADY_EXISTS when a service of the same full name is registered.
  Status addService(google::protobuf::Service* service);

  // Listens. UNAVAILABLE when the address cannot be bound.
  Status start();
  // The bound address (real port), valid after start().
  const net::InetAddress& address() const { return address_; }

  // Graceful stop: stops listening, answers new calls UNAVAILABLE (not_executed, so clients
  // retry elsewhere), waits up to `grace` for running calls to finish and their responses to
  // be written, then closes every connection. `done` (optional) runs on the loop thread once
  // everything is closed, just before the Server deletes itself. Call once.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done = {});
  // shutdown() with no grace.
  void close() { shutdown(std::chrono::milliseconds(0)); }

  size_t connectionCount() const { return connections_.size(); }
  uint64_t callsRunning() const { return running_; }

 private:
  struct Method;
  struct Call;
  Server(net::EventLoop& loop, Options options);
  ~Server();

  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  void protocolError(net::TcpConnection& conn, std::string_view what);
  void handleRequest(net::TcpConnection& conn, const char* meta, size_t meta_len,
                     const char* body, size_t body_len);
  void reply(net::TcpConnection& conn, uint64_t request_id, const Status& status,
             bool not_executed, const google::protobuf::Message* response);
  void finishCall(Call* call);
  void maybeFinishShutdown();
  void closeConnections(bool after_flush);

  net::EventLoop& loop_;
  Options options_;
  std::unordered_map<std::string, std::unique_ptr<Method>> methods_;
  net::TcpServer* listener_ = nullptr;
  net::InetAddress address_;
  std::unordered_map<uint64_t, net::TcpConnection*> connections_;
  uint64_t next_conn_id_ = 1;
  uint64_t running_ = 0;
  bool shutting_down_ = false;
  bool connections_closing_ = false;
  bool deleting_ = false;
  std::function<void()> on_shutdown_;
  std::unique_ptr<RpcMeta> scratch_meta_;  // reused: parsing keeps its string capacity
  struct GraceTimer;
  GraceTimer* grace_timer_ = nullptr;
};

struct ServerCloser {
  void operator()(Server* server) const { server->close(); }
};
using ServerPtr = std::unique_ptr<Server, ServerCloser>;

}  // namespace push::rpc
