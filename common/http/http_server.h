#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/base/result.h"
#include "common/http/http_responder.h"
#include "common/http/http_response.h"
#include "common/http/middleware.h"
#include "common/http/router.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"

namespace push::config {
class HttpServerConfig;
}
namespace push::net {
class EventLoop;
class StreamFilter;
class TcpConnection;
}  // namespace push::net

namespace push::http {
namespace detail {
class HttpConnection;
}
class HttpServer;

// The owning handle listen() returns: destroying it (or reset()) calls close().
struct HttpServerCloser {
  void operator()(HttpServer* server) const;
};
using HttpServerPtr = std::unique_ptr<HttpServer, HttpServerCloser>;

// The HTTP/1.1 server every service mounts (operator API, admin port): llhttp on
// net::TcpServer/TcpConnection, keep-alive, pipelining answered strictly in order (also when
// handlers answer asynchronously and out of order), a MiddlewareChain, then a Router.
//
//   Router router;
//   RETURN_IF_ERROR(router.add("GET", "/v1/apps/{app}", getApp));
//   mountAdmin(router, AdminInfo{...});                 // /healthz, /metrics, /status
//   MiddlewareChain chain;
//   chain.add(requestLog());
//   chain.add(requestMetrics());
//   ASSIGN_OR_RETURN(HttpServerPtr server,
//                    HttpServer::listen(loop, HttpServer::Options::fromConfig(cfg.admin()),
//                                       std::move(router), std::move(chain)));
//   LOG_INFO(App, "admin on {}", server->address().toString());
//   ...
//   server.reset();                                     // closes it (so does its destructor)
//
// Per request: parse (limits below) -> middleware in order -> router -> handler -> response
// buffered in the connection's in-order queue -> sent when every earlier one was sent.
// Protocol answers, each with a JSON body {"error":"..."}:
//   400 malformed request (then close)   413 body over max_body_bytes (then close)
//   404 no route for the path            431 headers over max_header_bytes (then close)
//   405 path known, method not (+ Allow) 500 handler dropped its responder
//
// Every connection is bounded (Options): at most max_connections open (and
// max_connections_per_ip per client), more are closed at accept; one with nothing going on
// closes after idle_timeout; one that is closing (see close_linger_timeout) closes hard after
// close_linger_timeout. One timing wheel per server keeps both deadlines, not a timer per
// connection.
//
// Ownership (docs/CONVENTIONS.md §7-8): listen() returns an HttpServerPtr; destroying it (or
// reset()) closes the server: it stops listening, closes every connection at once (queued output
// and pending requests are dropped) and deletes itself when the last connection's close callback
// has run (at once when there is none). Responders still held by handlers stay safe: they
// find nothing and do nothing. Do not call close() on a server held by an HttpServerPtr.
//
// Connections own themselves (net::TcpConnection); the server keeps a registry id ->
// connection so close() reaches all of them and responders find theirs by id.
//
// Threading: everything, including handlers, middleware and responders, runs on the loop
// thread of `loop`; every method is loop-thread only.
class HttpServer {
 public:
  struct Options {
    // "host:port" to listen on; port 0 picks a free port (read it back with address()).
    // Default: "127.0.0.1:0" (services set their own).
    std::string address = "127.0.0.1:0";
    // SO_REUSEPORT, for several processes on one port. Default: false.
    bool reuse_port = false;
    // listen() backlog. Default: 1024.
    int backlog = 1024;
    // Limit on the request target plus all header names and values (each header line
    // counted 4 bytes more, for ": " and CRLF; trailers of chunked bodies count too). More is
    // answered 431 and the connection closes. Default: 16 KiB.
    uint32_t max_header_bytes = 16u << 10;
    // Limit on one request body (declared Content-Length or chunked total). More is answered
    // 413 and the connection closes; a declared length over it is refused before the body is
    // read. Default: 1 MiB.
    uint32_t max_body_bytes = 1u << 20;
    // Close a connection when, for this long, no request completed and no response went
    // out while no handler was working for it. Bytes of a partial request do not count, so a
    // request must arrive whole within this time (slow-loris senders are cut). Checked by one
    // timing wheel per server, not a timer per connection: a connection closes up to about a
    // tenth of this late. Default: 60 s. 0 disables.
    std::chrono::milliseconds idle_timeout{60'000};
    // Requests of one connection that may wait for their answer at once; when reached, the
    // connection stops reading until answers go out (a pipelining client cannot queue
    // unbounded work). Default: 64. Minimum 1.
    uint32_t max_pipelined = 64;
    // How long a closing connection may take to end. A connection closes gracefully after a
    // request that ends it (HTTP/1.0 without keep-alive, "Connection: close", a 400/413/431
    // answer) or after the client's FIN: its last answer is written, then FIN, then the server
    // waits for the client's FIN (closing with unread input would reset the connection and
    // could cost the client its answer). A client that never reads that answer, or never
    // closes its side, would hold the connection forever: after this long it is closed hard
    // (unsent output dropped; the client may see a reset) and counted in
    // push_http_connection_timeouts_total{reason="close_linger"}. Checked by the server's
    // timing wheel: up to about a tenth of this late. Default: 5 s. Minimum 1 ms (less is
    // raised to it).
    std::chrono::milliseconds close_linger_timeout{5'000};
    // Connections open at once (closing ones included: they hold a descriptor). One more is
    // closed at accept, before anything is read or written (no answer: an HTTP answer would
    // have to wait for the client to read it), and counted in
    // push_http_connections_refused_total{reason="max_connections"}. Default: 10000.
    // 0: unlimited.
    uint32_t max_connections = 10'000;
    // Connections open at once from one client: one IPv4 address, or one IPv6 /64 prefix (one
    // host usually owns a whole /64; IPv4-mapped IPv6 addresses count as IPv4). One more is
    // closed at accept like above, counted with reason="max_connections_per_ip". Default: 0
    // (unlimited: admin and API ports sit behind load balancers that share one address).
    uint32_t max_connections_per_ip = 0;
    // Called once per accepted connection (after the connection limits let it in, before
    // anything is read): the filter put between the socket and HTTP for that connection's
    // life (net::TcpConnection::setFilter). HTTPS is a factory of TLS sessions, e.g.
    // `[ctx] { return queue::TlsCodec::create(ctx); }` (this library does not depend on
    // common/queue: the caller brings the filter). A bad TLS handshake or record closes the
    // connection after the alert is written, without an HTTP answer. A null result leaves
    // that connection plain. Runs on the loop thread. Default: empty (plain HTTP).
    std::function<std::unique_ptr<net::StreamFilter>()> connection_filter;

    // From proto/config.proto; fields left 0/empty keep the defaults above (so a config
    // cannot make max_connections unlimited: set it high instead).
    static Options fromConfig(const config::HttpServerConfig& config);
  };

  // Binds, listens and returns the running server (see Ownership above). Takes the router and
  // middleware. Errors: INVALID_ARGUMENT for a bad address, UNAVAILABLE when the address
  // cannot be bound. Loop-thread only.
  static Result<HttpServerPtr> listen(net::EventLoop& loop, const Options& options, Router&& router,
                                      MiddlewareChain&& middleware = MiddlewareChain());

  // The bound address (the real port when port 0 was asked for).
  const net::InetAddress& address() const { return address_; }
  // Connections open now (closing ones included; refused ones never count).
  size_t connectionCount() const { return connections_.size(); }
  // Requests handed to middleware/handlers since start.
  uint64_t requestCount() const { return requests_; }

  // Routes and middleware may still be added while running (loop thread).
  Router& router() { return router_; }
  MiddlewareChain& middleware() { return middleware_; }
  const Options& options() const { return options_; }

  // For a graceful stop: stops listening; the connections open stay and are served. New
  // connections go to the other processes sharing the port (SO_REUSEPORT) or are refused by
  // the kernel. Idempotent.
  void stopAccepting();
  // Closes gracefully (FIN, then close_linger_timeout at most) every connection that owes
  // nothing and is receiving nothing (see detail::HttpConnection::quietFor) and has been quiet
  // for `quiet`; returns how many. A graceful stop calls it until connectionCount() is 0.
  size_t closeIdleConnections(std::chrono::milliseconds quiet);

  // Stops listening and closes every connection; deletes the server once they are closed.
  // Idempotent until the object is gone; may be called from inside a handler. HttpServerPtr
  // calls it.
  void close();

 private:
  friend class detail::HttpConnection;
  class ConnectionHandler;  // net::TcpConnection::Handler, in the .cc (keeps <uv.h> out)
  struct Link;              // shared with responders; cleared by close()

  HttpServer(net::EventLoop& loop, const Options& options, Router&& router,
             MiddlewareChain&& middleware);
  ~HttpServer();

  // What per-IP limits count: an IPv4 address or an IPv6 /64 prefix (see Options).
  struct ClientKey {
    uint64_t prefix = 0;  // IPv4: the address; IPv6: the first 8 bytes
    uint8_t family = 0;   // AF_INET or AF_INET6; 0 when the address is unknown
    bool operator==(const ClientKey&) const = default;
  };
  struct ClientKeyHash {
    size_t operator()(const ClientKey& k) const;
  };
  static ClientKey clientKeyOf(const net::InetAddress& peer);
  // The two kinds of wheel entries share one wheel: key = conn id * 2 + kind.
  enum TimerKind : uint64_t { kIdleCheck = 0, kLingerDeadline = 1 };

  void onAccept(net::TcpConnection& conn);
  // Closes a connection refused at accept (never started) and counts it.
  void refuse(net::TcpConnection& conn, const net::InetAddress& peer, bool per_ip);
  // Called by HttpConnection for each complete request, in order.
  void dispatch(detail::HttpConnection& conn, HttpRequest&& request, uint64_t seq);
  // Where responders deliver: a no-op when the connection is gone.
  void deliver(uint64_t conn_id, uint64_t seq, HttpResponse&& response);
  // Called by HttpConnection when it starts a graceful close: arms its close_linger_timeout.
  void onClosing(uint64_t conn_id);
  void onConnectionClosed(detail::HttpConnection* conn);
  void onTimer(uint64_t key);

  net::EventLoop& loop_;
  const Options options_;
  Router router_;
  MiddlewareChain middleware_;
  std::unique_ptr<ConnectionHandler> handler_;
  std::shared_ptr<Link> link_;
  net::TcpServerPtr listener_;  // null once accepting stopped
  net::LoopWheelPtr wheel_;     // idle checks and linger deadlines; null once closing
  net::InetAddress address_;
  std::unordered_map<uint64_t, detail::HttpConnection*> connections_;  // owned
  // Open connections per client, only when max_connections_per_ip is set (entries at 0 are
  // erased, so the map holds only clients with open connections).
  std::unordered_map<ClientKey, uint32_t, ClientKeyHash> per_client_;
  uint64_t next_conn_id_ = 1;
  uint64_t requests_ = 0;
  bool closing_ = false;
};

inline void HttpServerCloser::operator()(HttpServer* server) const {
  server->close();
}

}  // namespace push::http
