#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/base/liveness.h"
#include "common/net/owning_ptrs.h"
#include "proto/register.pb.h"
#include "services/register/session_table.h"
#include "services/register/slot_map.h"

namespace push::net {
class EventLoop;
}  // namespace push::net
namespace push {
class JsonWriter;
}

namespace push::reg {

// The Register RPC service: the session table of this instance's slots, room liveness, and
// the rebuild of the table from the rooms after a restart.
//
// Rebuild: a room heartbeats every few seconds. A room id this instance has not synced yet
// (a fresh room, or every room after this register restarted) is asked for its sessions with
// Room.ListSessions (this instance's slots, paginated). Offline events that arrive during the
// pull are remembered so a page cannot resurrect a session that already left. A resync asked
// for during a pull makes it start over when it ends. A pull is also a reconcile: sessions of the
// room that neither its pages nor an Online during it confirmed are dropped when it ends (an
// Offline this instance never heard, e.g. sent to the slot's previous owner while rooms and
// registers disagreed about it). Liveness: a room silent for room_timeout loses its sessions; a new
// room id at the address of an older one (the room restarted) drops the older one's sessions at
// once.
//
// Served by RegisterServer (register_server.h), which also builds the options from config
// (RegisterOptions::fromConfig). Loop-thread only. Call close() before destroying (it stops
// the timer and the pulls); the RPC server that dispatches to it must be gone first.
class RegisterService final : public Register {
 public:
  struct Options {
    // Slots this instance owns; sessions of other slots are refused (wrong_slot). Default: all.
    SlotSet slots = SlotSet::all();
    // A room silent (no RoomHeartbeat) this long loses its sessions. Default: 10 s.
    std::chrono::milliseconds room_timeout{10000};
    // Sessions kept per (app, user); the oldest goes beyond. Default: 64.
    uint32_t max_sessions_per_user = 64;
    // Sessions asked for per ListSessions page. Default: 2000 (the room caps at 10000).
    uint32_t pull_page = 2000;
    // Presented on the ListSessions pulls from rooms (the cluster key; empty: none).
    std::string cluster_key;
    // Pulls running at once; more wait their turn, first come first served. Rooms that come
    // back together (a register restart, a slot move, a burst of failed batches) would
    // otherwise be pulled all at once, each page competing with the heartbeats and batches
    // whose timeouts then cause more pulls. Default: 4.
    uint32_t max_concurrent_pulls = 4;
  };

  RegisterService(net::EventLoop& loop, Options options);
  ~RegisterService() override;
  void close();

  void Online(google::protobuf::RpcController* controller, const OnlineRequest* request,
              OnlineResponse* response, google::protobuf::Closure* done) override;
  void Offline(google::protobuf::RpcController* controller, const OfflineRequest* request,
               OfflineResponse* response, google::protobuf::Closure* done) override;
  void Lookup(google::protobuf::RpcController* controller, const LookupRequest* request,
              LookupResponse* response, google::protobuf::Closure* done) override;
  void RoomHeartbeat(google::protobuf::RpcController* controller,
                     const RoomHeartbeatRequest* request, RoomHeartbeatResponse* response,
                     google::protobuf::Closure* done) override;

  // The ids of the rooms registered in ZooKeeper now (services/room). A room seen there before
  // and gone now (its process died: the ephemeral node went with its session) loses its
  // sessions at once instead of after room_timeout. Rooms never seen in ZooKeeper are left to
  // their heartbeats. A room that is alive after all comes back with its next heartbeat (and
  // its sessions with the pull that follows).
  void roomsInDiscovery(const std::vector<std::string>& room_ids);

  // Changes the slots this instance owns (the register instances in ZooKeeper changed and the
  // slots moved, slot_assignment.h). Sessions of slots given up are dropped at once (their new
  // owner answers for them now); for slots taken over, every known room is pulled again
  // (Room.ListSessions with the new slots; a pull already running starts over when it ends),
  // and rooms not known yet are pulled on their first heartbeat as always. Until the pulls end,
  // a lookup of a user in a slot just taken over may miss sessions: center then treats the user
  // as offline (QoS 1 goes to saver), as it does for a room not yet synced after a restart.
  void setSlots(const SlotSet& slots);
  const SlotSet& slots() const { return options_.slots; }

  const SessionTable& table() const { return table_; }
  size_t roomCount() const { return rooms_.size(); }
  // {"sessions":N,"users":N,"slots":"0-1023","pulls_running":N,"pulls_waiting":N,
  // "rooms":[{"id":..,"address":..,"sessions":N,"synced":b}]}. Room ids and addresses come from RPC
  // callers: escaped by JsonWriter (invalid UTF-8 becomes U+FFFD), so the document is valid JSON
  // whatever they hold.
  std::string statusJson() const;
  // The members of statusJson() into an object `w` has open (for a document of the caller's).
  void writeStatus(JsonWriter& w) const;

 private:
  struct RoomState {
    std::string address;
    int64_t last_seen_ms = 0;
    bool synced = false;
    bool syncing = false;
    bool resync_pending = false;  // a resync asked for while a pull was running
    bool pull_waiting = false;    // in pull_queue_ (over max_concurrent_pulls)
    uint64_t pull_id = 0;         // the current pull (Pull::id); older pulls' answers are ignored
    // Sessions that went offline during the pull, as app '\0' user '\0' conn_id: one
    // connection may carry several apps, so the connection id alone is not enough.
    std::unordered_set<std::string> gone_during_sync;
  };
  using RoomMap = std::unordered_map<std::string, RoomState>;
  struct Pull;
  void checkLiveness();
  // Forgets a room (its sessions were dropped by the caller); returns the next one.
  RoomMap::iterator eraseRoom(RoomMap::iterator it);
  // Pulls the room's sessions now, or queues the pull when max_concurrent_pulls run.
  void startPull(const std::string& room_id, RoomState& room);
  void runPull(const std::string& room_id, RoomState& room);
  // A pull ended (Pull's destructor): the next waiting one starts, on a later loop turn.
  void pullEnded();
  void startWaitingPulls();
  void postStartWaitingPulls();
  void pullPage(std::shared_ptr<Pull> pull);
  int64_t nowMs() const;
  static std::string goneKey(std::string_view app, std::string_view user, uint64_t conn_id);

  net::EventLoop& loop_;
  Options options_;
  SessionTable table_;
  RoomMap rooms_;
  std::unordered_set<std::string> rooms_in_discovery_;
  net::PeriodicTimerPtr liveness_timer_;
  Liveness liveness_;                       // pulls in flight check it after close()
  std::vector<std::weak_ptr<Pull>> pulls_;  // closed by close()
  uint64_t slots_generation_ = 0;           // bumped by setSlots when slots are taken over
  uint64_t next_pull_id_ = 0;
  uint32_t pulls_running_ = 0;          // Pull objects alive (started, not yet ended)
  std::deque<std::string> pull_queue_;  // rooms waiting for a pull, oldest first
};

}  // namespace push::reg
