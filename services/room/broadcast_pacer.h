#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/owning_ptrs.h"

namespace push::net {
class EventLoop;
}

namespace push::room {

class ClientProtocol;
struct ClientConn;
class ConnectionTable;
class TagIndex;

// Writes broadcasts (one encoded Push frame for every Active connection of an app, or for
// those subscribed to one of its tags) at a bounded rate, a slice per loop turn, so that a
// broadcast to every connection never starves heartbeats, acks and unicast.
//
// Passes: broadcasts wait in a FIFO; a pass takes up to Options::max_batch of them (and at most
// Options::max_pass_bytes of frames) and walks
// the connection table once, writing to each connection every broadcast of the pass meant for
// it. When every broadcast of the pass has the same target (the usual case: one app, no tag),
// one check per connection decides, and a plain TCP connection gets the pass's frames as one
// block encoded once per pass (one copy, not one per frame). The connection's output coalesces them
// into one write at the end of the loop turn, which is what makes fan-out cheap (one syscall per
// connection for many messages, not one per message: ../shared/ANCHORS.md "Broadcast fan-out"). A
// connection that takes its slot during a pass gets the broadcast when the walk has not passed its
// slot yet; one that closes first does not. A connection over its output hard limit is closed by
// its TcpConnection (SlowPeer) and skipped for the rest of the pass; the others do not wait for it.
//
// Pacing: a token bucket of Options::rate_per_s deliveries (burst: 10 ms worth); besides, one
// slice does at most Options::slice units of work (a write to a connection weighs as much as
// 64 visits), then the loop polls I/O and runs its timers before the next slice (posted to the
// next turn), so one slice stays around a millisecond.
//
// Completion: when its pass has visited every slot, `on_done(token, written)` runs for each
// broadcast of the pass (written: connections it was written to), in FIFO order. clear() drops
// every broadcast without running on_done.
//
// Loop-thread only; the references outlive it. Owns one timer (closed by the destructor).
class BroadcastPacer {
 public:
  struct Options {
    // Deliveries per second at most. Default: 4,000,000.
    uint32_t rate_per_s = 4'000'000;
    // Broadcasts written in one pass over the connections. Default: 128.
    size_t max_batch = 128;
    // Frame bytes of one pass (at least one broadcast): what one pass adds to a connection's
    // output at most, far under its hard limit, so a client that reads is never closed for
    // a burst; one that does not read fills up pass after pass. Default: 64 KiB.
    size_t max_pass_bytes = 64 * 1024;
    // Work per slice: a connection visited is 1, a delivery 1, and a connection written to
    // at least 64 (its write() at the end of the turn). Default: 16384 (256 writes of one
    // broadcast each, ~1-2 ms of CPU, then the loop runs its timers and I/O).
    size_t slice = 16'384;
  };
  using OnDone = std::function<void(uint64_t token, uint32_t written)>;

  BroadcastPacer(net::EventLoop& loop, ConnectionTable& table, const TagIndex& tags,
                 ClientProtocol& protocol, Options options, OnDone on_done);
  ~BroadcastPacer();
  BroadcastPacer(const BroadcastPacer&) = delete;
  BroadcastPacer& operator=(const BroadcastPacer&) = delete;

  // Queues `frame` (a serialized client::Frame) for the Active connections of `app` (AppTable
  // index), only those subscribed to `tag` when it is not empty. `token` comes back in on_done.
  void enqueue(uint64_t token, uint16_t app, std::string tag, std::string frame);
  // Drops every queued broadcast and the current pass (no on_done).
  void clear();

  // Broadcasts queued or in the current pass.
  size_t pending() const { return waiting_.size() + pass_.size(); }
  uint64_t deliveries() const { return deliveries_; }
  uint64_t passes() const { return passes_; }
  uint64_t slices() const { return slices_; }

 private:
  struct Item {
    uint64_t token = 0;
    uint16_t app = 0;
    std::string tag;
    std::string frame;
    uint32_t written = 0;
  };

  void schedule();
  void runSlice();
  void refill();
  bool wants(const Item& item, const ClientConn& c) const;
  void finishPass();

  net::EventLoop& loop_;
  ConnectionTable& table_;
  const TagIndex& tags_;
  ClientProtocol& protocol_;
  const Options options_;
  OnDone on_done_;

  std::deque<Item> waiting_;
  std::vector<Item> pass_;
  std::string pass_wire_;  // every frame of the pass, length-prefixed, back to back
  bool uniform_ = false;   // every broadcast of the pass has the same (app, tag)
  size_t cursor_ = 0;      // next slot of the pass's walk
  double tokens_ = 0;
  int64_t refilled_us_ = 0;
  net::PeriodicTimerPtr timer_;  // next slice, when it must wait for tokens
  // Expires with the pacer: a slice posted to the next turn then does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool scheduled_ = false;
  uint64_t deliveries_ = 0;
  uint64_t passes_ = 0;
  uint64_t slices_ = 0;
};

}  // namespace push::room
