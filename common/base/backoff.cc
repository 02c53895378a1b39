#include "common/base/backoff.h"

#include <algorithm>

namespace push {

Backoff::Backoff(Options options, uint64_t seed) : options_(options) {
  options_.initial = std::max(options_.initial, std::chrono::milliseconds(1));
  options_.max = std::max(options_.max, options_.initial);
  options_.jitter = std::clamp(options_.jitter, 0.0, 0.99);
  if (seed == 0) {
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           std::random_device{}();
  }
  rng_.seed(seed);
}

std::chrono::milliseconds Backoff::next() {
  // initial * 2^attempts, computed without overflow: stop doubling once over the cap.
  int64_t base = options_.initial.count();
  for (uint32_t i = 0; i < attempts_ && base < options_.max.count(); ++i)
    base *= 2;
  base = std::min(base, options_.max.count());
  ++attempts_;
  std::uniform_real_distribution<double> spread(1.0 - options_.jitter, 1.0 + options_.jitter);
  const auto jittered = static_cast<int64_t>(static_cast<double>(base) * spread(rng_));
  return std::chrono::milliseconds(std::max<int64_t>(jittered, 1));
}

}  // namespace push
