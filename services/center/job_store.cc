#include "services/center/job_store.h"

#include <cstdlib>
#include <utility>

#include "common/redis/redis_client.h"

namespace push::center {

namespace {

// KEYS: job, running set. ARGV: id, app, chunks, targets, now, ttl_s, max_running,
// publish deadline (ms).
constexpr std::string_view kCreate = R"lua(
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = 'job:' .. id
  local s = redis.call('HGET', key, 'state')
  if not s or s == 'done' or s == 'failed' then
    redis.call('SREM', KEYS[2], id)
  elseif s == 'publishing' and
      tonumber(redis.call('HGET', key, 'publishDeadlineMs')) < tonumber(ARGV[5]) then
    redis.call('HSET', key, 'state', 'failed', 'updatedMs', ARGV[5])
    redis.call('SREM', KEYS[2], id)
  end
end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[7]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'app', ARGV[2], 'state', 'publishing', 'chunks', ARGV[3],
  'chunksDone', 0, 'targets', ARGV[4], 'delivered', 0, 'offline', 0, 'failed', 0,
  'stored', 0, 'connections', 0, 'createdMs', ARGV[5], 'updatedMs', ARGV[5], 'publishDeadlineMs', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
)lua";

// KEYS: job. ARGV: new state (running|failed), now, id.
constexpr std::string_view kSetState = R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'publishing' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedMs', ARGV[2])
if ARGV[1] == 'failed' then
  redis.call('SREM', 'jobs:running:' .. redis.call('HGET', KEYS[1], 'app'), ARGV[3])
end
return 1
)lua";

// KEYS: job, done set. ARGV: chunk, now, id.
constexpr std::string_view kBegin = R"lua(
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return 'missing' end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'counted' end
if s == 'publishing' and
    tonumber(redis.call('HGET', KEYS[1], 'publishDeadlineMs')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'updatedMs', ARGV[2])
  redis.call('SREM', 'jobs:running:' .. redis.call('HGET', KEYS[1], 'app'), ARGV[3])
  return 'failed'
end
return s
)lua";

// KEYS: job, done set. ARGV: chunk, delivered, offline, failed, connections, now, id, stored.
constexpr std::string_view kRecord = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('HINCRBY', KEYS[1], 'delivered', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'offline', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'connections', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'stored', ARGV[8])
local done = redis.call('HINCRBY', KEYS[1], 'chunksDone', 1)
redis.call('HSET', KEYS[1], 'updatedMs', ARGV[6])
if done >= tonumber(redis.call('HGET', KEYS[1], 'chunks')) then
  redis.call('HSET', KEYS[1], 'state', 'done')
  redis.call('SREM', 'jobs:running:' .. redis.call('HGET', KEYS[1], 'app'), ARGV[7])
end
return 1
)lua";

uint64_t toU64(const std::string& s) {
  return std::strtoull(s.c_str(), nullptr, 10);
}

}  // namespace

void JobStore::create(const std::string& id, const std::string& app, uint32_t chunks,
                      uint64_t targets, int64_t now_ms, std::function<void(Status)> done) {
  const uint32_t max_running = options_.max_running_per_app;
  redis_.command(
      {"EVAL", std::string(kCreate), "2", jobKey(id), "jobs:running:" + app, id, app,
       std::to_string(chunks), std::to_string(targets), std::to_string(now_ms),
       std::to_string(options_.ttl.count()), std::to_string(max_running),
       std::to_string(now_ms + options_.publish_deadline.count())},
      [done = std::move(done), max_running, app](Result<redis::Reply> r) {
        if (!r.isOk()) return done(r.status());
        if (r->integer == 0) {
          return done(Status(Code::RATE_LIMITED,
                             std::to_string(max_running) + " jobs of app '" + app +
                                 "' are running (job_max_running_per_app); retry later"));
        }
        if (r->integer < 0) return done(Status(Code::ALREADY_EXISTS, "job id in use"));
        done(Status::ok());
      });
}

void JobStore::markPublished(const std::string& id, int64_t now_ms,
                             std::function<void(Status)> done) {
  redis_.command(
      {"EVAL", std::string(kSetState), "1", jobKey(id), "running", std::to_string(now_ms), id},
      [done = std::move(done)](Result<redis::Reply> r) {
        if (!r.isOk()) return done(r.status());
        if (r->integer != 1) {
          return done(
              Status(Code::FAILED_PRECONDITION, "the job was failed meanwhile (publish deadline)"));
        }
        done(Status::ok());
      });
}

void JobStore::markFailed(const std::string& id, int64_t now_ms, std::function<void(Status)> done) {
  redis_.command(
      {"EVAL", std::string(kSetState), "1", jobKey(id), "failed", std::to_string(now_ms), id},
      [done = std::move(done)](Result<redis::Reply> r) {
        done(r.isOk() ? Status::ok() : r.status());
      });
}

void JobStore::beginChunk(const std::string& id, uint32_t chunk, int64_t now_ms,
                          std::function<void(Result<ChunkAction>)> done) {
  redis_.command({"EVAL", std::string(kBegin), "2", jobKey(id), jobKey(id) + ":done",
                  std::to_string(chunk), std::to_string(now_ms), id},
                 [done = std::move(done)](Result<redis::Reply> r) {
                   if (!r.isOk()) return done(r.status());
                   const std::string& s = r->str;
                   if (s == "running" || s == "done") return done(ChunkAction::Deliver);
                   if (s == "publishing") return done(ChunkAction::Wait);
                   if (s == "counted") return done(ChunkAction::Counted);
                   done(ChunkAction::Drop);  // failed, missing
                 });
}

void JobStore::recordChunk(const std::string& id, uint32_t chunk, const ChunkCounts& c,
                           int64_t now_ms, std::function<void(Result<bool>)> done) {
  redis_.command(
      {"EVAL", std::string(kRecord), "2", jobKey(id), jobKey(id) + ":done", std::to_string(chunk),
       std::to_string(c.delivered), std::to_string(c.offline), std::to_string(c.failed),
       std::to_string(c.connections), std::to_string(now_ms), id, std::to_string(c.stored)},
      [done = std::move(done)](Result<redis::Reply> r) {
        if (!r.isOk()) return done(r.status());
        if (r->integer < 0) return done(notFound("the job expired"));
        done(r->integer == 1);
      });
}

void JobStore::get(const std::string& id, std::function<void(Result<Progress>)> done) {
  redis_.command({"HGETALL", jobKey(id)}, [id, done = std::move(done)](Result<redis::Reply> r) {
    if (!r.isOk()) return done(r.status());
    if (!r->isArray() || r->elements.empty()) return done(notFound("no job " + id));
    Progress p;
    p.job_id = id;
    for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
      const std::string& k = r->elements[i].str;
      const std::string& v = r->elements[i + 1].str;
      if (k == "app")
        p.app = v;
      else if (k == "state")
        p.state = v == "publishing" ? "running" : v;
      else if (k == "chunks")
        p.chunks = static_cast<uint32_t>(toU64(v));
      else if (k == "chunksDone")
        p.chunks_done = static_cast<uint32_t>(toU64(v));
      else if (k == "targets")
        p.targets = toU64(v);
      else if (k == "delivered")
        p.delivered = toU64(v);
      else if (k == "offline")
        p.offline = toU64(v);
      else if (k == "failed")
        p.failed = toU64(v);
      else if (k == "stored")
        p.stored = toU64(v);
      else if (k == "connections")
        p.connections = toU64(v);
      else if (k == "createdMs")
        p.created_ms = static_cast<int64_t>(toU64(v));
      else if (k == "updatedMs")
        p.updated_ms = static_cast<int64_t>(toU64(v));
    }
    done(std::move(p));
  });
}

}  // namespace push::center
