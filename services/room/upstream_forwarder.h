#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/net/conn_id.h"
#include "common/net/periodic_timer.h"
#include "proto/client.pb.h"

namespace push::net {
class EventLoop;
}
namespace push::coord {
class Coordinator_Stub;
}

namespace push::room {

struct ClientConn;

// Upstream.type (proto/client.proto): empty (the app's default webhook) or at most
// kMaxUpstreamTypeBytes of [A-Za-z0-9._-]; the room answers anything else ERROR_BAD_FRAME.
inline constexpr size_t kMaxUpstreamTypeBytes = 64;
bool validUpstreamType(std::string_view type);

// Forwards the room's client Upstream frames to the coordinator (Coordinator.Upstream, batched)
// and hands each item's result back as an UpstreamAck{seq, code, message, reply}; and sends the
// room's session events (a session of an app opened or closed) to Coordinator.Events, batched.
// (proto/coordinator.proto; services/coordinator/README.md; issue 17.)
//
// Upstream: frames wait at most `batch_interval` (or until `batch_max` are queued) and go out
// as one call; calls are not limited in number, the frames are: at most
// `max_pending_per_connection` per connection and `max_pending` in the room wait for their
// answer, and one more is refused at once (submit() fails, the caller answers
// ERROR_UNAVAILABLE). A call that fails (coordinator down, deadline) answers each of its items
// ERROR_UNAVAILABLE "coordinator unavailable: ..." — nothing is retried here: the client
// decides (the app's webhook may have seen the item).
//
// Events never hold the client path: they queue (at most `event_backlog_max`; over it the
// oldest are dropped and counted), one Events call at a time; a failed call puts its events
// back and pauses with a backoff (retry_min doubling to retry_max).
//
// Answers go to `reply(conn, frame)`, which finds the connection by id (it may be gone: then
// the answer is dropped). Ownership: RoomServer owns it and the channel behind `stub`; either
// may go first (calls completing after this object is gone find it gone). Loop-thread only.
class UpstreamForwarder {
 public:
  struct Options {
    std::chrono::milliseconds timeout{15'000};  // one Upstream or Events call
    uint32_t batch_max = 100;
    std::chrono::milliseconds batch_interval{5};
    uint32_t max_pending_per_connection = 64;
    uint32_t max_pending = 100'000;
    uint32_t event_backlog_max = 100'000;
    uint32_t event_batch_max = 1'000;
    std::chrono::milliseconds retry_min{100};
    std::chrono::milliseconds retry_max{5'000};
  };
  struct Stats {
    uint64_t submitted = 0;       // frames accepted by submit()
    uint64_t refused = 0;         // submit() over a pending cap
    uint64_t answered = 0;        // results the coordinator gave (any code)
    uint64_t failed = 0;          // frames whose call failed (answered UNAVAILABLE here)
    uint64_t calls = 0;           // Upstream calls made
    uint64_t pending = 0;         // frames waiting for their answer now
    uint64_t events_sent = 0;     // events the coordinator took
    uint64_t events_dropped = 0;  // over event_backlog_max
    uint64_t events_backlog = 0;  // events waiting now
  };
  // Sends `frame` (an UpstreamAck) to connection `conn` if it still exists.
  using Reply = std::function<void(net::ConnId conn, const client::Frame& frame)>;

  UpstreamForwarder(net::EventLoop& loop, coord::Coordinator_Stub& stub, std::string room_id,
                    Options options, Reply reply);
  ~UpstreamForwarder();
  UpstreamForwarder(const UpstreamForwarder&) = delete;
  UpstreamForwarder& operator=(const UpstreamForwarder&) = delete;

  // Queues the Upstream frame `up` of connection `conn` (authenticated as user/device, for
  // `app`). UNAVAILABLE with the reason when a pending cap is full (nothing queued, no answer
  // will come: the caller answers at once). Otherwise the answer comes later through `reply`,
  // never inside this call.
  Status submit(net::ConnId conn, const ClientConn& c, const std::string& app,
                const client::Upstream& up);
  // A session of `app` opened (online) or closed on connection `c` (Sessions::open/close).
  // Queued; never blocks, never fails (over the backlog the oldest event is dropped).
  void sessionEvent(const ClientConn& c, net::ConnId conn, const std::string& app, bool online);

  // The room's stop: sends every session event still queued now (in as many Events calls as
  // it takes, at once: no batching delay, no backoff, no retry; each call bounded by what is
  // left of `deadline`), so the offline events of the connections the stop closed reach the
  // coordinator. `done` runs once (posted, never inside this call) when no Events call is in
  // flight any more, or at `deadline` at the latest. Events of a call that fails then are lost
  // (counted as dropped). Once.
  void flushEvents(std::chrono::milliseconds deadline, std::function<void()> done);

  Stats stats() const;

 private:
  struct Item {
    net::ConnId conn;
    uint64_t seq;
    std::string app, user, device, type, payload;
  };
  struct Call;
  struct EventsCall;

  void schedule();
  void sendBatch();
  void onDone(Call& call);
  void answer(const Item& item, client::ErrorCode code, const std::string& message,
              const std::string& reply);
  void sendEvents();
  void sendEventsBatch(std::chrono::milliseconds timeout);
  void onEventsDone(EventsCall& call);
  void maybeFlushed();

  net::EventLoop& loop_;
  coord::Coordinator_Stub& stub_;
  const std::string room_id_;
  const Options options_;
  Reply reply_;
  std::deque<Item> queue_;
  // Frames of each connection waiting for their answer; an entry goes when its count reaches 0
  // (every submitted frame is answered, so a closed connection's entry goes too).
  std::unordered_map<net::ConnId, uint32_t> pending_per_conn_;
  uint64_t pending_ = 0;  // queued + in calls
  net::PeriodicTimerPtr timer_;
  // Events: queued as coordinator messages (serialized form not needed: small).
  struct Event {
    std::string app, user, device;
    net::ConnId conn;
    bool online;
    int64_t time_ms;
  };
  std::deque<Event> events_;
  size_t events_calls_ = 0;  // Events calls in flight: at most one, but for flushEvents()
  bool events_backing_off_ = false;
  std::chrono::milliseconds events_backoff_{0};
  net::PeriodicTimerPtr events_timer_;
  // flushEvents(): set while flushing; `flushed_` runs once (then cleared).
  bool flushing_ = false;
  bool flush_expired_ = false;  // the deadline passed: done without waiting for calls
  std::chrono::steady_clock::time_point flush_deadline_;
  std::function<void()> flushed_;
  net::PeriodicTimerPtr flush_timer_;  // the deadline
  std::shared_ptr<bool> alive_;        // false once destroyed: late call completions do nothing
  Stats stats_;
};

}  // namespace push::room
