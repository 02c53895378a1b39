#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/result.h"

namespace push::redis {
class RedisClient;
}

namespace push::center {

// Job progress in Redis, shared by every center (so GET /v1/jobs/<id> answers from any of them
// and a job outlives the center that accepted it). Keys, all expiring `ttl` after the job was
// created:
//   job:<id>               hash: app, state, chunks, chunksDone, targets, delivered, offline,
//                          failed, stored, connections, createdMs, updatedMs,
//                          publishDeadlineMs
//   job:<id>:done          set of the chunk numbers counted (each chunk is counted once)
//   jobs:running:<app>     set of the app's job ids not finished (max_running_per_app)
// Every change is one Lua script (EVAL), so it is atomic: a chunk delivered twice (queued
// redelivers one whose worker died before FIN) adds its counts once (SADD job:<id>:done
// decides). The scripts touch keys of other jobs of the same app (a standalone Redis, not a
// cluster).
//
// States: publishing (created; chunks being published: workers wait) -> running (every chunk
// published: workers deliver) -> done (every chunk counted); publishing -> failed (publishing
// failed, or publish_deadline passed: the accepting center died). GET reports publishing as
// running.
//
// Every callback runs exactly once, on the loop thread, never inside the call (RedisClient's
// rule); with the Redis failure as its status (UNAVAILABLE, TIMEOUT, ...) when Redis did not
// answer. Loop-thread only.
class JobStore {
 public:
  struct Options {
    std::chrono::seconds ttl{86'400};
    uint32_t max_running_per_app = 10;
    std::chrono::milliseconds publish_deadline{60'000};
  };
  struct Progress {
    std::string job_id;
    std::string app;
    std::string state;  // running, done or failed
    uint32_t chunks = 0;
    uint32_t chunks_done = 0;
    uint64_t targets = 0;
    uint64_t delivered = 0;    // users with at least one connection reached
    uint64_t offline = 0;      // users without a session (message not stored: qos 0 or no saver)
    uint64_t stored = 0;       // users without a session, the message stored for them (saver)
    uint64_t failed = 0;       // users whose room (or register) did not answer, or expired
    uint64_t connections = 0;  // connections the message was handed to
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
  };
  // What a worker does with a chunk it received (beginChunk).
  enum class ChunkAction {
    Deliver,  // the job is running and the chunk not counted yet
    Wait,     // the job is still being published: requeue the chunk
    Drop,     // the job failed or expired: finish the chunk without delivering
    Counted,  // the chunk was counted already (a redelivery): finish it
  };
  struct ChunkCounts {
    uint64_t delivered = 0, offline = 0, failed = 0, connections = 0, stored = 0;
  };

  JobStore(redis::RedisClient& redis, Options options) : redis_(redis), options_(options) {}

  // A new job in state publishing. RATE_LIMITED when the app has max_running_per_app jobs
  // not finished (finished and expired ones are forgotten first).
  void create(const std::string& id, const std::string& app, uint32_t chunks, uint64_t targets,
              int64_t now_ms, std::function<void(Status)> done);
  // publishing -> running. FAILED_PRECONDITION when the job is not publishing any more.
  void markPublished(const std::string& id, int64_t now_ms, std::function<void(Status)> done);
  // publishing -> failed (the job leaves jobs:running:<app>).
  void markFailed(const std::string& id, int64_t now_ms, std::function<void(Status)> done);
  void beginChunk(const std::string& id, uint32_t chunk, int64_t now_ms,
                  std::function<void(Result<ChunkAction>)> done);
  // Adds a chunk's counts once; true when this call counted it, false when it was already.
  // The job becomes done with its last chunk. NOT_FOUND when the job expired.
  void recordChunk(const std::string& id, uint32_t chunk, const ChunkCounts& counts, int64_t now_ms,
                   std::function<void(Result<bool>)> done);
  // NOT_FOUND when there is no such job (never was, or expired).
  void get(const std::string& id, std::function<void(Result<Progress>)> done);

  static std::string jobKey(const std::string& id) { return "job:" + id; }

 private:
  redis::RedisClient& redis_;
  const Options options_;
};

}  // namespace push::center
