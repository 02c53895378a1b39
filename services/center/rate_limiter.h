#pragma once

#include <cstdint>

namespace push::center {

// A token bucket: `rate` tokens per second, at most `burst` banked. Time is passed in
// (milliseconds, any monotonic origin) so tests need no clock. Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst);
  // Takes `n` tokens if there are as many (n > burst() never succeeds).
  bool tryTake(int64_t now_ms, double n = 1.0);
  // Milliseconds until `n` tokens are available (0 when they are).
  int64_t waitMs(int64_t now_ms, double n = 1.0);
  // True when the bucket has refilled to its burst: it then behaves exactly like a new one,
  // so a table of buckets may forget it.
  bool full(int64_t now_ms);
  // New rate and burst (an app's limits edited live). The tokens banked so far are kept, cut
  // to the new burst: lowering a limit never hands out a fresh burst, raising it adds tokens
  // only as they refill.
  void reconfigure(double rate_per_s, double burst, int64_t now_ms);
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void refill(int64_t now_ms);
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ms_ = -1;
};

}  // namespace push::center
