#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/redis/redis_script.h"
#include "proto/saver.pb.h"

namespace push::redis {
class RedisRouter;
}

namespace push::saver {

// Users' stored QoS 1 messages in Redis (saver_keys.h has the layout): Store, Load and Ack as
// Lua scripts, so a user's inbox, bodies and load counts change together. Load is one call per
// user; Store and Ack group the users of a request by node (RedisRouter::placementOf) and make
// one call per group, so a batch of 100 users costs one script call rather than 100 (on a Redis
// Cluster one call per user: see groupOf).
//
// A stored message expires at created_ms + ttl (ttl_s, or default_ttl; at most max_ttl): Load
// never returns it after that, and Redis forgets the user's keys once the last of their
// messages expired (the keys' expiry is pushed out to the latest message's, rounded up to a
// minute so that most stores leave it alone).
//
// Loop-thread only. `redis` must outlive this object; a callback never runs inside the call
// that made it, and not after the RedisRouter is destroyed (it completes CANCELLED then).
class InboxStore {
 public:
  struct Options {
    std::chrono::seconds default_ttl{604'800};
    std::chrono::seconds max_ttl{2'592'000};
    uint32_t max_loads = 5;
    uint32_t default_load_limit = 100;
    uint32_t max_load_limit = 1000;
  };
  using NowMs = std::function<int64_t()>;  // wall clock, ms since the Unix epoch

  InboxStore(redis::RedisRouter& redis, Options options, NowMs now_ms);

  // When `message` expires (ms since the epoch), from its created_ms (now when 0) and ttl_s.
  int64_t expireMs(const Message& message) const;

  struct StoreCounts {
    uint32_t stored = 0, duplicates = 0, expired = 0;
  };
  // Every (message, user) pair of `request`. Fails with the first Redis error (some pairs may
  // be stored then: a retry stores the rest and counts the others as duplicates).
  void store(const StoreRequest& request, std::function<void(Result<StoreCounts>)> done);

  // One pair as read back from MySQL (recovery): `value` is what Store would write.
  void restore(const std::string& app, const std::string& user, uint64_t id, int64_t expire_ms,
               const std::string& message_bytes, std::function<void(Status)> done);

  struct Loaded {
    LoadResponse response;
    // Ids removed by this load (dropped after max_loads, or expired): MySQL must forget them.
    std::vector<uint64_t> removed;
  };
  void load(const LoadRequest& request, std::function<void(Result<Loaded>)> done);

  // Removes the acked ids of every item; the count of ids that were stored. Fails with the
  // first Redis error (a retry is harmless: ids already gone count 0).
  void ack(const AckRequest& request, std::function<void(Result<uint32_t>)> done);

  uint32_t clampLimit(uint32_t limit) const;

 private:
  struct StoreGather;
  // One store script call being built: keys and arguments of its pairs.
  struct StoreCall {
    std::vector<std::string> keys, argv;
  };
  using StoreCalls = std::unordered_map<std::string, StoreCall>;  // by groupOf
  // Which keys go in one script call: Single/Shards the node's (RedisRouter::placementOf),
  // Cluster the user's (hash tag).
  std::string groupOf(const std::string& inbox_key) const;
  // Adds a pair to the call of its group; a full call is sent at once.
  void addPair(StoreCalls& calls, const std::string& app, const std::string& user,
               const std::string& id_hex, const std::string& value, const std::string& keys_at,
               const std::string& now, const std::shared_ptr<StoreGather>& gather);
  void runStore(StoreCall call, const std::shared_ptr<StoreGather>& gather);
  // The expiry of a user's keys for a message expiring at `expire_ms` (rounded up).
  static std::string keysExpireAt(int64_t expire_ms);

  redis::RedisRouter& redis_;
  const Options options_;
  NowMs now_ms_;
  const redis::RedisScript store_script_;
  const redis::RedisScript load_script_;
  const redis::RedisScript ack_script_;
};

}  // namespace push::saver
