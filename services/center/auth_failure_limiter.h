#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "services/center/rate_limiter.h"

namespace push::net {
class InetAddress;
}

namespace push::center {

// Failed API-key checks per client, so a client cannot try keys at full speed.
//
// A client is an IPv4 address or an IPv6 /64 prefix (one host usually owns a whole /64;
// IPv4-mapped IPv6 counts as IPv4). Each client has a token bucket of `burst` failures that
// refills at `rate_per_s`; every failed check takes a token, and a client with none left is
// refused (CenterServer answers 429 with Retry-After before looking at its key at all, so
// even a right key waits).
//
// Bounded: at most `max_clients` buckets. Buckets that have refilled are forgotten (a full
// bucket is the same as none) by a sweep at most every few seconds, amortized over the calls
// (no timer). When the table is full after a sweep, every client not in it shares one
// overflow bucket: under a failing flood from more addresses than that, new clients are
// throttled together instead of growing memory.
//
// Time is passed in (milliseconds, any monotonic origin). Not thread-safe.
class AuthFailureLimiter {
 public:
  struct Options {
    // Failures forgiven per second. Default: 1.
    double rate_per_s = 1;
    // Failures in a row before a client is refused. Default: 20.
    double burst = 20;
    // Clients tracked at once. Default: 65536.
    size_t max_clients = 65536;
  };

  // What identifies a client: an IPv4 address, or the first 8 bytes of an IPv6 address.
  struct Client {
    uint64_t prefix = 0;
    uint8_t family = 0;  // AF_INET or AF_INET6; 0 when unknown
    bool operator==(const Client&) const = default;
  };
  static Client clientOf(const net::InetAddress& peer);

  explicit AuthFailureLimiter(Options options);

  // 0 when `client` may have its key checked now; else milliseconds until it may (> 0).
  int64_t retryAfterMs(const Client& client, int64_t now_ms);
  // Counts one failed check of `client`.
  void recordFailure(const Client& client, int64_t now_ms);
  // Clients with a bucket now (the overflow bucket not included).
  size_t trackedClients() const { return clients_.size(); }

 private:
  struct ClientHash {
    size_t operator()(const Client& c) const;
  };
  // Forgets refilled buckets when due (or `force`d, at most once a second).
  void sweep(int64_t now_ms, bool force);
  // The client's bucket, or the overflow one when it has none and the table is full; null
  // when it has none and there is room (such a client has failed nothing lately).
  TokenBucket* bucketOf(const Client& client, int64_t now_ms);

  Options options_;
  std::unordered_map<Client, TokenBucket, ClientHash> clients_;
  TokenBucket overflow_;
  int64_t next_sweep_ms_ = 0;
  int64_t last_forced_sweep_ms_ = 0;
  bool swept_once_ = false;
};

}  // namespace push::center
