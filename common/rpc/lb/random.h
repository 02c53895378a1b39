#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "common/rpc/load_balancer.h"

namespace push::rpc {

// Uniform choice among the usable endpoints; weights are ignored. O(n) per pick.
// Not thread-safe (see LoadBalancer).
class RandomLoadBalancer : public LoadBalancer {
 public:
  // Seeded from std::random_device.
  RandomLoadBalancer();
  // Deterministic sequence for tests.
  explicit RandomLoadBalancer(uint64_t seed);

  void setEndpoints(const std::vector<Endpoint>& endpoints) override;
  int select(uint64_t key, const std::vector<bool>& usable) override;
  std::string_view name() const override { return "random"; }

 private:
  std::mt19937_64 rng_;
  size_t count_ = 0;
};

}  // namespace push::rpc
