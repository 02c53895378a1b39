#include "common/net/tcp_server.h"

#include <fcntl.h>
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
  static auto& c =
      metrics::Registry::global().counter("push_net_accepted_total", "TCP connections accepted.");
  return c;
}
metrics::Counter& acceptErrorsTotal() {
  static auto& c = metrics::Registry::global().counter(
      "push_net_accept_errors_total",
      "accept() failures (EMFILE/ENFILE: out of file descriptors, and others).");
  return c;
}

// A bound socket with SO_REUSEADDR (and SO_REUSEPORT when asked). libuv 1.44 has no
// UV_TCP_REUSEPORT flag, so the socket is made by hand.
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

TcpServer::TcpServer(EventLoop& loop, int fd, AcceptCallback on_accept)
    : loop_(loop),
      fd_(fd),
      spare_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      on_accept_(std::move(on_accept)) {}

TcpServer::~TcpServer() {
  ::close(fd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void TcpServerCloser::operator()(TcpServer* server) const {
  server->close();
}

Result<TcpServerPtr> TcpServer::listen(EventLoop& loop, const Options& options,
                                       AcceptCallback on_accept) {
  loop.assertInLoopThread();
  ASSIGN_OR_RETURN(InetAddress addr, InetAddress::parse(options.address));
  ASSIGN_OR_RETURN(int fd, boundSocket(addr, options.reuse_port));
  if (::listen(fd, options.backlog) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("listen " + addr.toString() + ": " + std::strerror(err));
  }
  auto* raw = new TcpServer(loop, fd, std::move(on_accept));  // owns fd from here
  int rc = uv_poll_init_socket(loop.uvLoop(), &raw->poll_, fd);
  if (rc != 0) {
    delete raw;  // the handle was not initialised: nothing to close
    return unavailable("listen " + addr.toString() + ": " + uv_strerror(rc));
  }
  raw->poll_.data = raw;
  TcpServerPtr server(raw);  // from here on, closed (not deleted) on every path
  rc = uv_poll_start(&server->poll_, UV_READABLE, [](uv_poll_t* p, int status, int) {
    // Errors on a listening socket surface again in accept(); handle them there.
    static_cast<TcpServer*>(p->data)->onReadable();
  });
  if (rc != 0) return unavailable("listen " + addr.toString() + ": " + uv_strerror(rc));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  server->address_ = InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  LOG_DEBUG(Net, "listening on {}", server->address_.toString());
  return server;
}

void TcpServer::onReadable() {
  // Bounded, so a flood of connections cannot starve the rest of the loop; the socket stays
  // readable and the next turn continues.
  constexpr int kMaxAcceptsPerWakeup = 64;
  for (int i = 0; i < kMaxAcceptsPerWakeup && !closing_; ++i) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      ++accept_errors_;
      acceptErrorsTotal().inc();
      LOG_EVERY_SEC(Warn, Net, 1, "accept on {} failed: {}", address_.toString(),
                    std::strerror(err));
      if ((err == EMFILE || err == ENFILE) && shedOnePending()) continue;
      // FIXME(net): without a spare descriptor the listener stays readable and this runs
      // again every turn until descriptors are freed (libuv would spin inside its callback).
      return;
    }
    TcpConnection* conn = TcpConnection::createUnstarted(loop_);
    int rc = uv_tcp_open(conn->uvHandle(), fd);
    if (rc != 0) {
      ::close(fd);  // not adopted by the handle
      conn->close();
      ++accept_errors_;
      acceptErrorsTotal().inc();
      LOG_EVERY_SEC(Warn, Net, 1, "accept on {} failed: {}", address_.toString(), uv_strerror(rc));
      continue;
    }
    ++accepted_;
    acceptedTotal().inc();
    on_accept_(*conn);
  }
}

bool TcpServer::shedOnePending() {
  if (spare_fd_ < 0) return false;
  ::close(spare_fd_);
  int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) ::close(fd);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

void TcpServer::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_),
           [](uv_handle_t* h) { delete static_cast<TcpServer*>(h->data); });
}

}  // namespace push::net
