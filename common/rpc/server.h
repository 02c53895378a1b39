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
#include "common/net/owning_ptrs.h"
#include "common/net/tcp_connection.h"

namespace google::protobuf {
class Service;
}
namespace push::config {
class RpcServerConfig;
}
namespace push::net {
class EventLoop;
}  // namespace push::net

namespace push::rpc {

class Server;

// The owning handle create() returns: destroying it (or reset()) calls close().
struct ServerCloser {
  void operator()(Server* server) const;
};
using ServerPtr = std::unique_ptr<Server, ServerCloser>;

// The server side of the pipelined protobuf RPC (docs/ARCHITECTURE.md §5). Services are protobuf
// generic services (`option cc_generic_services = true` in the .proto); calls are dispatched by
// full method name ("push.echo.EchoService.Echo"). Requests of one connection run as they arrive
// and their responses go back as each finishes, in any order.
//
// Limits: a frame over max_frame_bytes or bytes that are not our protocol close that
// connection (counted, logged at most once a second); calls over max_concurrency are answered
// OVERLOADED without running; an unknown method gets NOT_FOUND; an unparsable request body
// gets INVALID_ARGUMENT; a response over max_response_bytes is replaced by an INVALID_ARGUMENT
// error for that call (the connection and its other calls are untouched).
//
// Cluster key: with Options::cluster_key set, a connection must open with a Hello carrying it
// (proto/rpc.proto) within handshake_timeout; a missing or wrong key is answered with an
// UNAUTHENTICATED goaway and the connection closes, nothing runs. Without a key every
// connection is served, so start() refuses (FAILED_PRECONDITION) to listen on an address
// other than loopback unless Options::allow_without_cluster_key says the network is trusted
// (then it warns).
//
// Idle connections: one that has sent no complete frame and had no call running for
// idle_timeout gets an UNAVAILABLE goaway (its client re-sends whatever it wrote meanwhile on
// another connection) and is closed. Deadlines live in one timing wheel, not a timer per
// connection.
//
// Ownership: create() returns a ServerPtr; then start(). Destroying the ServerPtr (or reset())
// closes the server (shutdown() with no grace). For a graceful stop, hand the server over to
// its own shutdown explicitly:
//   server.release()->shutdown(grace, [] { ... });   // the Server deletes itself when done
// Either way the Server deletes itself once its listener and connections are closed and every
// call it started has run its `done` (a handler that never completes keeps it alive, and is
// logged). Do not call close() or shutdown() on a server a ServerPtr still holds. Loop-thread
// only; handlers run on the loop thread and may reply later (call `done` on the loop thread).
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
    // Largest response frame sent (header + meta + body). A bigger response is not sent: the
    // call is answered INVALID_ARGUMENT "response of N bytes over the limit M" instead (a frame
    // over the client's max_frame_bytes would make it close the connection and fail every
    // other call on it). Keep it <= the clients' Channel::Options::max_frame_bytes.
    // Default: 16 MiB. Range: 4 KiB..256 MiB (checked by start()).
    uint32_t max_response_bytes = 16u << 20;
    // Shared secret of the cluster. Non-empty: connections must present it in a Hello first
    // (see the class comment). Empty: every connection is served. At most 1024 bytes.
    std::string cluster_key;
    // Listen on a non-loopback address without a cluster key (anyone who reaches the port may
    // call every method). Default: false, start() refuses.
    bool allow_without_cluster_key = false;
    // A connection with no complete frame received and no call running for this long gets a
    // goaway and is closed. Resolution: a tenth of the smaller of the two timeouts, 5 ms to
    // 1 s. Default: 10 min. 0 disables.
    std::chrono::milliseconds idle_timeout{10 * 60 * 1000};
    // With a cluster key: a connection that has not sent its Hello within this long is
    // closed. Default: 5 s. Must be positive.
    std::chrono::milliseconds handshake_timeout{5000};
    net::TcpConnection::Limits limits = defaultLimits();

    static net::TcpConnection::Limits defaultLimits();
    // From config, with defaults for unset fields and range checks.
    static Result<Options> fromConfig(const config::RpcServerConfig& config);
  };

  static ServerPtr create(net::EventLoop& loop, Options options);

  // Registers `service` (not owned; must outlive the Server). Before start().
  // ALREADY_EXISTS when a service of the same full name is registered.
  Status addService(google::protobuf::Service* service);

  // Listens. UNAVAILABLE when the address cannot be bound; INVALID_ARGUMENT for an option out
  // of range (nothing is opened).
  Status start();
  // The bound address (real port), valid after start().
  const net::InetAddress& address() const { return address_; }

  // Graceful stop: stops listening, answers new calls UNAVAILABLE (not_executed, so clients
  // retry elsewhere), waits up to `grace` for running calls to finish and their responses to
  // be written, then closes every connection. `done` (optional) runs on the loop thread once
  // everything is closed, just after the Server deleted itself (it may run before shutdown()
  // returns). Call once, on a server released from its ServerPtr (see Ownership above).
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done = {});
  // shutdown() with no grace. ServerPtr calls it.
  void close() { shutdown(std::chrono::milliseconds(0)); }

  size_t connectionCount() const { return connections_.size(); }
  uint64_t callsRunning() const { return running_; }

 private:
  struct Method;
  struct Call;
  // Per-connection state, the TcpConnection's context.
  struct Conn {
    net::TcpConnection* tcp = nullptr;
    int64_t active_ms = 0;       // loop time of the last complete frame, accept or finished call
    int64_t wheel_ms = 0;        // deadline of the live wheel entry; 0: none
    int64_t close_at_ms = 0;     // goaway sent: closed hard at this time if still open
    uint32_t running = 0;        // calls of this connection not answered yet
    bool authenticated = false;  // Hello accepted, or no key required
  };
  Server(net::EventLoop& loop, Options options);
  ~Server();

  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  void onAccept(net::TcpConnection& conn);
  void protocolError(net::TcpConnection& conn, std::string_view what);
  void handleRequest(Conn& conn, const char* meta, size_t meta_len, const char* body,
                     size_t body_len);
  void onHello(Conn& conn, uint64_t request_id, const char* body, size_t body_len);
  // Answers `request_id` with a goaway (rpc.proto) carrying `status`, then closes the
  // connection once it is written (bounded by kGoawayLingerMs).
  void goaway(Conn& conn, uint64_t request_id, const Status& status);
  // Queues a response frame. An OK response over max_response_bytes is replaced by an
  // INVALID_ARGUMENT error; returns false then.
  bool reply(net::TcpConnection& conn, uint64_t request_id, const Status& status, bool not_executed,
             const google::protobuf::Message* response, bool goaway = false);
  void finishCall(Call* call);
  void maybeFinishShutdown();
  void closeConnections(bool after_flush);
  // Connection deadlines (handshake, idle, goaway linger) in wheel_: one live entry per
  // connection at Conn::wheel_ms; a deadline that moves later is re-checked when it fires.
  int64_t deadlineOf(const Conn& conn) const;
  void arm(Conn& conn);
  void onWheel(uint64_t conn_id);

  net::EventLoop& loop_;
  Options options_;
  // Looked up by the request's method name as a view into the frame (no string per call).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::unordered_map<std::string, std::unique_ptr<Method>, NameHash, std::equal_to<>> methods_;
  net::TcpServerPtr listener_;  // null before start() and once shutting down
  net::InetAddress address_;
  std::unordered_map<uint64_t, Conn> connections_;  // nodes are stable: Conn* in the context
  net::LoopWheelPtr wheel_;                         // null when no deadline applies
  std::string key_digest_;                          // SHA-256 of cluster_key; empty: no key
  uint64_t next_conn_id_ = 1;
  uint64_t running_ = 0;
  // Call timing, with two clock reads per read batch instead of two per call (a clock read was
  // 14% of the server's CPU at 1.3M small calls/s): calls read in one onData start at
  // batch_start_us_; those that finish within it are timed at its end (batch_done_).
  int64_t batch_start_us_ = 0;
  bool in_batch_ = false;
  std::vector<Method*> batch_done_;
  // The connection whose request is running in handleRequest: a call finished within its
  // handler answers on it without a lookup in connections_.
  Conn* handling_ = nullptr;
  Method* last_method_ = nullptr;  // the method of the last request run (methods_ owns it)
  bool shutting_down_ = false;
  bool connections_closing_ = false;
  bool deleting_ = false;
  std::function<void()> on_shutdown_;
  struct GraceTimer;
  GraceTimer* grace_timer_ = nullptr;
};

inline void ServerCloser::operator()(Server* server) const {
  server->close();
}

}  // namespace push::rpc
