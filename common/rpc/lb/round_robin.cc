#include "common/rpc/lb/round_robin.h"

namespace push::rpc {

void RoundRobinLoadBalancer::setEndpoints(const std::vector<Endpoint>& endpoints) {
  count_ = endpoints.size();
  next_ = count_ == 0 ? 0 : next_ % count_;
}

int RoundRobinLoadBalancer::select(uint64_t /*key*/, const std::vector<bool>& usable) {
  const size_t n = count_ < usable.size() ? count_ : usable.size();
  if (n == 0) return -1;
  for (size_t step = 0; step < n; ++step) {
    const size_t i = (next_ + step) % n;
    if (usable[i]) {
      next_ = (i + 1) % n;
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace push::rpc
