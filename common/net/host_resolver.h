#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::net {

class EventLoop;

// One asynchronous name lookup: getaddrinfo() on a thread of its own, so the loop never blocks
// on a resolver, and a lookup stuck in libc (a resolver that does not answer) holds neither one
// of libuv's pool threads (file and work requests keep running) nor the loop (its shutdown()
// does not wait for it).
//
//   HostResolver::start(loop, "push.example.com", 7100, 10s,
//                       [](Result<std::vector<InetAddress>> r) {...});
//
// `done` runs exactly once on the loop thread, never inside start(): with the addresses
// (IPv4 and IPv6 in the resolver's order, `port` set, duplicates removed, never empty), or
// UNAVAILABLE (no such name, resolver failure, more than kMaxLookupsInFlight lookups still
// running in the process), TIMEOUT after `timeout`, or CANCELLED after cancel(). Ownership:
// the resolver owns itself. The pointer from start() is valid until `done` runs (for
// cancel()); the object is deleted right after. A lookup still running after a timeout or
// cancel() is left to finish on its thread; its answer is dropped (also when the loop is gone
// by then: the thread posts through EventLoop::poster()). Loop-thread only. cancel() every
// resolver still pending before the loop's shutdown(): after it, a pending resolver's `done`
// never runs (the post is dropped) and the resolver is leaked.
class HostResolver {
 public:
  using Done = std::function<void(Result<std::vector<InetAddress>>)>;
  // The lookup itself, run on the lookup's thread: the system's getaddrinfo() by default.
  using LookupFn =
      std::function<Result<std::vector<InetAddress>>(const std::string& host, uint16_t port)>;
  // Lookups running at once in the process (threads), stuck ones included; more fail at once.
  // Process-wide, not per loop or per name: a resolver that never answers can use it up, and
  // then every lookup fails UNAVAILABLE until stuck ones return (the error says so).
  static constexpr int kMaxLookupsInFlight = 64;

  static HostResolver* start(EventLoop& loop, std::string host, uint16_t port,
                             std::chrono::milliseconds timeout, Done done);
  // Gives up: `done` gets CANCELLED on a later turn (unless it already ran). Idempotent.
  void cancel();

  // Lookups running now in the process (threads started whose lookup has not yet returned;
  // the count drops before the answer is posted to the loop).
  static int lookupsInFlight();

  // Tests: replaces the lookup of the resolvers started from now on (nullptr: the system's).
  // Thread-safe.
  static void setLookupForTest(LookupFn lookup);

 private:
  struct Lookup;  // shared with the lookup's thread

  HostResolver(EventLoop& loop, std::string host, uint16_t port, Done done);
  ~HostResolver() = default;
  void begin(std::chrono::milliseconds timeout);
  // The lookup's answer, on the loop thread (only while undecided).
  void onResolved(Result<std::vector<InetAddress>> result);
  // (Re)starts the timer; onTimer() runs after `ms` (0: on the next loop turn).
  void armTimer(uint64_t ms);
  void onTimer();
  void finish(Result<std::vector<InetAddress>> result);

  EventLoop& loop_;
  std::string host_;
  uint16_t port_;
  Done done_;
  uv_timer_t timer_;
  std::shared_ptr<Lookup> lookup_;  // null when no thread was started
  Status abort_reason_;  // set when we end it ourselves (cancel, no thread); the timer reports it
  bool decided_ = false;
};

}  // namespace push::net
