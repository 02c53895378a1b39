#include "services/center/auth_failure_limiter.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/net/inet_address.h"

namespace push::center {

namespace {
// Refilled buckets are forgotten this often (amortized over the calls).
constexpr int64_t kSweepEveryMs = 5000;
// A full table sweeps early, at most this often (a sweep walks the whole table).
constexpr int64_t kForcedSweepEveryMs = 1000;
}  // namespace

AuthFailureLimiter::Client AuthFailureLimiter::clientOf(const net::InetAddress& peer) {
  Client c;
  const sockaddr* sa = peer.sockaddrPtr();
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    c.family = AF_INET;
    c.prefix = ntohl(in->sin_addr.s_addr);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const unsigned char* b = in6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      c.family = AF_INET;
      c.prefix = (uint64_t{b[12]} << 24) | (uint64_t{b[13]} << 16) | (uint64_t{b[14]} << 8) | b[15];
    } else {
      c.family = AF_INET6;
      std::memcpy(&c.prefix, b, sizeof c.prefix);
    }
  }
  return c;
}

size_t AuthFailureLimiter::ClientHash::operator()(const Client& c) const {
  uint64_t x = c.prefix ^ (uint64_t{c.family} << 56);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return static_cast<size_t>(x);
}

AuthFailureLimiter::AuthFailureLimiter(Options options)
    : options_(options), overflow_(options.rate_per_s, options.burst) {
  if (options_.max_clients == 0) options_.max_clients = 1;
}

void AuthFailureLimiter::sweep(int64_t now_ms, bool force) {
  if (!swept_once_) {
    swept_once_ = true;
    next_sweep_ms_ = now_ms + kSweepEveryMs;
    last_forced_sweep_ms_ = now_ms - kForcedSweepEveryMs;
  }
  if (force ? now_ms - last_forced_sweep_ms_ < kForcedSweepEveryMs : now_ms < next_sweep_ms_) {
    return;
  }
  if (force) last_forced_sweep_ms_ = now_ms;
  next_sweep_ms_ = now_ms + kSweepEveryMs;
  for (auto it = clients_.begin(); it != clients_.end();) {
    it = it->second.full(now_ms) ? clients_.erase(it) : std::next(it);
  }
}

TokenBucket* AuthFailureLimiter::bucketOf(const Client& client, int64_t now_ms) {
  sweep(now_ms, false);
  if (auto it = clients_.find(client); it != clients_.end()) return &it->second;
  if (clients_.size() >= options_.max_clients) return &overflow_;
  return nullptr;
}

int64_t AuthFailureLimiter::retryAfterMs(const Client& client, int64_t now_ms) {
  TokenBucket* bucket = bucketOf(client, now_ms);
  return bucket ? bucket->waitMs(now_ms) : 0;
}

void AuthFailureLimiter::recordFailure(const Client& client, int64_t now_ms) {
  TokenBucket* bucket = bucketOf(client, now_ms);
  if (bucket == &overflow_) {
    sweep(now_ms, true);
    bucket = bucketOf(client, now_ms);
  }
  if (!bucket) {
    bucket =
        &clients_.emplace(client, TokenBucket(options_.rate_per_s, options_.burst)).first->second;
  }
  (void)bucket->tryTake(now_ms);
}

}  // namespace push::center
