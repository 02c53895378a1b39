#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/rpc/load_balancer.h"

namespace push::rpc {

// Plain round robin: each select() returns the next usable endpoint after the one it returned
// last, wrapping around. Weights are ignored. O(n) worst case per pick when most endpoints are
// unusable, O(1) otherwise. Not thread-safe (see LoadBalancer).
class RoundRobinLoadBalancer : public LoadBalancer {
 public:
  // Keeps the cursor position (modulo the new size) so a refresh does not restart at 0.
  void setEndpoints(const std::vector<Endpoint>& endpoints) override;
  int select(uint64_t key, const std::vector<bool>& usable) override;
  std::string_view name() const override { return "round_robin"; }

 private:
  size_t count_ = 0;
  size_t next_ = 0;  // first index examined by the next select()
};

}  // namespace push::rpc
