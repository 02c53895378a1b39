#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/net/conn_id.h"
#include "common/net/periodic_timer.h"

namespace push::net {
class EventLoop;
}
namespace push::saver {
class Saver_Stub;
}

namespace push::room {

class AppTable;
class ClientProtocol;
class ConnectionTable;
struct ClientConn;

// At auth (and at a Bind), what the client missed while it was away (issue 16;
// sdk/PROTOCOL.md "Stored messages and replay"): the user's stored, unacked messages of the
// app (Saver.Load, paged while `more`, at most `max_messages`, oldest first), then, when the
// client reported a last broadcast sequence, the app's untagged broadcasts after it
// (Saver.LoadBroadcasts, by sequence; tags are subscribed only after auth, so a tagged one
// cannot be known to be meant for this connection). Replayed QoS 1 messages enter the
// connection's PendingAcks, so their acks are accepted and forwarded. Expired messages are not
// sent (saver filters them; checked again here against the wall clock).
//
// Order: while a connection's replay is in flight, live unicast pushes to it (Delivery) are
// held here, per connection, and written after the replay, skipping ids it already sent. A
// replay that outlives `timeout`, or whose held pushes reach `hold_max`, is abandoned: what is
// held is written at once and later answers are ignored (nothing is lost: the stored messages
// come again on the next load). A load that fails abandons the replay the same way; the
// connection keeps working. Live broadcasts are not held (the pacer writes them as they come;
// a replayed broadcast may follow a live one: the SDK's dedup window and its sequence keeping
// the highest make that harmless).
//
// The state exists only while a replay is in flight (idle connections own nothing here); it is
// dropped when the connection closes (connectionClosed). Owned by RoomServer, like the channel
// behind `saver`; either may go first. Loop-thread only; the references outlive it.
class OfflineReplay {
  struct AppLoad;

 public:
  struct Options {
    uint32_t max_messages = 1'000;
    uint32_t page = 100;
    std::chrono::milliseconds timeout{2'000};       // of the whole replay
    std::chrono::milliseconds call_timeout{2'000};  // of one saver call
    uint32_t hold_max = 256;
    size_t max_unacked = 256;  // the connection's PendingAcks capacity
    // Load only once register has the session (registered()): the room announces sessions.
    bool after_register = false;
  };
  struct Stats {
    uint64_t started = 0;
    uint64_t completed = 0;  // every load answered, in time
    uint64_t abandoned = 0;  // timed out, hold overflow or a load failed
    uint64_t messages = 0;   // stored messages written
    uint64_t broadcasts = 0;
    uint64_t expired = 0;  // loaded but expired by the room's clock: not written
    uint64_t load_failures = 0;
    uint64_t held = 0;                 // live pushes held, then written
    uint64_t waited_for_register = 0;  // loads started by registered()
    uint64_t active = 0;
  };

  OfflineReplay(net::EventLoop& loop, saver::Saver_Stub& saver, const AppTable& apps,
                ConnectionTable& table, ClientProtocol& protocol, Options options);
  ~OfflineReplay();
  OfflineReplay(const OfflineReplay&) = delete;
  OfflineReplay& operator=(const OfflineReplay&) = delete;

  // After a successful Auth or Bind of `app` on `c` (its AuthResult/BindResult written).
  // `session_opened`: the Auth or Bind opened a session (announced to register; false for a
  // Bind of an app the connection had already): with Options::after_register the loads then
  // wait for registered().
  void start(ClientConn& c, uint16_t app, uint64_t last_broadcast_seq, bool session_opened = true);
  // With Options::after_register, the loads of a replay wait for this: register has answered
  // the Online batch of the session of connection `id` for `app` (Sessions::setOnRegistered).
  // Why: center stores a push, then looks its user up. A push stored after a load at auth but
  // looked up before register knew the new session reaches only the user's old sessions (on a
  // room just killed: "error") and would wait for the user's next reconnect. Loaded once
  // register has the session, every stored push is either in the load or finds the session.
  // Live pushes are held meanwhile, as during the load. A batch that failed starts the loads
  // too (best effort), and so does the replay's timeout when register has not answered by then
  // (the loads then get a timeout of their own). Acts on a later loop turn (the announcement
  // may be answered within start()'s caller, before the replay exists).
  void registered(net::ConnId id, uint16_t app);
  // Delivery: a live push for `c` (`frame` is the serialized Frame). True when `c` has a
  // replay in flight: the push is held and written after it (counted as written by the
  // caller). False: write it now.
  bool holdIfReplaying(ClientConn& c, uint64_t message_id, uint16_t app, uint32_t qos,
                       std::string_view frame);
  void connectionClosed(net::ConnId id);
  // Drops every replay (the room stops): nothing held is written.
  void clear();

  Stats stats() const;

 private:
  struct Held {
    uint64_t id;
    uint16_t app;
    uint32_t qos;
    std::string frame;
  };
  struct Replay {
    uint64_t serial = 0;
    int64_t started_ms = 0;
    uint32_t loads = 0;  // apps whose loads are in flight
    std::deque<Held> held;
    std::unordered_set<uint64_t> sent;  // ids the replay wrote
    net::PeriodicTimerPtr deadline;
    std::vector<std::unique_ptr<AppLoad>> parked;  // waiting for registered()
  };

  // Starts the parked loads of `r` for `app` (every app when `all`).
  void startParked(Replay& r, uint16_t app, bool all);
  void loadStored(std::unique_ptr<AppLoad> load);
  void loadBroadcasts(std::unique_ptr<AppLoad> load);
  // `load` is done (every page answered, or a failure when !ok).
  void appDone(const AppLoad& load, bool ok);
  // The replay of `id` (matching `serial`) and its live connection, or null when either is
  // gone or abandoned.
  Replay* find(net::ConnId id, uint64_t serial, ClientConn** conn);
  // Writes what `id` holds and forgets the replay.
  void finish(net::ConnId id, bool completed);
  void writePush(ClientConn& c, std::string_view frame, uint64_t id, uint16_t app, uint32_t qos);

  net::EventLoop& loop_;
  saver::Saver_Stub& saver_;
  const AppTable& apps_;
  ConnectionTable& table_;
  ClientProtocol& protocol_;
  const Options options_;
  std::unordered_map<net::ConnId, Replay> replays_;
  std::shared_ptr<bool> alive_;  // false once destroyed: late answers do nothing
  uint64_t next_serial_ = 1;
  Stats stats_;
};

}  // namespace push::room
