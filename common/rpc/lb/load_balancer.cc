// LoadBalancer::create() lives with the strategies so that common/rpc/load_balancer.h stays
// an interface and only this library knows the concrete classes.
#include "common/rpc/load_balancer.h"

#include <string>

#include "common/rpc/lb/consistent_hash.h"
#include "common/rpc/lb/random.h"
#include "common/rpc/lb/round_robin.h"
#include "common/rpc/lb/weighted_round_robin.h"

namespace push::rpc {

Result<std::unique_ptr<LoadBalancer>> LoadBalancer::create(std::string_view name) {
  if (name.empty() || name == "round_robin") {
    return std::unique_ptr<LoadBalancer>(std::make_unique<RoundRobinLoadBalancer>());
  }
  if (name == "weighted_round_robin") {
    return std::unique_ptr<LoadBalancer>(std::make_unique<WeightedRoundRobinLoadBalancer>());
  }
  if (name == "random") {
    return std::unique_ptr<LoadBalancer>(std::make_unique<RandomLoadBalancer>());
  }
  if (name == "consistent_hash") {
    return std::unique_ptr<LoadBalancer>(std::make_unique<ConsistentHashLoadBalancer>());
  }
  return invalidArgument("unknown load balancer \"" + std::string(name) +
                         "\"; valid: round_robin (default), weighted_round_robin, random, "
                         "consistent_hash");
}

}  // namespace push::rpc
