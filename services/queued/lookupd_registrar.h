#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/net/owning_ptrs.h"

namespace push::net {
class EventLoop;
}

namespace push::queued {

// Keeps queued registered with every nsqlookupd it is told about, byte for byte the way nsqd
// v1.3.0 does (checked against a wire capture of the real nsqd), so that consumers find it
// with lookupd's `/lookup?topic=`.
//
// Per lookupd, over its TCP protocol:
//   connect -> "  V1" + "IDENTIFY\n" [u32 BE size]{"broadcast_address":..,"hostname":..,
//              "http_port":..,"tcp_port":..,"version":..}   (one write, nsqd's key order)
//   IDENTIFY answered -> the resync: the Snapshot, as "REGISTER t\n" for a topic without
//              channels and "REGISTER t c\n" per channel; from then on registered() /
//              unregistered() go out as REGISTER / UNREGISTER, and "PING\n" every ping_interval.
// lookupd answers every command with [u32 BE size][data], no frame type: the IDENTIFY JSON,
// "OK", or a text starting with "E_" (logged; lookupd closes after the fatal ones).
//
// A connection that fails, closes, stops answering (a reply outstanding for a whole
// ping_interval) or falls too far behind (more than max_pending_bytes held back while the
// socket is full) is dropped and made again after a backoff: reconnect_min, doubling up to
// reconnect_max, back to reconnect_min once a connection has stayed up for kHealthyAfter. Each
// change between reachable and unreachable is logged once (component Queue), not every retry.
//
// Ownership: owns its connections, connectors, name lookups and timers; the destructor closes
// them all (no UNREGISTER is sent, like nsqd on SIGTERM: lookupd drops a closed producer).
// `loop` must outlive it. Loop-thread only.
class LookupdRegistrar {
 public:
  struct Identity {
    std::string broadcast_address, hostname;
    int tcp_port = 0, http_port = 0;
    std::string version = "1.3.0";
  };
  // What to (re)register on every (re)connect: (topic, "") for a topic without channels,
  // (topic, channel) for each channel (nsqd's resync). Called on the loop thread when a
  // lookupd has answered IDENTIFY, never inside this class's public methods.
  using Snapshot = std::function<std::vector<std::pair<std::string, std::string>>()>;

  struct Options {
    // PING to every registered lookupd this often. nsqd: 15 s.
    std::chrono::milliseconds ping_interval{15'000};
    // First retry after a failure; doubles per failure up to reconnect_max.
    std::chrono::milliseconds reconnect_min{1'000};
    std::chrono::milliseconds reconnect_max{30'000};
    // One connect attempt. nsqd dials lookupd with a 1 s timeout.
    std::chrono::milliseconds connect_timeout{1'000};
    // One name lookup (addresses given by name).
    std::chrono::milliseconds resolve_timeout{5'000};
    // Commands held back per connection while its socket is full (above 256 KiB queued).
    // More drops the connection (it is made again and resynced). Default 4 MiB.
    size_t max_pending_bytes = 4u << 20;
  };

  // A connection that stayed up this long resets the backoff when it is lost.
  static constexpr std::chrono::milliseconds kHealthyAfter{10'000};

  LookupdRegistrar(net::EventLoop& loop, Identity identity, Snapshot snapshot);
  LookupdRegistrar(net::EventLoop& loop, Identity identity, Snapshot snapshot, Options options);
  ~LookupdRegistrar();  // closes every connection
  LookupdRegistrar(const LookupdRegistrar&) = delete;
  LookupdRegistrar& operator=(const LookupdRegistrar&) = delete;

  // Sets the lookupd TCP addresses, "host:port" or "[v6]:port" (PUT
  // /config/nsqlookupd_tcp_addresses): connects to new ones at once, closes removed ones,
  // leaves the others alone. Duplicates count once. A name is resolved (net::HostResolver) at
  // every attempt. An address that does not parse is kept in addresses() but never connected
  // to (logged as an error). Order is kept.
  void setAddresses(const std::vector<std::string>& addresses);
  std::vector<std::string> addresses() const;

  // Sent to every lookupd that has answered IDENTIFY, now. A connection still being made is
  // covered by its resync (the Snapshot is read when IDENTIFY is answered, so the caller must
  // have updated what the Snapshot returns first). `channel` "" means the topic itself.
  void registered(const std::string& topic, const std::string& channel);
  void unregistered(const std::string& topic, const std::string& channel);

  // Lookupds whose IDENTIFY was answered and whose connection is still up.
  size_t connectedCount() const;

 private:
  struct Peer;
  class ConnHandler;

  void sendToAll(const std::string& line);
  void onPingTimer();

  net::EventLoop& loop_;
  Identity identity_;
  Snapshot snapshot_;
  Options options_;
  std::string hello_;  // "  V1IDENTIFY\n" + size + body, built once
  std::vector<std::unique_ptr<Peer>> peers_;
  net::PeriodicTimerPtr ping_timer_;
};

}  // namespace push::queued
