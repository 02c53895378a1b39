#include "services/saver/inbox_store.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "common/redis/key_slot.h"
#include "common/redis/redis_router.h"
#include "services/saver/saver_keys.h"

namespace push::saver {

namespace {

// The three keys of a user exist together or not at all: the loads hash holds a placeholder
// field ('') from the first Store on, and the scripts delete it when the inbox empties. A Redis
// Cluster node whose slot is migrating or importing answers TRYAGAIN to a script whose keys are
// partly missing, and fails a command inside a script on a missing key ("non local key") after
// the script's earlier writes: with keys missing, a user with stored but never loaded messages
// (no loads hash yet) could not Load or Ack for the whole migration of its slot, and a Load
// that emptied the loads hash failed halfway.
//
// One call stores many (message, user) pairs of one group (InboxStore::groupOf): per Redis
// call the script's fixed cost (lookup, argument parsing, reply) is paid once, not per pair.
// KEYS: inbox, bodies, loads of pair 1, of pair 2, ... (a user may repeat). ARGV: now ms, then
// per pair: id hex, value, keys' expire-at ms. Returns per pair 1 (stored) or 0 (already
// there). The loads hash's placeholder holds the keys' expire-at, so only a message that
// outlives the keys moves their expiry (PEXPIREAT, never earlier): a store is ZADD, HSET and
// HGET. A placeholder of 0 (made by a Load, or data from before it held the expiry) is read
// from the inbox's own PTTL instead; a fresh inbox (ZCARD 1: its keys were all gone, or only
// it was evicted) always gets the expiry, so no key is left without one.
constexpr const char* kStoreScript = R"lua(
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 3 do
  local k = (i - 1) * 3
  local id, at = ARGV[k + 2], tonumber(ARGV[k + 4])
  if redis.call('ZADD', KEYS[k + 1], 'NX', 0, id) == 0 then
    out[i] = 0
  else
    redis.call('HSET', KEYS[k + 2], id, ARGV[k + 3])
    local keys_at = tonumber(redis.call('HGET', KEYS[k + 3], '') or '0')
    if keys_at == 0 then
      local ttl = redis.call('PTTL', KEYS[k + 1])
      if ttl > 0 then keys_at = now + ttl end
    end
    if keys_at < at or redis.call('ZCARD', KEYS[k + 1]) == 1 then
      if keys_at > at then at = keys_at end
      redis.call('HSET', KEYS[k + 3], '', at)
      for j = 1, 3 do redis.call('PEXPIREAT', KEYS[k + j], at) end
    end
    out[i] = 1
  end
end
return out
)lua";

// KEYS: inbox, bodies, loads. ARGV: range start ("-" or "(<id hex>"), limit, max loads, now ms.
// Returns {more, {dropped ids}, {expired ids}, {loads, value, loads, value, ...}}.
constexpr const char* kLoadScript = R"lua(
local limit, maxl, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, limit + 1)
local more = 0
if #ids > limit then more = 1 end
local dropped, expired, out = {}, {}, {}
local left = redis.call('ZCARD', KEYS[1])
local function forget(id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  left = left - 1
  if left == 0 then
    redis.call('DEL', KEYS[3])
  else
    redis.call('HDEL', KEYS[3], id)
  end
end
for i = 1, math.min(#ids, limit) do
  local id = ids[i]
  local v = redis.call('HGET', KEYS[2], id)
  local exp = nil
  if v then exp = tonumber(string.match(v, '^(%d+) ')) end
  if not exp or exp <= now then
    forget(id)
    expired[#expired + 1] = id
  else
    local n = redis.call('HINCRBY', KEYS[3], id, 1)
    if n > maxl then
      forget(id)
      dropped[#dropped + 1] = id
    else
      out[#out + 1] = n
      out[#out + 1] = v
    end
  end
end
if #out > 0 then
  redis.call('HSETNX', KEYS[3], '', 0)  -- data stored before the placeholder existed
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
return {more, dropped, expired, out}
)lua";

// One call acks for many users of one group (each user once). KEYS: inbox, bodies, loads of entry
// 1, of entry 2, ... ARGV per entry: the count of its ids, then the ids (hex). Returns per entry
// how many of its ids were stored.
constexpr const char* kAckScript = R"lua(
local out, a = {}, 1
for i = 1, #KEYS / 3 do
  local k = (i - 1) * 3
  local n = tonumber(ARGV[a])
  local ids = {}
  for j = 1, n do ids[j] = ARGV[a + j] end
  a = a + n + 1
  local before = redis.call('ZCARD', KEYS[k + 1])
  local removed = 0
  if before > 0 and n > 0 then removed = redis.call('ZREM', KEYS[k + 1], unpack(ids)) end
  if removed > 0 then
    redis.call('HDEL', KEYS[k + 2], unpack(ids))
    if removed == before then
      redis.call('DEL', KEYS[k + 3])
    else
      redis.call('HDEL', KEYS[k + 3], unpack(ids))
    end
  end
  out[i] = removed
end
return out
)lua";

// Lua's unpack() has a stack limit (~8000): one ack call carries at most this many ids.
constexpr size_t kAckSlice = 1000;
// (message, user) pairs per store call: a script blocks its Redis while it runs (~0.3 ms).
constexpr size_t kStorePairs = 128;
// The keys' expiry is rounded up to this step, so that most stores leave it alone (a user's
// keys outlive their last message by less than a step; Load never returns an expired one).
constexpr int64_t kKeyExpiryStepMs = 60'000;

Status unexpected(const char* what) {
  return Status(Code::INTERNAL, std::string("unexpected Redis reply to ") + what);
}

}  // namespace

// Completions of many commands, reported once: the first error, or the sum.
template <typename Counts>
struct InboxGather {
  size_t outstanding = 0;
  Status first_error;
  Counts counts;
  std::function<void(Result<Counts>)> done;

  void finishOne(const Status& st) {
    if (!st.isOk() && first_error.isOk()) first_error = st;
    if (--outstanding == 0) {
      auto fn = std::move(done);
      if (first_error.isOk()) {
        fn(std::move(counts));
      } else {
        fn(first_error);
      }
    }
  }
};

struct InboxStore::StoreGather : InboxGather<InboxStore::StoreCounts> {};

InboxStore::InboxStore(redis::RedisRouter& redis, Options options, NowMs now_ms)
    : redis_(redis),
      options_(options),
      now_ms_(std::move(now_ms)),
      store_script_(kStoreScript),
      load_script_(kLoadScript),
      ack_script_(kAckScript) {}

int64_t InboxStore::expireMs(const Message& message) const {
  int64_t created = message.created_ms() > 0 ? message.created_ms() : now_ms_();
  int64_t ttl_s = message.ttl_s() > 0 ? message.ttl_s() : options_.default_ttl.count();
  ttl_s = std::min<int64_t>(ttl_s, options_.max_ttl.count());
  return created + ttl_s * 1000;
}

uint32_t InboxStore::clampLimit(uint32_t limit) const {
  if (limit == 0) limit = options_.default_load_limit;
  return std::min(limit, options_.max_load_limit);
}

void InboxStore::runStore(StoreCall call, const std::shared_ptr<StoreGather>& gather) {
  ++gather->outstanding;
  const size_t pairs = call.keys.size() / 3;
  store_script_.runGrouped(redis_, std::move(call.keys), std::move(call.argv),
                           [gather, pairs](Result<redis::Reply> r) {
                             if (r.isOk() && (!r->isArray() || r->elements.size() != pairs))
                               r = unexpected("store");
                             if (r.isOk()) {
                               for (const redis::Reply& one : r->elements) {
                                 if (one.isInteger() && one.integer == 1) {
                                   ++gather->counts.stored;
                                 } else {
                                   ++gather->counts.duplicates;
                                 }
                               }
                             }
                             gather->finishOne(r.status());
                           });
}

std::string InboxStore::groupOf(const std::string& inbox_key) const {
  // On a Cluster a call holds one user: users sharing a slot would make the call fail TRYAGAIN
  // for the whole migration of that slot as soon as some of them moved (and few users share a
  // slot anyway). Elsewhere a node's users go together.
  if (redis_.mode() == redis::RedisRouter::Mode::Cluster)
    return std::string(redis::hashTag(inbox_key));
  return std::to_string(redis_.placementOf(inbox_key));
}

void InboxStore::addPair(StoreCalls& calls, const std::string& app, const std::string& user,
                         const std::string& id_hex, const std::string& value,
                         const std::string& keys_at, const std::string& now,
                         const std::shared_ptr<StoreGather>& gather) {
  UserKeys keys = userKeys(app, user);
  StoreCall& call = calls[groupOf(keys.inbox)];
  if (call.argv.empty()) call.argv.push_back(now);
  call.keys.push_back(std::move(keys.inbox));
  call.keys.push_back(std::move(keys.bodies));
  call.keys.push_back(std::move(keys.loads));
  call.argv.push_back(id_hex);
  call.argv.push_back(value);
  call.argv.push_back(keys_at);
  if (call.keys.size() / 3 >= kStorePairs) {
    runStore(std::move(call), gather);
    call = StoreCall();
  }
}

std::string InboxStore::keysExpireAt(int64_t expire_ms) {
  return std::to_string((expire_ms + kKeyExpiryStepMs - 1) / kKeyExpiryStepMs * kKeyExpiryStepMs);
}

void InboxStore::store(const StoreRequest& request, std::function<void(Result<StoreCounts>)> done) {
  auto gather = std::make_shared<StoreGather>();
  gather->done = std::move(done);
  gather->outstanding = 1;  // released below, once every call is made
  StoreCalls calls;
  const int64_t now = now_ms_();
  const std::string now_text = std::to_string(now);
  for (const StoreItem& item : request.items()) {
    const Message& m = item.message();
    const int64_t expire_ms = expireMs(m);
    if (expire_ms <= now) {
      gather->counts.expired += static_cast<uint32_t>(item.users_size());
      continue;
    }
    const std::string id_hex = idHex(m.id());
    const std::string value = std::to_string(expire_ms) + " " + m.SerializeAsString();
    const std::string keys_at = keysExpireAt(expire_ms);
    for (const std::string& user : item.users())
      addPair(calls, m.app(), user, id_hex, value, keys_at, now_text, gather);
  }
  for (auto& [group, call] : calls) {
    if (!call.keys.empty()) runStore(std::move(call), gather);
  }
  gather->finishOne(Status::ok());
}

void InboxStore::restore(const std::string& app, const std::string& user, uint64_t id,
                         int64_t expire_ms, const std::string& message_bytes,
                         std::function<void(Status)> done) {
  const int64_t now = now_ms_();
  if (expire_ms <= now) return done(Status::ok());
  auto gather = std::make_shared<StoreGather>();
  gather->done = [done = std::move(done)](Result<StoreCounts> r) { done(r.status()); };
  gather->outstanding = 1;
  StoreCalls calls;
  addPair(calls, app, user, idHex(id), std::to_string(expire_ms) + " " + message_bytes,
          keysExpireAt(expire_ms), std::to_string(now), gather);
  for (auto& [group, call] : calls)
    runStore(std::move(call), gather);
  gather->finishOne(Status::ok());
}

void InboxStore::load(const LoadRequest& request, std::function<void(Result<Loaded>)> done) {
  UserKeys keys = userKeys(request.app(), request.user());
  const uint32_t limit = clampLimit(request.limit());
  std::string start = request.after_id() == 0 ? "-" : "(" + idHex(request.after_id());
  load_script_.run(
      redis_, {std::move(keys.inbox), std::move(keys.bodies), std::move(keys.loads)},
      {std::move(start), std::to_string(limit), std::to_string(options_.max_loads),
       std::to_string(now_ms_())},
      [done = std::move(done)](Result<redis::Reply> r) {
        if (!r.isOk()) return done(r.status());
        const redis::Reply& reply = *r;
        if (!reply.isArray() || reply.elements.size() != 4 || !reply.elements[0].isInteger() ||
            !reply.elements[1].isArray() || !reply.elements[2].isArray() ||
            !reply.elements[3].isArray() || reply.elements[3].elements.size() % 2 != 0) {
          return done(unexpected("load"));
        }
        Loaded loaded;
        loaded.response.set_more(reply.elements[0].integer != 0);
        for (int part = 1; part <= 2; ++part) {
          for (const redis::Reply& id : reply.elements[static_cast<size_t>(part)].elements) {
            uint64_t value = 0;
            if (id.isString() && parseIdHex(id.str, &value)) loaded.removed.push_back(value);
          }
        }
        loaded.response.set_dropped(static_cast<uint32_t>(reply.elements[1].elements.size()));
        loaded.response.set_expired(static_cast<uint32_t>(reply.elements[2].elements.size()));
        const auto& out = reply.elements[3].elements;
        for (size_t i = 0; i + 1 < out.size(); i += 2) {
          int64_t expire_ms = 0;
          std::string_view bytes;
          if (!out[i].isInteger() || !out[i + 1].isString() ||
              !splitExpiry(out[i + 1].str, &expire_ms, &bytes)) {
            return done(unexpected("load"));
          }
          StoredMessage* m = loaded.response.add_messages();
          if (!m->mutable_message()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
            return done(Status(Code::INTERNAL, "a stored message does not parse"));
          }
          m->set_loads(static_cast<uint32_t>(out[i].integer));
        }
        done(std::move(loaded));
      });
}

void InboxStore::ack(const AckRequest& request, std::function<void(Result<uint32_t>)> done) {
  auto gather = std::make_shared<InboxGather<uint32_t>>();
  gather->done = std::move(done);
  gather->counts = 0;
  gather->outstanding = 1;
  struct AckCall {
    std::vector<std::string> keys, argv;
    size_t ids = 0, entries = 0;
  };
  auto run = [this, gather](AckCall& call) {
    ++gather->outstanding;
    const size_t entries = call.entries;
    ack_script_.runGrouped(redis_, std::move(call.keys), std::move(call.argv),
                           [gather, entries](Result<redis::Reply> r) {
                             if (r.isOk() && (!r->isArray() || r->elements.size() != entries)) {
                               r = unexpected("ack");
                             }
                             if (r.isOk()) {
                               for (const redis::Reply& one : r->elements) {
                                 if (one.isInteger()) {
                                   gather->counts += static_cast<uint32_t>(one.integer);
                                 }
                               }
                             }
                             gather->finishOne(r.status());
                           });
    call = AckCall();
  };
  // Each user once (a request may name a user in several items): an entry that empties a
  // user's keys must not be followed by another entry on them in the same call.
  struct UserAcks {
    UserKeys keys;
    std::vector<std::string> ids;
  };
  std::vector<UserAcks> users;
  std::unordered_map<std::string, size_t> user_index;  // by inbox key
  for (const AckItem& item : request.items()) {
    if (item.message_ids_size() == 0) continue;
    UserKeys keys = userKeys(item.app(), item.user());
    auto [it, inserted] = user_index.emplace(keys.inbox, users.size());
    if (inserted) users.push_back(UserAcks{std::move(keys), {}});
    std::vector<std::string>& ids = users[it->second].ids;
    for (uint64_t id : item.message_ids())
      ids.push_back(idHex(id));
  }
  std::unordered_map<std::string, AckCall> calls;  // by group
  for (UserAcks& user : users) {
    const std::string group = groupOf(user.keys.inbox);
    const size_t total = user.ids.size();
    for (size_t begin = 0; begin < total;) {
      // An entry takes what fits in the call; a user with more ids than that spans calls.
      AckCall& call = calls[group];
      const size_t end = std::min(total, begin + (kAckSlice - call.ids));
      call.keys.push_back(user.keys.inbox);
      call.keys.push_back(user.keys.bodies);
      call.keys.push_back(user.keys.loads);
      call.argv.push_back(std::to_string(end - begin));
      for (size_t i = begin; i < end; ++i)
        call.argv.push_back(std::move(user.ids[i]));
      call.ids += end - begin;
      ++call.entries;
      begin = end;
      if (call.ids >= kAckSlice) run(call);
    }
  }
  for (auto& [group, call] : calls) {
    if (call.entries > 0) run(call);
  }
  gather->finishOne(Status::ok());
}

}  // namespace push::saver
