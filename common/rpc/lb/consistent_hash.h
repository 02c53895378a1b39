#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/rpc/load_balancer.h"

namespace push::rpc {

// Consistent hashing on a ring of virtual nodes (Karger et al.; the ketama layout).
//
// Endpoint e owns `replicas_per_weight * e.weight` points; point i of e sits at
// push::hash64(e.address + "#" + i). A call with hash key k goes to the owner of the first
// point at or after push::mix64(k), wrapping past the end. Points of unusable endpoints are
// walked past, so while an endpoint is down its keys spread over the endpoints that follow
// its points, and they come back when it is usable again.
//
// Positions depend only on addresses and weights, never on the order of the endpoint list,
// so when one endpoint joins a set of N only about 1/(N+1) of keys move (all to the new one),
// and when one leaves only its own keys move.
//
// select() is O(log P) for P ring points (plus the walk over unusable owners);
// setEndpoints() is O(P log P). Not thread-safe (see LoadBalancer).
class ConsistentHashLoadBalancer : public LoadBalancer {
 public:
  // Virtual nodes per unit of weight. 160 keeps the load of 10 equal endpoints within about
  // +-15% of the mean; more points smooth further at the cost of memory (16 B per point) and
  // rebuild time.
  static constexpr uint32_t kDefaultReplicasPerWeight = 160;

  // replicas_per_weight: virtual nodes per unit of weight; 0 is treated as 1.
  explicit ConsistentHashLoadBalancer(uint32_t replicas_per_weight = kDefaultReplicasPerWeight);

  // Rebuilds the ring. Endpoint weights are clamped to 1..1000.
  void setEndpoints(const std::vector<Endpoint>& endpoints) override;
  int select(uint64_t key, const std::vector<bool>& usable) override;
  std::string_view name() const override { return "consistent_hash"; }

  size_t ringSizeForTest() const { return ring_.size(); }

 private:
  struct Point {
    uint64_t position;
    uint32_t endpoint;  // index into the current endpoint list
  };

  uint32_t replicas_per_weight_;
  size_t count_ = 0;
  std::vector<Point> ring_;  // sorted by position
};

}  // namespace push::rpc
