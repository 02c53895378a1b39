#include "services/saver/inbox_store.h"

#include <algorithm>
#include <memory>
#include <utility>

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
// KEYS: inbox, bodies, loads. ARGV: id hex, value, expire ms, now ms. 1: stored, 0: already
// there. The keys' expiry only ever moves out, to the latest message's.
constexpr const char* kStoreScript = R"lua(
if redis.call('ZADD', KEYS[1], 'NX', 0, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[3], '', 0)
local at, now = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, 3 do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 or now + ttl < at then redis.call('PEXPIRE', KEYS[i], at - now) end
end
return 1
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

// KEYS: inbox, bodies, loads. ARGV: id hex... Returns how many were stored.
constexpr const char* kAckScript = R"lua(
local before = redis.call('ZCARD', KEYS[1])
local n = redis.call('ZREM', KEYS[1], unpack(ARGV))
if n == 0 then return 0 end
redis.call('HDEL', KEYS[2], unpack(ARGV))
if n == before then
  redis.call('DEL', KEYS[3])
else
  redis.call('HDEL', KEYS[3], unpack(ARGV))
end
return n
)lua";

// Lua's unpack() has a stack limit (~8000): acks go in slices.
constexpr size_t kAckSlice = 1000;

// Completions of many commands, reported once: the first error, or the sum.
template <typename Counts>
struct Gather {
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

Status unexpected(const char* what) {
  return Status(Code::INTERNAL, std::string("unexpected Redis reply to ") + what);
}

}  // namespace

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

void InboxStore::storeOne(const std::string& app, const std::string& user,
                          const std::string& id_hex, int64_t expire_ms, const std::string& value,
                          std::function<void(Result<int64_t>)> done) {
  UserKeys keys = userKeys(app, user);
  store_script_.run(redis_, {std::move(keys.inbox), std::move(keys.bodies), std::move(keys.loads)},
                    {id_hex, value, std::to_string(expire_ms), std::to_string(now_ms_())},
                    [done = std::move(done)](Result<redis::Reply> r) {
                      if (!r.isOk()) return done(r.status());
                      if (!r->isInteger()) return done(unexpected("store"));
                      done(r->integer);
                    });
}

void InboxStore::store(const StoreRequest& request, std::function<void(Result<StoreCounts>)> done) {
  auto gather = std::make_shared<Gather<StoreCounts>>();
  gather->done = std::move(done);
  gather->outstanding = 1;  // released below, once every command is made
  const int64_t now = now_ms_();
  for (const StoreItem& item : request.items()) {
    const Message& m = item.message();
    const int64_t expire_ms = expireMs(m);
    if (expire_ms <= now) {
      gather->counts.expired += static_cast<uint32_t>(item.users_size());
      continue;
    }
    const std::string id_hex = idHex(m.id());
    const std::string value = std::to_string(expire_ms) + " " + m.SerializeAsString();
    for (const std::string& user : item.users()) {
      ++gather->outstanding;
      storeOne(m.app(), user, id_hex, expire_ms, value, [gather](Result<int64_t> r) {
        if (r.isOk()) {
          if (*r == 1) {
            ++gather->counts.stored;
          } else {
            ++gather->counts.duplicates;
          }
        }
        gather->finishOne(r.status());
      });
    }
  }
  gather->finishOne(Status::ok());
}

void InboxStore::restore(const std::string& app, const std::string& user, uint64_t id,
                         int64_t expire_ms, const std::string& message_bytes,
                         std::function<void(Status)> done) {
  if (expire_ms <= now_ms_()) return done(Status::ok());
  storeOne(app, user, idHex(id), expire_ms, std::to_string(expire_ms) + " " + message_bytes,
           [done = std::move(done)](Result<int64_t> r) { done(r.status()); });
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

void InboxStore::ack(const AckItem& item, std::function<void(Result<uint32_t>)> done) {
  auto gather = std::make_shared<Gather<uint32_t>>();
  gather->done = std::move(done);
  gather->counts = 0;
  gather->outstanding = 1;
  const auto& ids = item.message_ids();
  for (int begin = 0; begin < ids.size(); begin += static_cast<int>(kAckSlice)) {
    const int end = std::min(ids.size(), begin + static_cast<int>(kAckSlice));
    std::vector<std::string> argv;
    argv.reserve(static_cast<size_t>(end - begin));
    for (int i = begin; i < end; ++i)
      argv.push_back(idHex(ids[i]));
    UserKeys keys = userKeys(item.app(), item.user());
    ++gather->outstanding;
    ack_script_.run(redis_, {std::move(keys.inbox), std::move(keys.bodies), std::move(keys.loads)},
                    std::move(argv), [gather](Result<redis::Reply> r) {
                      if (r.isOk() && r->isInteger()) {
                        gather->counts += static_cast<uint32_t>(r->integer);
                        gather->finishOne(Status::ok());
                      } else {
                        gather->finishOne(r.isOk() ? unexpected("ack") : r.status());
                      }
                    });
  }
  gather->finishOne(Status::ok());
}

}  // namespace push::saver
