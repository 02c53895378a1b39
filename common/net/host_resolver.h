#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::net {

class EventLoop;

// One asynchronous name lookup: getaddrinfo() on libuv's thread pool, so the loop never
// blocks on a resolver.
//
//   HostResolver::start(loop, "push.example.com", 7100, 10s,
//                       [](Result<std::vector<InetAddress>> r) {...});
//
// `done` runs exactly once on the loop thread, never inside start(): with the addresses
// (IPv4 and IPv6 in the resolver's order, `port` set, duplicates removed, never empty), or
// UNAVAILABLE (no such name, resolver failure), TIMEOUT after `timeout`, or CANCELLED after
// cancel(). Ownership: the resolver owns itself. The pointer from start() is valid until
// `done` runs (for cancel()); the object is deleted once `done` has run and the thread-pool
// request has come back (a lookup still running in libc after a timeout or cancel() is left
// to finish, its answer dropped). Loop-thread only.
class HostResolver {
 public:
  using Done = std::function<void(Result<std::vector<InetAddress>>)>;
  static HostResolver* start(EventLoop& loop, std::string host, uint16_t port,
                             std::chrono::milliseconds timeout, Done done);
  // Gives up: `done` gets CANCELLED on a later turn (unless it already ran). Idempotent.
  void cancel();

 private:
  HostResolver(EventLoop& loop, std::string host, uint16_t port, Done done);
  ~HostResolver() = default;
  void begin(std::chrono::milliseconds timeout);
  void onResolved(int status, addrinfo* res);
  // (Re)starts the timer; onTimer() runs after `ms` (0: on the next loop turn).
  void armTimer(uint64_t ms);
  void onTimer();
  void finish(Result<std::vector<InetAddress>> result);
  void maybeDelete();

  uv_loop_t* loop_;
  std::string host_;
  uint16_t port_;
  Done done_;
  uv_getaddrinfo_t req_;
  uv_timer_t timer_;
  Status abort_reason_;  // set when we end it ourselves (cancel); the timer reports it
  bool decided_ = false;
  bool request_done_ = false;
  bool timer_closed_ = false;
};

}  // namespace push::net
