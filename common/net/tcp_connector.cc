#include "common/net/tcp_connector.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"

namespace push::net {

TcpConnector* TcpConnector::start(EventLoop& loop, const InetAddress& addr,
                                  std::chrono::milliseconds timeout, Done done,
                                  const InetAddress* local) {
  loop.assertInLoopThread();
  auto* connector = new TcpConnector(loop, addr, std::move(done));
  connector->begin(timeout, local);
  return connector;
}

TcpConnector::TcpConnector(EventLoop& loop, const InetAddress& addr, Done done)
    : addr_(addr), done_(std::move(done)), conn_(TcpConnection::createUnstarted(loop)) {
  req_.data = this;
  uv_timer_init(loop.uvLoop(), &timer_);
  timer_.data = this;
}

void TcpConnector::begin(std::chrono::milliseconds timeout, const InetAddress* local) {
  // The timeout counts from now, not from the loop's cached time: a connect started after a
  // long synchronous stretch (startup before the loop first runs, a slow handler) would
  // otherwise time out as the next turn begins, before its connect could complete.
  uv_update_time(timer_.loop);
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<TcpConnector*>(t->data);
        self->abort_reason_ =
            Status(Code::TIMEOUT, "connect to " + self->addr_.toString() + " timed out");
        self->conn_->close();  // the connect callback follows with UV_ECANCELED
      },
      static_cast<uint64_t>(timeout.count()), 0);
  int rc = local ? bindSource(*local) : 0;
  if (rc == 0) {
    rc = uv_tcp_connect(&req_, conn_->uvHandle(), addr_.sockaddrPtr(),
                        [](uv_connect_t* req, int status) {
                          static_cast<TcpConnector*>(req->data)->onConnect(status);
                        });
  }
  if (rc != 0) {
    // Failed before any I/O (e.g. no fds): report it on a later turn like every other outcome.
    abort_reason_ = unavailable("connect to " + addr_.toString() + ": " + uv_strerror(rc));
    conn_->close();
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) { static_cast<TcpConnector*>(t->data)->onConnect(UV_ECANCELED); }, 0, 0);
  }
}

int TcpConnector::bindSource(const InetAddress& local) {
  // bind() to port 0 makes the kernel pick a port no socket on that address holds, whatever
  // its peer: a search over the bind table that grows costly with hundreds of thousands of
  // clients (4% of a million-client ramp's CPU). IP_BIND_ADDRESS_NO_PORT leaves the port to
  // connect(), which needs only the 4-tuple to be unique. So the socket is made here, not by
  // libuv at bind time, to set it first.
  const int fd = ::socket(local.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return uv_translate_sys_error(errno);
  const int on = 1;
  // Best effort: without it (an old kernel) bind() picks the port as before.
  (void)::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  int rc = uv_tcp_open(conn_->uvHandle(), fd);
  if (rc != 0) {
    ::close(fd);
    return rc;
  }
  return uv_tcp_bind(conn_->uvHandle(), local.sockaddrPtr(), 0);
}

void TcpConnector::cancel() {
  if (decided_ || !abort_reason_.isOk()) return;
  abort_reason_ = Status(Code::CANCELLED, "connect to " + addr_.toString() + " cancelled");
  conn_->close();
}

void TcpConnector::onConnect(int status) {
  if (status == 0 && abort_reason_.isOk()) {
    finish(conn_);
    return;
  }
  if (!abort_reason_.isOk()) {
    finish(abort_reason_);
  } else {
    conn_->close();
    finish(unavailable("connect to " + addr_.toString() + ": " + uv_strerror(status)));
  }
}

void TcpConnector::finish(Result<TcpConnection*> result) {
  decided_ = true;
  uv_timer_stop(&timer_);
  Done done = std::move(done_);
  done(std::move(result));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<TcpConnector*>(h->data); });
}

}  // namespace push::net
