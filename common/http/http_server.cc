#include "common/http/http_server.h"

#include <algorithm>
#include <cassert>
#include <exception>
#include <vector>

#include "common/base/log.h"
#include "common/http/detail/http_connection.h"
#include "common/net/event_loop.h"
#include "common/net/loop_wheel.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "proto/config.pb.h"

namespace push::http {

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

Result<HttpServer*> HttpServer::listen(net::EventLoop& loop, const Options& options,
                                       Router&& router, MiddlewareChain&& middleware) {
  loop.assertInLoopThread();
  Options opts = options;
  opts.max_pipelined = std::max<uint32_t>(opts.max_pipelined, 1);
  if (opts.idle_timeout.count() < 0) opts.idle_timeout = std::chrono::milliseconds(0);

  auto* server = new HttpServer(loop, opts, std::move(router), std::move(middleware));
  net::TcpServer::Options tcp;
  tcp.address = opts.address;
  tcp.reuse_port = opts.reuse_port;
  tcp.backlog = opts.backlog;
  Result<net::TcpServer*> listener = net::TcpServer::listen(
      loop, tcp, [server](net::TcpConnection& conn) { server->onAccept(conn); });
  if (!listener.isOk()) {
    delete server;  // nothing was opened
    return listener.status();
  }
  server->listener_ = *listener;
  server->address_ = server->listener_->address();

  if (opts.idle_timeout.count() > 0) {
    // About ten ticks per timeout: a connection closes at most a tick late.
    const int64_t tick = std::clamp<int64_t>(opts.idle_timeout.count() / 10, 5, 1000);
    server->wheel_ = net::LoopWheel::create(
        loop, tick, 64, [server](uint64_t conn_id) { server->onIdleCheck(conn_id); });
  }
  LOG_DEBUG(Http, "listening on {}", server->address_.toString());
  return server;
}

void HttpServer::onAccept(net::TcpConnection& conn) {
  if (closing_) {  // not reached: TcpServer stops accepting on close()
    conn.close();
    return;
  }
  const uint64_t id = next_conn_id_++;
  conn.setId(id);
  auto* hc = new detail::HttpConnection(*this, conn, id);
  conn.setContext(hc);
  connections_.emplace(id, hc);
  conn.start(handler_.get(), &handler_->limits);
  if (wheel_) wheel_->schedule(id, loop_.nowMs() + options_.idle_timeout.count());
}

void HttpServer::close() {
  if (closing_) return;
  closing_ = true;
  link_->server = nullptr;  // responders answer into the void from now on
  if (listener_) listener_->close();
  listener_ = nullptr;
  if (wheel_) wheel_->close();
  wheel_ = nullptr;
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
  delete conn;
  if (closing_ && connections_.empty()) delete this;
}

void HttpServer::onIdleCheck(uint64_t conn_id) {
  auto it = connections_.find(conn_id);
  if (it == connections_.end()) return;  // closed since: the entry is stale
  const int64_t next = it->second->checkIdle(loop_.nowMs());
  if (next > 0 && wheel_) wheel_->schedule(conn_id, next);
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
  // Exceptions must not unwind into libuv (STYLE.md 10). A throwing handler's responder is
  // destroyed on the way out and answers 500 (and `req` with it: do not touch it below).
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
