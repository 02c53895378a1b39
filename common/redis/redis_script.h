#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/redis/redis_client.h"

namespace push::redis {

class RedisRouter;

// A Lua script, run by its SHA1 so its source crosses the wire only when a node lacks it:
//
//   static const RedisScript kPop(R"(return redis.call('LPOP', KEYS[1]))");
//   kPop.run(router, {"inbox:{u42}"}, {}, [](Result<Reply> r) { ... });
//
// run() sends EVALSHA; a node that answers NOSCRIPT (it restarted, flushed its script cache,
// or is a cluster node that never ran it) gets the same call as EVAL, which also caches the
// script there, so the next EVALSHA finds it. The SHA1 is computed once, in the constructor
// (OpenSSL).
//
// Every key of a call must have the same hash tag (common/redis/key_slot.h): a script runs on
// one node, and only keys sharing a tag are guaranteed to live on one node in every mode of
// RedisRouter. The call is routed by keys[0] (by "" when there are no keys).
//
// Completion: as RedisRouter::command; keys with different tags fail INVALID_ARGUMENT inside
// the call. A script error is FAILED_PRECONDITION with Redis's text. Immutable once built:
// one object may serve any number of concurrent calls (each call keeps the source alive).
// Loop-thread only (the router is).
class RedisScript {
 public:
  explicit RedisScript(std::string source);

  // 40 lowercase hex digits, as SCRIPT LOAD returns.
  const std::string& sha1() const { return sha1_; }
  const std::string& source() const { return *source_; }

  void run(RedisRouter& redis, std::vector<std::string> keys, std::vector<std::string> argv,
           RedisClient::Done done) const;

  // As run(), for keys of several hash tags that the caller grouped by
  // RedisRouter::placementOf (one call for many users' keys on one node: one script call
  // instead of one per user). Keys of different placements fail INVALID_ARGUMENT inside the
  // call. Such a call only runs where the router put it: in Cluster mode its keys share a slot.
  void runGrouped(RedisRouter& redis, std::vector<std::string> keys, std::vector<std::string> argv,
                  RedisClient::Done done) const;

 private:
  void send(RedisRouter& redis, std::vector<std::string> keys, std::vector<std::string> argv,
            RedisClient::Done done) const;

  std::shared_ptr<const std::string> source_;
  std::string sha1_;
};

}  // namespace push::redis
