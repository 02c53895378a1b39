#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/status.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"

namespace push::net {
class EventLoop;
class TcpConnection;
class TcpConnector;
}  // namespace push::net

namespace push::loadgen {

// Opens `count` TCP connections to one server at a bounded rate, binding each to the next
// source address round robin (several 127.0.0.x sources let one machine hold more connections
// than one source address has ephemeral ports, and spread them over processes).
//
// A connection is "pending" from its connect until the owner calls finished(index) (its
// handshake is over, one way or the other) or its connect fails; at most `max_pending` are
// pending at once, so a burst never overruns the server's accept backlog.
//
// reopen(index) connects an index again (a client reconnecting after its connection dropped):
// reopens go before new connections and are not held to the rate (each client's own backoff
// spaces them, as real clients' would), only to `max_pending`.
//
// Callbacks run on the loop thread, never inside start(): `on_connected(index, conn)` gets an
// unstarted connection (the owner calls conn.start()); `on_failed(index, status)` runs once per
// failed connect. After stop() neither runs again. Loop-thread only.
class ConnectionOpener {
 public:
  struct Options {
    net::InetAddress server;
    // Per-index servers (index i connects to servers[i]: e.g. each user's room as
    // push-dispatcher routed it); empty: every index connects to `server`.
    std::vector<net::InetAddress> servers;
    // Source addresses (port 0), used round robin; empty: the kernel picks.
    std::vector<net::InetAddress> sources;
    size_t count = 0;
    // New connections per second. Default: 5000.
    double rate_per_s = 5000;
    // Connections connecting or handshaking at once. Default: 512 (under the usual backlog).
    size_t max_pending = 512;
    // Deadline of one connect. Default: 10 s.
    std::chrono::milliseconds connect_timeout{10'000};
  };
  using OnConnected = std::function<void(size_t index, net::TcpConnection& conn)>;
  using OnFailed = std::function<void(size_t index, const Status& status)>;

  ConnectionOpener(net::EventLoop& loop, Options options, OnConnected on_connected,
                   OnFailed on_failed);
  ~ConnectionOpener();
  ConnectionOpener(const ConnectionOpener&) = delete;
  ConnectionOpener& operator=(const ConnectionOpener&) = delete;

  void start();
  // Connects `index` (< count) again, as soon as a pending place is free. No-op after stop().
  void reopen(size_t index);
  // The handshake of a connection from on_connected() is over: frees its pending place.
  void finished();
  // Stops opening and cancels connects in progress (their callbacks do not run). Idempotent.
  void stop();

  size_t launched() const { return launched_; }
  size_t pending() const { return pending_; }
  size_t reopened() const { return reopened_; }

 private:
  void tick();
  void armTimer();
  void launch(size_t index);

  net::EventLoop& loop_;
  Options options_;
  OnConnected on_connected_;
  OnFailed on_failed_;
  net::PeriodicTimerPtr timer_;
  std::unordered_map<size_t, net::TcpConnector*> connecting_;  // by index
  std::deque<size_t> reopen_;  // indexes to connect again, oldest first
  size_t launched_ = 0;        // new connections started (indexes 0..launched_-1)
  size_t reopened_ = 0;        // reopens started
  size_t pending_ = 0;
  double budget_ = 0;  // connections we may still start at the configured rate
  int64_t last_tick_ms_ = 0;
  bool stopped_ = false;
};

}  // namespace push::loadgen
