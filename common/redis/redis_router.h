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

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/redis/redis_client.h"
#include "common/redis/reply.h"

namespace push::net {
class EventLoop;
}  // namespace push::net

namespace push::redis {

// Sends each command to the Redis that owns its key: one instance, several instances sharded
// by a consistent-hash ring, or a Redis Cluster (slot map, MOVED/ASK redirects):
//
//   RedisRouter::Options o;
//   o.mode = RedisRouter::Mode::Cluster;
//   o.addresses = {"10.0.0.1:7000", "10.0.0.2:7000"};   // seeds
//   ASSIGN_OR_RETURN(auto redis, redis::RedisRouter::create(loop, o));
//   redis->command("inbox:{u42}", {"ZADD", "inbox:{u42}", "7", "m7"}, [](Result<Reply> r) {...});
//
// Each node is one RedisClient (one pipelined connection, common/redis/redis_client.h), made
// when the node is first known and kept for the router's life; this class only decides where
// a command goes and what to do with a redirect.
//
// Modes
//   Single   one node; command() is RedisClient::command.
//   Shards   every instance of `addresses` owns points on a ring (kVirtualNodes each, placed by
//            hash64("<address>#<i>"), so the owner of a key does not depend on the order of the
//            list); a key goes to the owner of the first point at or after hash64(hashTag(key)).
//            Keys sharing a {tag} share an instance. A down instance fails its own keys
//            (UNAVAILABLE); keys are never moved to another instance (that would split them).
//   Cluster  a slot map (slot -> master) loaded with CLUSTER SLOTS from the first node that
//            answers (the masters of the current map, then the seeds, in order); loaded on the
//            first command, then every slot_refresh_interval, after a MOVED or CLUSTERDOWN, and
//            after a command to a node failed UNAVAILABLE. One refresh is in flight at a time and
//            they start at least kMinRefreshGap apart; a command whose slot is not known yet
//            waits for the map (up to its deadline).
//            Replies:
//              MOVED <slot> <addr>  the slot map entry is set to <addr>, a refresh is scheduled,
//                                   the command is sent to <addr>;
//              ASK <slot> <addr>    ASKING then the command are sent to <addr> back to back on
//                                   its one connection (RedisClient sends in call order on one
//                                   connection, so nothing comes between them); the map is not
//                                   changed (the slot is only migrating);
//              TRYAGAIN / CLUSTERDOWN  sent again after a short delay (kRetryDelay, doubling).
//            Each redirect or retry is a hop; more than max_redirects hops, or a hop needed past
//            the command's deadline (call time + client.timeout), fails the command.
//
// Completion (command, forEachPrimary): as RedisClient::command: `done` runs exactly once, on
// the loop thread, never inside the call except for INVALID_ARGUMENT (no arguments) and
// OVERLOADED (the node's max_inflight). Cluster mode adds
//   UNAVAILABLE  more than max_redirects hops (the message names the last redirect);
//   TIMEOUT      the slot's owner was not known (map not loadable) by the command's deadline,
//                or a hop was due past it.
// A command that failed UNAVAILABLE on a node is not re-sent (it may have run).
// The router's destructor completes everything pending with CANCELLED, inside it. A `done`
// may make more commands or destroy the router (not from inside the destructor).
//
// Not supported: reading from replicas, hostnames in the slot map (numeric addresses only),
// multi-key commands across slots (Redis refuses them: CROSSSLOT), pub/sub, MULTI/EXEC across
// redirects (a transaction must stay on one connection; send it as a Lua script instead).
// Loop-thread only. Not copyable.
class RedisRouter {
 public:
  enum class Mode { Single, Shards, Cluster };
  struct Options {
    Mode mode = Mode::Single;
    // Single: exactly one "host:port". Shards: every instance (no duplicates). Cluster: seed
    // nodes (one is enough; a seed that is down is skipped). Numeric addresses.
    std::vector<std::string> addresses;
    // For every node connection; client.timeout is also a command's deadline across hops.
    RedisClient::Options client;
    // Cluster: the slot map is reloaded this often (once the router was first used). > 0.
    std::chrono::milliseconds slot_refresh_interval{5'000};
    // Cluster: MOVED/ASK/TRYAGAIN/CLUSTERDOWN hops per command. >= 0.
    int max_redirects = 5;
  };
  struct Stats {
    uint64_t moved = 0;           // MOVED replies
    uint64_t ask = 0;             // ASK replies
    uint64_t slot_refreshes = 0;  // slot maps loaded
    uint64_t tryagain = 0;        // TRYAGAIN and CLUSTERDOWN replies
  };

  // Virtual nodes per instance on the Shards ring.
  static constexpr int kVirtualNodes = 160;
  // Cluster: the first TRYAGAIN/CLUSTERDOWN retry waits this long, doubling per retry.
  static constexpr std::chrono::milliseconds kRetryDelay{10};
  // Cluster: refreshes start at least this far apart (a burst of MOVED during a migration
  // makes one refresh, not one per reply).
  static constexpr std::chrono::milliseconds kMinRefreshGap{100};

  // INVALID_ARGUMENT for a bad mode/addresses combination, a bad address or bad options.
  // Nothing connects until the first command.
  static Result<std::unique_ptr<RedisRouter>> create(net::EventLoop& loop, Options options);
  // Pending commands (waiting for the map or a retry, or in a node's client) complete
  // CANCELLED inside it.
  ~RedisRouter();
  RedisRouter(const RedisRouter&) = delete;
  RedisRouter& operator=(const RedisRouter&) = delete;

  // Sends `args` (args[0] is the command's name) to the node that owns `key` (Single: the one
  // node). `key` only routes: it is not added to `args`.
  void command(std::string_view key, std::vector<std::string> args, RedisClient::Done done);

  // Sends `args` to every primary (Single: 1; Shards: each; Cluster: each master of the current
  // map, loading it first when there is none) and completes once with one result per primary,
  // in primaries() order. No redirects are followed (use it for per-node commands: DBSIZE,
  // SCRIPT LOAD, FLUSHALL, INFO). When no primary is known by the deadline (Cluster: the map
  // could not be loaded), completes with a single TIMEOUT result. Not inside the call unless
  // every node refused the command inside it (no arguments, OVERLOADED).
  void forEachPrimary(std::vector<std::string> args,
                      std::function<void(std::vector<Result<Reply>>)> done);

  // "host:port" of each primary now (Cluster: empty until the map is loaded; in the order of
  // the first slot each owns).
  std::vector<std::string> primaries() const;
  // The node `key` goes to now (Cluster: by the current map; empty when its slot is not known).
  std::string addressOf(std::string_view key) const;
  // Keys with the same placement live on one node for the router's life, whatever the slot map
  // does (a Cluster slot moves as a whole): Single 0 for every key; Shards the index of the
  // key's instance; Cluster the key's slot. What a multi-key script of several hash tags
  // groups its keys by (RedisScript::runGrouped).
  uint32_t placementOf(std::string_view key) const;
  Mode mode() const { return options_.mode; }
  // Cluster: points `slot` at `address` as a MOVED would (tests make a stale map with it).
  Status setSlotForTest(uint16_t slot, const std::string& address);
  const Stats& stats() const { return stats_; }

 private:
  struct Op;
  struct Fanout;
  struct Point {
    uint64_t position;
    uint32_t node;
  };

  RedisRouter(net::EventLoop& loop, Options options);
  // The index of the node at `address`, making its client when it is new.
  Result<uint32_t> nodeIndex(const std::string& address);
  uint32_t shardOf(std::string_view key) const;

  // Cluster.
  void dispatch(const std::shared_ptr<Op>& op);
  void send(const std::shared_ptr<Op>& op, uint32_t node, bool asking);
  void onReply(const std::shared_ptr<Op>& op, uint32_t node, Result<Reply> result);
  void requestRefresh();
  void startRefresh();
  void refreshFrom(size_t candidate);
  // Applies a CLUSTER SLOTS reply from node `from`; false when it is not one.
  bool applySlots(const Reply& reply, uint32_t from);
  void onRefreshDone(bool loaded);
  void runFanout(Fanout fanout);
  void onTick();
  // Sends what waits and may go now (slot known, retry time reached).
  void flushWaiting();
  static void finish(Op& op, Result<Reply> result);

  net::EventLoop& loop_;
  const Options options_;
  std::vector<std::unique_ptr<RedisClient>> nodes_;  // never shrinks: indices are stable
  std::vector<std::string> addresses_;               // of nodes_, same index
  std::unordered_map<std::string, uint32_t> by_address_;

  // Shards.
  std::vector<Point> ring_;

  // Cluster.
  std::vector<int32_t> slots_;     // slot -> node index, -1 unknown; empty before the first map
  std::vector<uint32_t> masters_;  // node indices, by first slot
  std::vector<uint32_t> seeds_;
  std::deque<std::shared_ptr<Op>> waiting_;  // for the map or a retry time
  std::deque<Fanout> fanouts_;               // forEachPrimary before the first map
  std::vector<uint32_t> refresh_candidates_;
  bool refreshing_ = false;
  bool refresh_wanted_ = false;
  bool used_ = false;
  int64_t last_refresh_ms_ = -1'000'000;
  int64_t next_periodic_ms_ = 0;
  std::string last_refresh_error_;
  net::PeriodicTimerPtr timer_;

  Stats stats_;
  Liveness liveness_;
};

}  // namespace push::redis
