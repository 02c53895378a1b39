#include "common/rpc/lb/random.h"

#include <algorithm>

namespace push::rpc {

RandomLoadBalancer::RandomLoadBalancer() : rng_(std::random_device{}()) {}

RandomLoadBalancer::RandomLoadBalancer(uint64_t seed) : rng_(seed) {}

void RandomLoadBalancer::setEndpoints(const std::vector<Endpoint>& endpoints) {
  count_ = endpoints.size();
}

int RandomLoadBalancer::select(uint64_t /*key*/, const std::vector<bool>& usable) {
  const size_t n = std::min(count_, usable.size());
  size_t usable_count = 0;
  for (size_t i = 0; i < n; ++i)
    usable_count += usable[i] ? 1 : 0;
  if (usable_count == 0) return -1;

  // Pick the k-th usable endpoint, k uniform in [0, usable_count).
  size_t k = std::uniform_int_distribution<size_t>(0, usable_count - 1)(rng_);
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    if (k == 0) return static_cast<int>(i);
    --k;
  }
  return -1;  // unreachable
}

}  // namespace push::rpc
