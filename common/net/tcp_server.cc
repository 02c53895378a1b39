#include "common/net/tcp_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"

namespace push::net {
namespace {

metrics::Counter& acceptedTotal() {
  static auto& c = metrics::Registry::global().counter("push_net_accepted_total",
                                                       "TCP connections accepted.");
  return c;
}
metrics::Counter& acceptErrorsTotal() {
  static auto& c = metrics::Registry::global().counter(
      "push_net_accept_errors_total",
      "accept() failures (EMFILE/ENFILE: out of file descriptors, and others).");
  return c;
}

// A bound socket with SO_REUSEADDR (and SO_REUSEPORT when asked), for uv_tcp_open. libuv 1.44
// has no UV_TCP_REUSEPORT flag, so the socket is made by hand.
Result<int> boundSocket(const InetAddress& addr, bool reuse_port) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable(std::string("SO_REUSEPORT: ") + std::strerror(err));
  }
  if (::bind(fd, addr.sockaddrPtr(), addr.length()) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("bind " + addr.toString() + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

TcpServer::TcpServer(EventLoop& loop, AcceptCallback on_accept)
    : loop_(loop), on_accept_(std::move(on_accept)) {
  uv_tcp_init(loop.uvLoop(), &listener_);
  listener_.data = this;
}

Result<TcpServer*> TcpServer::listen(EventLoop& loop, const Options& options,
                                     AcceptCallback on_accept) {
  loop.assertInLoopThread();
  ASSIGN_OR_RETURN(InetAddress addr, InetAddress::parse(options.address));
  ASSIGN_OR_RETURN(int fd, boundSocket(addr, options.reuse_port));
  auto* server = new TcpServer(loop, std::move(on_accept));
  int rc = uv_tcp_open(&server->listener_, fd);
  if (rc != 0) {
    ::close(fd);  // not adopted by the handle
  } else {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server->listener_), options.backlog,
                   [](uv_stream_t* s, int status) {
                     static_cast<TcpServer*>(s->data)->onConnection(status);
                   });
  }
  if (rc != 0) {
    server->close();
    return unavailable("listen " + addr.toString() + ": " + uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&server->listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  server->address_ = InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  LOG_DEBUG(Net, "listening on {}", server->address_.toString());
  return server;
}

void TcpServer::onConnection(int status) {
  if (closing_) return;
  if (status < 0) {
    ++accept_errors_;
    acceptErrorsTotal().inc();
    LOG_EVERY_SEC(Warn, Net, 1, "accept on {} failed: {}", address_.toString(),
                  uv_strerror(status));
    return;
  }
  TcpConnection* conn = TcpConnection::createUnstarted(loop_);
  int rc = uv_accept(reinterpret_cast<uv_stream_t*>(&listener_),
                     reinterpret_cast<uv_stream_t*>(conn->uvHandle()));
  if (rc != 0) {
    ++accept_errors_;
    acceptErrorsTotal().inc();
    LOG_EVERY_SEC(Warn, Net, 1, "accept on {} failed: {}", address_.toString(), uv_strerror(rc));
    conn->close();
    return;
  }
  ++accepted_;
  acceptedTotal().inc();
  on_accept_(*conn);
}

void TcpServer::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_),
           [](uv_handle_t* h) { delete static_cast<TcpServer*>(h->data); });
}

}  // namespace push::net
