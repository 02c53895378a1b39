#include "services/center/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace push::center {

TokenBucket::TokenBucket(double rate_per_s, double burst)
    : rate_(std::max(rate_per_s, 0.001)), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

void TokenBucket::refill(int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
  }
  if (last_ms_ < 0 || now_ms > last_ms_) last_ms_ = now_ms;
}

bool TokenBucket::tryTake(int64_t now_ms, double n) {
  refill(now_ms);
  if (tokens_ < n) return false;
  tokens_ -= n;
  return true;
}

int64_t TokenBucket::waitMs(int64_t now_ms, double n) {
  refill(now_ms);
  if (tokens_ >= n) return 0;
  return static_cast<int64_t>(std::ceil((n - tokens_) * 1000.0 / rate_));
}

void TokenBucket::reconfigure(double rate_per_s, double burst, int64_t now_ms) {
  refill(now_ms);  // what was earned at the old rate is kept
  rate_ = std::max(rate_per_s, 0.001);
  burst_ = std::max(burst, 1.0);
  tokens_ = std::min(tokens_, burst_);
}

bool TokenBucket::full(int64_t now_ms) {
  refill(now_ms);
  return tokens_ >= burst_;
}

}  // namespace push::center
