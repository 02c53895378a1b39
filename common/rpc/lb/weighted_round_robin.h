#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/rpc/load_balancer.h"

namespace push::rpc {

// Smooth weighted round robin, the algorithm of nginx's ngx_http_upstream_get_peer(): on each
// pick every usable endpoint adds its weight to its current weight, the endpoint with the
// highest current weight wins (lowest index on ties) and has the total usable weight
// subtracted. Weights 5,1,1 give a a b a c a a, so heavy endpoints are interleaved, not
// bursted. Unusable endpoints neither gain nor lose current weight while skipped.
// O(n) per pick. Not thread-safe (see LoadBalancer).
class WeightedRoundRobinLoadBalancer : public LoadBalancer {
 public:
  // Endpoint weights are clamped to 1..1000. Current weights of addresses present both before
  // and after the call are kept, so a refresh with the same set does not reset the sequence.
  void setEndpoints(const std::vector<Endpoint>& endpoints) override;
  int select(uint64_t key, const std::vector<bool>& usable) override;
  std::string_view name() const override { return "weighted_round_robin"; }

 private:
  struct Peer {
    std::string address;
    int64_t weight = 1;
    int64_t current = 0;
  };
  std::vector<Peer> peers_;
};

}  // namespace push::rpc
