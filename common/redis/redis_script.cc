#include "common/redis/redis_script.h"

#include <openssl/sha.h>

#include "common/redis/key_slot.h"
#include "common/redis/redis_router.h"

namespace push::redis {

namespace {

std::string sha1Hex(const std::string& data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

}  // namespace

RedisScript::RedisScript(std::string source)
    : source_(std::make_shared<const std::string>(std::move(source))), sha1_(sha1Hex(*source_)) {}

void RedisScript::run(RedisRouter& redis, std::vector<std::string> keys,
                      std::vector<std::string> argv, RedisClient::Done done) const {
  const std::string_view tag = keys.empty() ? std::string_view() : hashTag(keys[0]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (hashTag(keys[i]) != tag) {
      return done(invalidArgument("redis script: keys '" + keys[0] + "' and '" + keys[i] +
                                  "' have different hash tags (they may live on two nodes)"));
    }
  }
  send(redis, std::move(keys), std::move(argv), std::move(done));
}

void RedisScript::runGrouped(RedisRouter& redis, std::vector<std::string> keys,
                             std::vector<std::string> argv, RedisClient::Done done) const {
  if (!keys.empty()) {
    const uint32_t placement = redis.placementOf(keys[0]);
    for (size_t i = 1; i < keys.size(); ++i) {
      if (redis.placementOf(keys[i]) != placement) {
        return done(invalidArgument("redis script: keys '" + keys[0] + "' and '" + keys[i] +
                                    "' are placed on different nodes"));
      }
    }
  }
  send(redis, std::move(keys), std::move(argv), std::move(done));
}

void RedisScript::send(RedisRouter& redis, std::vector<std::string> keys,
                       std::vector<std::string> argv, RedisClient::Done done) const {
  std::string route = keys.empty() ? std::string() : keys[0];
  // EVALSHA <sha1> <numkeys> <keys...> <argv...>; args[1] becomes the source for EVAL.
  std::vector<std::string> args;
  args.reserve(3 + keys.size() + argv.size());
  args.emplace_back("EVALSHA");
  args.push_back(sha1_);
  args.push_back(std::to_string(keys.size()));
  for (std::string& k : keys)
    args.push_back(std::move(k));
  for (std::string& a : argv)
    args.push_back(std::move(a));
  // The fallback keeps its own copy of the arguments: the first call consumes `args`.
  std::vector<std::string> eval_args = args;
  eval_args[0] = "EVAL";
  redis.command(route, std::move(args),
                [&redis, route, source = source_, eval_args = std::move(eval_args),
                 done = std::move(done)](Result<Reply> r) mutable {
                  if (r.isOk() || r.status().code() != Code::FAILED_PRECONDITION ||
                      r.status().message().rfind("NOSCRIPT", 0) != 0) {
                    return done(std::move(r));
                  }
                  // The router is alive: a destroyed one completes CANCELLED, not NOSCRIPT.
                  eval_args[1] = *source;
                  redis.command(route, std::move(eval_args), std::move(done));
                });
}

}  // namespace push::redis
