#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/rpc/channel.h"
#include "proto/register.pb.h"
#include "services/register/slot_map.h"

namespace push::net {
class EventLoop;
}  // namespace push::net
namespace push::config {
class RegisterClientConfig;
}
namespace push::discovery {
struct ServiceInstance;
}

namespace push::reg {

// How rooms and centers talk to register: routes each user to the instance that owns its slot
// (static slot map), batches session changes, fans lookups out and merges the answers.
//
// Online/offline changes are queued and sent at most every `batch_interval` (or when a shard's
// queue reaches `max_batch`), in order per shard. If a batch fails, `on_batch_failed(shard)` runs:
// the room then asks register to resync its sessions (RoomHeartbeat + ListSessions), so a lost
// batch does not leave register wrong for long.
//
// Loop-thread only. Destroy it on the loop thread; pending lookups complete CANCELLED.
class RegisterClient {
 public:
  struct Shard {
    std::string address;
    SlotSet slots;
  };
  struct Options {
    std::vector<Shard> shards;
    rpc::Channel::Options channel;
    std::chrono::milliseconds batch_interval{10};
    size_t max_batch = 1000;
    // Deadline of the Online/Offline batches and RoomHeartbeat calls (lookups keep the
    // channel's timeout). Longer than a lookup's: a batch that fails costs the room a resync,
    // a full pull of its sessions, so a register that is merely busy is better waited for than
    // given more work. Default: 5 s.
    std::chrono::milliseconds session_timeout{5000};
    // The shards follow ZooKeeper (config `discover`): `shards` is empty and the owner calls
    // setShards(shardsOfInstances(...)) each time services/register changes.
    bool discover = false;
    // Builds options from config; INVALID_ARGUMENT unless the shards cover every slot once,
    // or `discover` is set and no shard is listed.
    static Result<Options> fromConfig(const config::RegisterClientConfig& config);
  };

  static Result<std::unique_ptr<RegisterClient>> create(net::EventLoop& loop, Options options);
  ~RegisterClient();

  // Replaces the shards: the register instances in ZooKeeper changed and their slots moved
  // (slot_assignment.h). INVALID_ARGUMENT, and nothing changes, unless `shards` cover every
  // slot once; an empty list is allowed (no register known: changes are dropped and reported
  // through on_batch_failed, so the room resyncs once registers are back; lookups fail
  // UNAVAILABLE). A shard at an address that stays keeps its channel; changes still queued are
  // routed again by the new map; calls in flight end on their old channels (those of shards
  // that left complete CANCELLED and are reported as failed batches). Returns whether the owner
  // of any slot changed: the caller then asks register to pull its sessions again (resync), so
  // the new owners learn the sessions they took over.
  Result<bool> setShards(std::vector<Shard> shards);

  // The shards of the register instances listed in ZooKeeper (services/register, sorted or
  // not): instance i at its `rpc` endpoint owns assignSlots(ids)[i], the map registers with
  // `slots: "auto"` compute from the same list. INVALID_ARGUMENT when an instance has no rpc
  // endpoint (its slots would have no address).
  static Result<std::vector<Shard>> shardsOfInstances(
      const std::vector<discovery::ServiceInstance>& registers);
  // setShards(shardsOfInstances(registers)): the client routes by the instances listed now.
  Result<bool> followInstances(const std::vector<discovery::ServiceInstance>& registers);

  size_t shardCount() const { return shards_.size(); }
  size_t shardOf(std::string_view app, std::string_view user) const;

  // `sent` (optional) runs once the batch that carries the session is answered: true when the
  // register took it (from then on its lookups find the session), false when the batch failed
  // or no register instance is known (then within this call). It may run within this call
  // (a batch sent and failed at once) and never runs once the client is destroyed.
  using OnlineSent = std::function<void(bool ok)>;
  void online(Session session, OnlineSent sent = nullptr);
  void offline(OfflineSession session);
  // Sends queued changes now (tests, shutdown).
  void flush();
  // flush(), then `done` (posted to the loop, never run inside this call) once every batch
  // sent so far has been answered or has failed: a room that stops waits for it, so register
  // hears its last Offline batch instead of routing to a dead room until its timeout. Batches
  // fail by session_timeout at the latest. `done` does not run if the client is destroyed
  // first.
  void flush(std::function<void()> done);
  // Online/Offline calls sent and not answered yet.
  size_t batchesInFlight() const { return batches_in_flight_; }
  // `shard` is the index at the time the batch was sent (setShards may have changed it since).
  void setOnBatchFailed(std::function<void(size_t shard, const Status&)> fn) {
    on_batch_failed_ = std::move(fn);
  }

  // Sends `request` to every shard; `done(shard, result)` per shard.
  void heartbeat(const RoomHeartbeatRequest& request,
                 std::function<void(size_t shard, const Status&, bool resync)> done);

  // Sessions of each user, in request order. Lookups made in one loop turn are coalesced:
  // one Lookup per shard carries the users of all of them (center answers many concurrent
  // pushes with one RPC). On a shard failure every lookup that needed it fails with that
  // status; `done` never runs inside lookup().
  using LookupDone = std::function<void(const Status&, std::vector<std::vector<Session>>&&)>;
  void lookup(std::vector<UserKey> users, LookupDone done);

 private:
  struct ShardState;
  struct PendingLookup;
  RegisterClient(net::EventLoop& loop, Options options);
  void sendBatch(size_t shard);
  Result<std::unique_ptr<ShardState>> makeShard(const std::string& address);
  void dropChange();  // a change with no shard to take it
  void scheduleFlush();
  void flushLookups();

  net::EventLoop& loop_;
  Options options_;
  std::vector<std::unique_ptr<ShardState>> shards_;
  std::vector<uint16_t> slot_to_shard_;
  net::PeriodicTimerPtr timer_;
  std::function<void(size_t, const Status&)> on_batch_failed_;
  Liveness liveness_;  // callbacks of calls and posted flushes check it
  std::vector<std::shared_ptr<PendingLookup>> pending_lookups_;
  bool lookup_flush_scheduled_ = false;
  size_t batches_in_flight_ = 0;
  std::vector<std::function<void()>> flush_waiters_;
  void batchDone();
};

}  // namespace push::reg
