#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"

namespace push::net {

class EventLoop;
class TcpConnection;

// A listening socket. Accepted connections are handed to the AcceptCallback unstarted: the
// callback must call conn.start(handler, limits) (or conn.close()).
//
// Running out of file descriptors at accept is expected on a gateway: the server then gives up
// a reserved descriptor to accept and close the pending connection (so the client sees its
// connection end, not a hang; muduo's Acceptor trick), counts it (acceptErrors() and
// push_net_accept_errors_total), logs at most once a second, and keeps listening; later
// connections are accepted as soon as descriptors are free again. (The accept loop is ours,
// not uv_listen's: libuv does the same trick silently, so the failure could not be counted.)
//
// Ownership: listen() returns a TcpServerPtr; destroying it (or reset()) closes the server:
// it stops listening at once and deletes itself in the close callback (connections already
// accepted are not touched). Do not call close() on a server held by a TcpServerPtr.
// Loop-thread only.
class TcpServer {
 public:
  struct Options {
    // "host:port"; port 0 picks a free port, read it back with address().
    std::string address = "127.0.0.1:0";
    // SO_REUSEPORT: several processes accept on one port (room workers).
    bool reuse_port = false;
    int backlog = 1024;
  };
  using AcceptCallback = std::function<void(TcpConnection& conn)>;

  static Result<TcpServerPtr> listen(EventLoop& loop, const Options& options,
                                     AcceptCallback on_accept);

  // The bound address (with the real port when 0 was asked for).
  const InetAddress& address() const { return address_; }
  uint64_t acceptErrors() const { return accept_errors_; }
  uint64_t accepted() const { return accepted_; }

  // Stops listening; connections already accepted are not touched. Idempotent. TcpServerPtr
  // calls it; the object is deleted on a later loop turn.
  void close();

 private:
  TcpServer(EventLoop& loop, int fd, AcceptCallback on_accept);
  ~TcpServer();
  void onReadable();
  bool shedOnePending();

  EventLoop& loop_;
  uv_poll_t poll_;     // readability of fd_
  int fd_;             // the listening socket; closed after poll_ is
  int spare_fd_ = -1;  // reserved descriptor, given up for a moment at EMFILE
  AcceptCallback on_accept_;
  InetAddress address_;
  uint64_t accept_errors_ = 0;
  uint64_t accepted_ = 0;
  bool closing_ = false;
};

}  // namespace push::net
