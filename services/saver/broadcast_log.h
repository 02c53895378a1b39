#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/redis/redis_script.h"
#include "proto/saver.pb.h"

namespace push::redis {
class RedisRouter;
}

namespace push::saver {

// Each app's broadcast log: the sequence counter and the last `log_max` broadcasts in Redis
// (saver_keys.h: bs:{app}, bl:{app}), and the same tail in this process's memory so that a
// reconnect wave (every client asking "what did I miss since N") costs Redis one check per app
// per `cache_check`, not one read per client.
//
// Sequences: StoreBroadcast increments bs:{app} in a script that also appends to the log and
// returns the sequence a retried call (same message id, still in the recent log) got. When
// bs:{app} is missing (the app's first broadcast, or Redis lost data) the script refuses and
// `floor` says the highest sequence known elsewhere (MySQL, and what this process handed out),
// so that a sequence is never handed out twice.
//
// Memory: one entry per app asked for, each at most log_max broadcasts; apps beyond max_apps
// evict the least recently used. Loop-thread only; `redis` outlives this object. Callbacks may
// run inside the call (answered from memory) and never after destruction.
class BroadcastLog {
 public:
  struct Options {
    uint32_t log_max = 1000;
    std::chrono::milliseconds cache_check{200};
    uint32_t default_limit = 100;
    uint32_t max_limit = 1000;
    size_t max_apps = 10'000;
  };
  using NowMs = std::function<int64_t()>;
  using Floor = std::function<void(const std::string& app, std::function<void(Result<uint64_t>)>)>;

  BroadcastLog(redis::RedisRouter& redis, Options options, NowMs now_ms, Floor floor);
  ~BroadcastLog();

  // Appends `broadcast` (its sequence ignored) and returns the sequence it got.
  void store(const broadcast::BroadcastMessage& broadcast,
             std::function<void(Result<uint64_t>)> done);
  void load(const LoadBroadcastsRequest& request,
            std::function<void(Result<LoadBroadcastsResponse>)> done);
  // Recovery: puts a broadcast read back from MySQL (sequence set) into the log if it is not
  // there, and raises bs:{app} to its sequence.
  void restore(const broadcast::BroadcastMessage& broadcast, std::function<void(Status)> done);

  // The highest sequence this process handed out or saw for `app` (0: none).
  uint64_t highestSeen(const std::string& app) const;

  struct Stats {
    uint64_t cache_hits = 0;    // loads answered from memory
    uint64_t cache_checks = 0;  // Redis round trips to refresh an app's memory
    uint64_t direct_reads = 0;  // loads older than memory holds, read from Redis
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Waiter {
    LoadBroadcastsRequest request;
    std::function<void(Result<LoadBroadcastsResponse>)> done;
  };
  struct AppCache {
    std::deque<broadcast::BroadcastMessage> entries;  // ascending sequence, the log's tail
    uint64_t latest = 0;                              // bs:{app} at the last check
    int64_t checked_ms = 0;
    bool loaded = false;
    bool refreshing = false;
    uint64_t highest_seen = 0;
    int64_t used_ms = 0;
    std::vector<Waiter> waiting;
  };

  AppCache& cacheFor(const std::string& app);
  void refresh(const std::string& app);
  void onRefreshed(const std::string& app, Result<uint64_t> latest,
                   Result<std::vector<broadcast::BroadcastMessage>> entries);
  void answer(const AppCache& cache, const LoadBroadcastsRequest& request,
              const std::function<void(Result<LoadBroadcastsResponse>)>& done);
  void readDirect(const LoadBroadcastsRequest& request, uint64_t latest,
                  std::function<void(Result<LoadBroadcastsResponse>)> done);
  void storeWithFloor(const broadcast::BroadcastMessage& broadcast, std::string floor,
                      bool floor_asked, std::function<void(Result<uint64_t>)> done);
  void remember(const broadcast::BroadcastMessage& broadcast, uint64_t sequence);
  uint32_t clampLimit(uint32_t limit) const;

  redis::RedisRouter& redis_;
  const Options options_;
  NowMs now_ms_;
  Floor floor_;
  const redis::RedisScript store_script_;
  const redis::RedisScript restore_script_;
  std::unordered_map<std::string, AppCache> caches_;
  Stats stats_;
  Liveness liveness_;
};

}  // namespace push::saver
