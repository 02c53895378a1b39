#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/net/loop_wheel.h"

namespace push::net {
class EventLoop;
}

namespace push::room {

class ConnectionTable;
struct ClientConn;

// The one deadline of each client connection, on one timing wheel per room (no timer per
// connection): the auth deadline from accept, then 2.5 heartbeat intervals of silence, or the
// close deadline after an error or during a drain, whichever comes first.
//
// The wheel holds at most one live entry per connection, at ClientConn::wheel_ms. Traffic moves
// the deadline later without touching the wheel (the entry re-checks when it fires); a deadline
// that moves earlier (auth done with a short heartbeat, an error, a drain) needs arm().
//
// Loop-thread only; start() before the first arm(), stop() once no connection is left.
class ConnectionDeadlines {
 public:
  // Runs when `c`'s deadline has passed at loop time `now_ms`; it decides what to do (close,
  // Error frame...). It may change `c` freely.
  using ExpireFn = std::function<void(ClientConn& c, int64_t now_ms)>;

  ConnectionDeadlines(net::EventLoop& loop, ConnectionTable& table,
                      std::chrono::milliseconds auth_timeout, ExpireFn on_expire);

  void start();
  void stop();
  // Makes sure the wheel will look at `c` by its current deadline.
  void arm(ClientConn& c);
  // When `c` is due, in loop time.
  int64_t deadlineOf(const ClientConn& c) const;

 private:
  void onWheel(uint64_t conn_id);

  net::EventLoop& loop_;
  ConnectionTable& table_;
  const std::chrono::milliseconds auth_timeout_;
  ExpireFn on_expire_;
  net::LoopWheelPtr wheel_;
};

}  // namespace push::room
