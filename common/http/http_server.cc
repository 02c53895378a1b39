#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <exception>
#include <functional>
#include <vector>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/detail/http_connection.h"
#include "common/net/event_loop.h"
#include "common/net/loop_wheel.h"
#include "common/net/stream_filter.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "proto/config.pb.h"

namespace push::http {
namespace {

struct ServerMetrics {
  metrics::Counter& refused_total = metrics::Registry::global().counter(
      "push_http_connections_refused_total",
      "HTTP connections closed at accept because a connection limit was reached, by limit.",
      R"(reason="max_connections")");
  metrics::Counter& refused_per_ip = metrics::Registry::global().counter(
      "push_http_connections_refused_total",
      "HTTP connections closed at accept because a connection limit was reached, by limit.",
      R"(reason="max_connections_per_ip")");
};

ServerMetrics& serverMetrics() {
  static ServerMetrics* m = new ServerMetrics();  // never destroyed: used until exit
  return *m;
}

}  // namespace

// Responders hold this (shared) instead of the server: close() clears `server`, so a
// responder that outlives the server finds nothing.
struct HttpServer::Link {
  HttpServer* server = nullptr;
};

// The TcpConnection::Handler of every connection of one server.
class HttpServer::ConnectionHandler final : public net::TcpConnection::Handler {
 public:
  explicit ConnectionHandler(HttpServer& server) : server_(server) {
    // Input is kept only while reading is paused (at most about one read); output beyond
    // the hard limit means the client does not read its answers.
    limits.max_input = 1u << 20;
    // API clients keep connections busy with pipelined requests: keep modest buffers.
    limits.retain_output = 64u << 10;
    limits.retain_input = 64u << 10;
  }

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    return connection(conn).onData(data, len);
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override {
    LOG_CONN(Trace, Http, conn.id(), "closed: {}", net::TcpConnection::reasonName(reason));
    server_.onConnectionClosed(&connection(conn));  // may delete the server (and this)
  }
  void onPeerShutdown(net::TcpConnection& conn) override { connection(conn).onPeerShutdown(); }

  net::TcpConnection::Limits limits;

 private:
  static detail::HttpConnection& connection(net::TcpConnection& conn) {
    return *static_cast<detail::HttpConnection*>(conn.context());
  }
  HttpServer& server_;
};

HttpServer::Options HttpServer::Options::fromConfig(const config::HttpServerConfig& config) {
  Options o;
  if (!config.listen().address().empty()) o.address = config.listen().address();
  o.reuse_port = config.listen().reuse_port();
  if (config.listen().backlog() != 0) o.backlog = static_cast<int>(config.listen().backlog());
  if (config.max_header_bytes() != 0) o.max_header_bytes = config.max_header_bytes();
  if (config.max_body_bytes() != 0) o.max_body_bytes = config.max_body_bytes();
  if (config.idle_timeout_s() != 0) o.idle_timeout = std::chrono::seconds(config.idle_timeout_s());
  if (config.max_pipelined() != 0) o.max_pipelined = config.max_pipelined();
  if (config.close_linger_timeout_ms() != 0) {
    o.close_linger_timeout = std::chrono::milliseconds(config.close_linger_timeout_ms());
  }
  if (config.max_connections() != 0) o.max_connections = config.max_connections();
  o.max_connections_per_ip = config.max_connections_per_ip();
  return o;
}

HttpServer::HttpServer(net::EventLoop& loop, const Options& options, Router&& router,
                       MiddlewareChain&& middleware)
    : loop_(loop),
      options_(options),
      router_(std::move(router)),
      middleware_(std::move(middleware)),
      handler_(std::make_unique<ConnectionHandler>(*this)),
      link_(std::make_shared<Link>()) {
  link_->server = this;
}

HttpServer::~HttpServer() {
  assert(connections_.empty() && "HttpServer deleted with open connections");
  link_->server = nullptr;
}

Result<HttpServerPtr> HttpServer::listen(net::EventLoop& loop, const Options& options,
                                         Router&& router, MiddlewareChain&& middleware) {
  loop.assertInLoopThread();
  Options opts = options;
  opts.max_pipelined = std::max<uint32_t>(opts.max_pipelined, 1);
  if (opts.idle_timeout.count() < 0) opts.idle_timeout = std::chrono::milliseconds(0);
  opts.close_linger_timeout = std::max(opts.close_linger_timeout, std::chrono::milliseconds(1));

  HttpServerPtr server(new HttpServer(loop, opts, std::move(router), std::move(middleware)));
  net::TcpServer::Options tcp;
  tcp.address = opts.address;
  tcp.reuse_port = opts.reuse_port;
  tcp.backlog = opts.backlog;
  Result<net::TcpServerPtr> listener = net::TcpServer::listen(
      loop, tcp, [s = server.get()](net::TcpConnection& conn) { s->onAccept(conn); });
  if (!listener.isOk()) return listener.status();  // `server` closes: nothing is open
  server->listener_ = std::move(listener).value();
  server->address_ = server->listener_->address();

  // About ten ticks per timeout (the shorter one): a connection closes at most a tick late.
  // The wheel's timer runs only while it holds entries.
  int64_t shortest = opts.close_linger_timeout.count();
  if (opts.idle_timeout.count() > 0) shortest = std::min(shortest, opts.idle_timeout.count());
  const int64_t tick = std::clamp<int64_t>(shortest / 10, 5, 1000);
  server->wheel_ =
      net::LoopWheel::create(loop, tick, 64, [s = server.get()](uint64_t key) { s->onTimer(key); });
  LOG_DEBUG(Http, "listening on {}", server->address_.toString());
  return server;
}

HttpServer::ClientKey HttpServer::clientKeyOf(const net::InetAddress& peer) {
  ClientKey key;
  const sockaddr* sa = peer.sockaddrPtr();
  if (peer.family() == AF_INET) {
    key.family = AF_INET;
    key.prefix = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
  } else if (peer.family() == AF_INET6) {
    const auto* a = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {  // a dual-stack listener's IPv4 client
      uint32_t v4;
      std::memcpy(&v4, reinterpret_cast<const uint8_t*>(a) + 12, 4);
      key.family = AF_INET;
      key.prefix = ntohl(v4);
    } else {
      key.family = AF_INET6;
      std::memcpy(&key.prefix, a, 8);  // the /64 (byte order does not matter for a key)
    }
  }
  return key;
}

size_t HttpServer::ClientKeyHash::operator()(const ClientKey& k) const {
  return std::hash<uint64_t>()(k.prefix * 31 + k.family);
}

void HttpServer::onAccept(net::TcpConnection& conn) {
  if (closing_) {  // not reached: TcpServer stops accepting on close()
    conn.close();
    return;
  }
  const net::InetAddress peer = conn.peerAddress();
  if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
    refuse(conn, peer, /*per_ip=*/false);
    return;
  }
  ClientKey client;
  if (options_.max_connections_per_ip != 0) {
    // An unknown address (the client reset before we asked) is not limited: the
    // connection fails on its first read anyway.
    client = clientKeyOf(peer);
    if (client.family != 0) {
      uint32_t& open = per_client_[client];
      if (open >= options_.max_connections_per_ip) {
        refuse(conn, peer, /*per_ip=*/true);
        return;
      }
      ++open;
    }
  }
  const uint64_t id = next_conn_id_++;
  conn.setId(id);
  auto* hc = new detail::HttpConnection(*this, conn, id, peer);
  if (client.family != 0) hc->setCountedClient(true);
  conn.setContext(hc);
  connections_.emplace(id, hc);
  if (options_.connection_filter) {
    if (std::unique_ptr<net::StreamFilter> filter = options_.connection_filter()) {
      conn.setFilter(std::move(filter));
    }
  }
  conn.start(handler_.get(), &handler_->limits);
  if (options_.idle_timeout.count() > 0 && !conn.closing()) {
    wheel_->schedule(id * 2 + kIdleCheck, loop_.nowMs() + options_.idle_timeout.count());
  }
}

void HttpServer::refuse(net::TcpConnection& conn, const net::InetAddress& peer, bool per_ip) {
  ServerMetrics& m = serverMetrics();
  (per_ip ? m.refused_per_ip : m.refused_total).inc();
  LOG_EVERY_SEC(Warn, Http, 1, "{} refusing a connection from {}: {} reached ({} open)",
                address_.toString(), peer.host(),
                per_ip ? "max_connections_per_ip" : "max_connections", connections_.size());
  // Never started: nothing was read, nothing is written, and no handler callback runs. The
  // client sees its connection end at once (FIN, or a reset if it had sent bytes).
  conn.close();
}

void HttpServer::stopAccepting() {
  listener_.reset();
}

size_t HttpServer::closeIdleConnections(std::chrono::milliseconds quiet) {
  const int64_t now = loop_.nowMs();
  std::vector<detail::HttpConnection*> idle;
  for (const auto& [id, conn] : connections_) {
    if (conn->quietFor(now, quiet.count())) idle.push_back(conn);
  }
  for (auto* conn : idle)
    conn->closeGracefully();  // may close (and delete) it at once: the list is a copy
  return idle.size();
}

void HttpServer::close() {
  if (closing_) return;
  closing_ = true;
  link_->server = nullptr;  // responders answer into the void from now on
  listener_.reset();
  wheel_.reset();
  if (connections_.empty()) {
    delete this;
    return;
  }
  std::vector<detail::HttpConnection*> open;
  open.reserve(connections_.size());
  for (const auto& [id, conn] : connections_)
    open.push_back(conn);
  for (auto* conn : open)
    conn->close();  // each ends in onConnectionClosed(), later
}

void HttpServer::onConnectionClosed(detail::HttpConnection* conn) {
  connections_.erase(conn->id());
  if (conn->countedClient()) {
    auto it = per_client_.find(clientKeyOf(conn->peer()));
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  }
  delete conn;
  if (closing_ && connections_.empty()) delete this;
}

void HttpServer::onClosing(uint64_t conn_id) {
  if (wheel_) {
    wheel_->schedule(conn_id * 2 + kLingerDeadline,
                     loop_.nowMs() + options_.close_linger_timeout.count());
  }
}

void HttpServer::onTimer(uint64_t key) {
  const uint64_t conn_id = key / 2;
  auto it = connections_.find(conn_id);
  if (it == connections_.end()) return;  // closed since: the entry is stale
  if (key % 2 == kLingerDeadline) {
    it->second->lingerExpired();
    return;
  }
  const int64_t next = it->second->checkIdle(loop_.nowMs());
  if (next > 0 && wheel_) wheel_->schedule(key, next);
}

void HttpServer::dispatch(detail::HttpConnection& conn, HttpRequest&& request, uint64_t seq) {
  ++requests_;
  HttpResponder responder(std::move(request),
                          [link = link_, conn_id = conn.id(), seq](HttpResponse&& response) {
                            if (HttpServer* server = link->server) {
                              server->deliver(conn_id, seq, std::move(response));
                            }
                          });
  HttpRequest& req = responder.request();
  // Exceptions must not unwind into libuv (docs/CONVENTIONS.md §10). A throwing handler's responder
  // is destroyed on the way out and answers 500 (and `req` with it: do not touch it below).
  try {
    if (middleware_.run(req, responder)) return;
    router_.handle(req, std::move(responder));
  } catch (const std::exception& e) {
    LOG_EVERY_SEC(Error, Http, 1, "[C{}] HTTP handler threw: {}", conn.id(), e.what());
  } catch (...) {
    LOG_EVERY_SEC(Error, Http, 1, "[C{}] HTTP handler threw a non-exception", conn.id());
  }
}

void HttpServer::deliver(uint64_t conn_id, uint64_t seq, HttpResponse&& response) {
  auto it = connections_.find(conn_id);
  if (it == connections_.end()) return;  // the client went away meanwhile
  it->second->deliver(seq, std::move(response));
}

}  // namespace push::http
