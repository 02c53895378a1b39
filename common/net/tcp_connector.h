#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::net {

class EventLoop;
class TcpConnection;

// One outgoing connection attempt with a deadline.
//
//   TcpConnector* c = TcpConnector::start(loop, addr, 1s, [](Result<TcpConnection*> r) {...});
//
// `done` runs exactly once on the loop thread: with an unstarted TcpConnection (call
// conn->start(handler, limits)) or with UNAVAILABLE (refused, unreachable), TIMEOUT, or
// CANCELLED after cancel(). It never runs inside start(). The connector deletes itself after
// `done` returns; the pointer from start() is valid until `done` runs (for cancel()).
// Loop-thread only.
class TcpConnector {
 public:
  using Done = std::function<void(Result<TcpConnection*>)>;
  // `local`, when given, is the source address to bind first (its port is left to connect(),
  // IP_BIND_ADDRESS_NO_PORT: a port is then shared by connections to different peers); load
  // generators spread connections over 127.0.0.x this way.
  static TcpConnector* start(EventLoop& loop, const InetAddress& addr,
                             std::chrono::milliseconds timeout, Done done,
                             const InetAddress* local = nullptr);
  // Gives up: `done` gets CANCELLED (unless the outcome is already decided). Idempotent.
  void cancel();

 private:
  TcpConnector(EventLoop& loop, const InetAddress& addr, Done done);
  ~TcpConnector() = default;
  void begin(std::chrono::milliseconds timeout, const InetAddress* local);
  int bindSource(const InetAddress& local);  // 0 or a libuv error
  void onConnect(int status);
  void finish(Result<TcpConnection*> result);

  InetAddress addr_;
  Done done_;
  TcpConnection* conn_;
  uv_connect_t req_;
  uv_timer_t timer_;
  Status abort_reason_;  // set when we abort the attempt ourselves (timeout, cancel)
  bool decided_ = false;
};

}  // namespace push::net
