#include "services/saver/broadcast_log.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <utility>

#include "common/redis/redis_router.h"
#include "services/saver/saver_keys.h"

namespace push::saver {

namespace {

// KEYS: sequence, log. ARGV: id hex, value ("<expire_ms> <id hex> <bytes>"), floor ("" when
// unknown), log max. Returns the sequence, or -1 when the counter is missing and no floor was
// given. A message id among the 32 newest entries gets its sequence again (a retried call).
constexpr const char* kStoreScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[3] == '' then return -1 end
  redis.call('SET', KEYS[1], ARGV[3])
end
local recent = redis.call('ZREVRANGE', KEYS[2], 0, 31, 'WITHSCORES')
for i = 1, #recent, 2 do
  if string.match(recent[i], '^%d+ (%x+) ') == ARGV[1] then return tonumber(recent[i + 1]) end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[2])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1) end
return seq
)lua";

// KEYS: sequence, log. ARGV: sequence, value, log max. Adds the entry unless one with that
// sequence is there; raises the counter to the sequence.
constexpr const char* kRestoreScript = R"lua(
local seq = tonumber(ARGV[1])
if #redis.call('ZRANGEBYSCORE', KEYS[2], seq, seq) == 0 then
  redis.call('ZADD', KEYS[2], seq, ARGV[2])
  local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
  if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1) end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < seq then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
)lua";

std::string encodeEntry(const broadcast::BroadcastMessage& b) {
  broadcast::BroadcastMessage copy = b;
  copy.clear_sequence();  // the score holds it
  return std::to_string(b.expires_ms()) + " " + idHex(b.message_id()) + " " +
         copy.SerializeAsString();
}

// A WITHSCORES reply: value, score, value, score, ...
Result<std::vector<broadcast::BroadcastMessage>> parseEntries(const redis::Reply& reply) {
  if (!reply.isArray() || reply.elements.size() % 2 != 0) {
    return Status(Code::INTERNAL, "unexpected Redis reply to a broadcast log read");
  }
  std::vector<broadcast::BroadcastMessage> out;
  out.reserve(reply.elements.size() / 2);
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const redis::Reply& value = reply.elements[i];
    const redis::Reply& score = reply.elements[i + 1];
    int64_t expire_ms = 0;
    std::string_view rest;
    uint64_t seq = 0;
    if (!value.isString() || !score.isString() || !splitExpiry(value.str, &expire_ms, &rest) ||
        rest.size() < 17 || rest[16] != ' ' ||
        std::from_chars(score.str.data(), score.str.data() + score.str.size(), seq).ec !=
            std::errc()) {
      return Status(Code::INTERNAL, "a broadcast log entry is malformed");
    }
    rest.remove_prefix(17);
    broadcast::BroadcastMessage& b = out.emplace_back();
    if (!b.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
      return Status(Code::INTERNAL, "a broadcast log entry does not parse");
    }
    b.set_sequence(seq);
  }
  return out;
}

bool expired(const broadcast::BroadcastMessage& b, int64_t now_ms) {
  return b.expires_ms() != 0 && static_cast<int64_t>(b.expires_ms()) <= now_ms;
}

}  // namespace

BroadcastLog::BroadcastLog(redis::RedisRouter& redis, Options options, NowMs now_ms, Floor floor)
    : redis_(redis),
      options_(options),
      now_ms_(std::move(now_ms)),
      floor_(std::move(floor)),
      store_script_(kStoreScript),
      restore_script_(kRestoreScript) {}

BroadcastLog::~BroadcastLog() {
  liveness_.kill();
}

uint32_t BroadcastLog::clampLimit(uint32_t limit) const {
  if (limit == 0) limit = options_.default_limit;
  return std::min(limit, options_.max_limit);
}

uint64_t BroadcastLog::highestSeen(const std::string& app) const {
  auto it = caches_.find(app);
  return it == caches_.end() ? 0 : it->second.highest_seen;
}

BroadcastLog::AppCache& BroadcastLog::cacheFor(const std::string& app) {
  auto it = caches_.find(app);
  if (it == caches_.end()) {
    if (caches_.size() >= options_.max_apps) {
      // Evict the least recently used app that nobody is waiting on.
      auto victim = caches_.end();
      for (auto c = caches_.begin(); c != caches_.end(); ++c) {
        if (c->second.refreshing) continue;
        if (victim == caches_.end() || c->second.used_ms < victim->second.used_ms) victim = c;
      }
      if (victim != caches_.end()) caches_.erase(victim);
    }
    it = caches_.emplace(app, AppCache{}).first;
  }
  it->second.used_ms = now_ms_();
  return it->second;
}

void BroadcastLog::store(const broadcast::BroadcastMessage& broadcast,
                         std::function<void(Result<uint64_t>)> done) {
  storeWithFloor(broadcast, "", false, std::move(done));
}

void BroadcastLog::storeWithFloor(const broadcast::BroadcastMessage& broadcast, std::string floor,
                                  bool floor_asked, std::function<void(Result<uint64_t>)> done) {
  AppKeys keys = appKeys(broadcast.app());
  store_script_.run(
      redis_, {keys.sequence, keys.log},
      {idHex(broadcast.message_id()), encodeEntry(broadcast), std::move(floor),
       std::to_string(options_.log_max)},
      [this, alive = liveness_.token(), broadcast, floor_asked,
       done = std::move(done)](Result<redis::Reply> r) mutable {
        if (!alive.alive()) return;
        if (!r.isOk()) return done(r.status());
        if (!r->isInteger()) {
          return done(Status(Code::INTERNAL, "unexpected Redis reply to a broadcast store"));
        }
        if (r->integer >= 0) {
          remember(broadcast, static_cast<uint64_t>(r->integer));
          return done(static_cast<uint64_t>(r->integer));
        }
        if (floor_asked) {
          return done(Status(Code::UNAVAILABLE, "the broadcast sequence vanished twice"));
        }
        // No counter in Redis: start from the highest sequence known anywhere.
        const std::string app = broadcast.app();
        floor_(app, [this, alive = liveness_.token(), broadcast = std::move(broadcast),
                     done = std::move(done)](Result<uint64_t> floor) mutable {
          if (!alive.alive()) return;
          if (!floor.isOk()) {
            return done(floor.status().withContext("broadcast sequence of " + broadcast.app()));
          }
          uint64_t start = std::max(*floor, highestSeen(broadcast.app()));
          storeWithFloor(broadcast, std::to_string(start), true, std::move(done));
        });
      });
}

void BroadcastLog::remember(const broadcast::BroadcastMessage& broadcast, uint64_t sequence) {
  AppCache& cache = cacheFor(broadcast.app());
  cache.highest_seen = std::max(cache.highest_seen, sequence);
  // Appended only when it follows what memory holds; otherwise the next check reads it.
  const uint64_t last = cache.entries.empty() ? cache.latest : cache.entries.back().sequence();
  if (!cache.loaded || sequence != last + 1 || sequence != cache.latest + 1) return;
  broadcast::BroadcastMessage& b = cache.entries.emplace_back(broadcast);
  b.set_sequence(sequence);
  cache.latest = sequence;
  while (cache.entries.size() > options_.log_max)
    cache.entries.pop_front();
}

void BroadcastLog::load(const LoadBroadcastsRequest& request,
                        std::function<void(Result<LoadBroadcastsResponse>)> done) {
  AppCache& cache = cacheFor(request.app());
  const int64_t now = now_ms_();
  if (cache.loaded && !cache.refreshing && now - cache.checked_ms < options_.cache_check.count()) {
    ++stats_.cache_hits;
    answer(cache, request, done);
    return;
  }
  cache.waiting.push_back(Waiter{request, std::move(done)});
  if (!cache.refreshing) refresh(request.app());
}

void BroadcastLog::refresh(const std::string& app) {
  AppCache& cache = caches_.at(app);
  cache.refreshing = true;
  ++stats_.cache_checks;
  AppKeys keys = appKeys(app);
  struct Pair {
    std::optional<Result<uint64_t>> latest;
    std::optional<Result<std::vector<broadcast::BroadcastMessage>>> entries;
  };
  auto pair = std::make_shared<Pair>();
  auto maybe_done = [this, alive = liveness_.token(), app, pair] {
    if (!alive.alive() || !pair->latest || !pair->entries) return;
    onRefreshed(app, std::move(*pair->latest), std::move(*pair->entries));
  };
  // Both commands share the app's hash tag: one node, one connection, run in this order.
  redis_.command(keys.sequence, {"GET", keys.sequence}, [pair, maybe_done](Result<redis::Reply> r) {
    if (!r.isOk()) {
      pair->latest = Result<uint64_t>(r.status());
    } else if (r->isNil()) {
      pair->latest = Result<uint64_t>(uint64_t{0});
    } else {
      uint64_t v = 0;
      if (!r->isString() ||
          std::from_chars(r->str.data(), r->str.data() + r->str.size(), v).ec != std::errc()) {
        pair->latest =
            Result<uint64_t>(Status(Code::INTERNAL, "broadcast sequence is not a number"));
      } else {
        pair->latest = Result<uint64_t>(v);
      }
    }
    maybe_done();
  });
  std::vector<std::string> read;
  if (cache.loaded) {
    uint64_t after = cache.entries.empty() ? cache.latest : cache.entries.back().sequence();
    read = {"ZRANGEBYSCORE", keys.log, "(" + std::to_string(after), "+inf", "WITHSCORES"};
  } else {
    read = {"ZRANGE", keys.log, "-" + std::to_string(options_.log_max), "-1", "WITHSCORES"};
  }
  redis_.command(keys.log, std::move(read), [pair, maybe_done](Result<redis::Reply> r) {
    if (!r.isOk()) {
      pair->entries = Result<std::vector<broadcast::BroadcastMessage>>(r.status());
    } else {
      pair->entries = parseEntries(*r);
    }
    maybe_done();
  });
}

void BroadcastLog::onRefreshed(const std::string& app, Result<uint64_t> latest,
                               Result<std::vector<broadcast::BroadcastMessage>> entries) {
  auto it = caches_.find(app);
  if (it == caches_.end()) return;
  AppCache& cache = it->second;
  cache.refreshing = false;
  std::vector<Waiter> waiting = std::move(cache.waiting);
  cache.waiting.clear();
  Status st = !latest.isOk() ? latest.status() : entries.status();
  if (!st.isOk()) {
    for (Waiter& w : waiting)
      w.done(st);
    return;
  }
  const uint64_t previous = cache.entries.empty() ? cache.latest : cache.entries.back().sequence();
  if (cache.loaded && *latest < previous) {
    // The counter went back: Redis lost data (and was restored or restarted). Start over.
    cache = AppCache{};
    cache.used_ms = now_ms_();
    cache.waiting = std::move(waiting);
    refresh(app);
    return;
  }
  for (broadcast::BroadcastMessage& b : *entries) {
    if (!cache.entries.empty() && b.sequence() <= cache.entries.back().sequence()) continue;
    cache.highest_seen = std::max(cache.highest_seen, b.sequence());
    cache.entries.push_back(std::move(b));
  }
  while (cache.entries.size() > options_.log_max)
    cache.entries.pop_front();
  cache.latest = std::max(*latest, cache.entries.empty() ? 0 : cache.entries.back().sequence());
  cache.highest_seen = std::max(cache.highest_seen, cache.latest);
  cache.loaded = true;
  cache.checked_ms = now_ms_();
  for (Waiter& w : waiting)
    answer(cache, w.request, w.done);
}

void BroadcastLog::answer(const AppCache& cache, const LoadBroadcastsRequest& request,
                          const std::function<void(Result<LoadBroadcastsResponse>)>& done) {
  const uint64_t after = request.after_sequence();
  // Memory holds the log's tail; an older position (the log was longer before this process
  // started, or entries were trimmed here) reads Redis, which may hold no more either.
  const bool covered = after == 0 || cache.entries.empty() ||
                       after + 1 >= cache.entries.front().sequence() ||
                       cache.entries.size() < options_.log_max;
  if (!covered) {
    readDirect(request, cache.latest, done);
    return;
  }
  LoadBroadcastsResponse response;
  response.set_latest_sequence(cache.latest);
  if (after == 0) {
    done(std::move(response));
    return;
  }
  const uint32_t limit = clampLimit(request.limit());
  const int64_t now = now_ms_();
  auto begin = std::upper_bound(
      cache.entries.begin(), cache.entries.end(), after,
      [](uint64_t seq, const broadcast::BroadcastMessage& b) { return seq < b.sequence(); });
  for (auto it = begin; it != cache.entries.end(); ++it) {
    if (expired(*it, now)) continue;
    if (static_cast<uint32_t>(response.broadcasts_size()) == limit) {
      response.set_more(true);
      break;
    }
    *response.add_broadcasts() = *it;
  }
  done(std::move(response));
}

void BroadcastLog::readDirect(const LoadBroadcastsRequest& request, uint64_t latest,
                              std::function<void(Result<LoadBroadcastsResponse>)> done) {
  ++stats_.direct_reads;
  AppKeys keys = appKeys(request.app());
  const uint32_t limit = clampLimit(request.limit());
  redis_.command(keys.log,
                 {"ZRANGEBYSCORE", keys.log, "(" + std::to_string(request.after_sequence()), "+inf",
                  "WITHSCORES", "LIMIT", "0", std::to_string(limit + 1)},
                 [this, alive = liveness_.token(), latest, limit,
                  done = std::move(done)](Result<redis::Reply> r) {
                   if (!alive.alive()) return;
                   if (!r.isOk()) return done(r.status());
                   auto entries = parseEntries(*r);
                   if (!entries.isOk()) return done(entries.status());
                   LoadBroadcastsResponse response;
                   response.set_latest_sequence(latest);
                   const int64_t now = now_ms_();
                   for (size_t i = 0; i < entries->size(); ++i) {
                     if (i == limit) {
                       response.set_more(true);
                       break;
                     }
                     if (!expired((*entries)[i], now)) *response.add_broadcasts() = (*entries)[i];
                   }
                   done(std::move(response));
                 });
}

void BroadcastLog::restore(const broadcast::BroadcastMessage& broadcast,
                           std::function<void(Status)> done) {
  AppKeys keys = appKeys(broadcast.app());
  auto it = caches_.find(broadcast.app());
  if (it != caches_.end() && !it->second.refreshing) {
    it->second.loaded = false;  // read the log again on the next load
    it->second.entries.clear();
  }
  restore_script_.run(redis_, {keys.sequence, keys.log},
                      {std::to_string(broadcast.sequence()), encodeEntry(broadcast),
                       std::to_string(options_.log_max)},
                      [done = std::move(done)](Result<redis::Reply> r) { done(r.status()); });
}

}  // namespace push::saver
