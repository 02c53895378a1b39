#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace push::rpc {

// One server a channel may send to.
struct Endpoint {
  std::string address;  // "host:port"
  // Relative share of calls for weighted policies (1..1000); ignored by round robin and
  // random. Consistent hash gives an endpoint `weight` times the virtual nodes.
  uint32_t weight = 1;
};

// Chooses the endpoint of each call. Strategies live in common/rpc/lb/. Not thread-safe: a
// channel uses its balancer from its loop thread only.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;

  // Replaces the endpoint set; indexes passed to and returned by select() refer to it.
  // Strategies keep what they can across calls (consistent hash rebuilds its ring, so only
  // keys of added or removed endpoints move).
  virtual void setEndpoints(const std::vector<Endpoint>& endpoints) = 0;

  // Index of the endpoint for the next call, considering only those with usable[i] true
  // (usable.size() == number of endpoints); -1 when none is usable. `key` is the call's
  // hash key (Controller::setHashKey); only consistent hash uses it.
  virtual int select(uint64_t key, const std::vector<bool>& usable) = 0;

  // "round_robin", "weighted_round_robin", "random" or "consistent_hash".
  virtual std::string_view name() const = 0;

  // Builds a strategy by name; "" means round_robin. INVALID_ARGUMENT for unknown names.
  static Result<std::unique_ptr<LoadBalancer>> create(std::string_view name);
};

}  // namespace push::rpc
