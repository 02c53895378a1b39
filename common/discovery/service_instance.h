#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace push::discovery {

// One registered instance of a service: the data of its ephemeral node
// `services/<svc>/<id>` (DESIGN.md §7), as JSON:
//
//   {"endpoints":{"rpc":"127.0.0.1:5000","tcp":"127.0.0.1:7000"},"region":"r1",
//    "weight":100,"load":0.25}
//
// Unknown members are ignored when reading (a newer writer may add some).
struct ServiceInstance {
  // The node's name (not in the JSON). Unique within the service.
  std::string id;
  // Endpoint name ("rpc", "tcp", "ws", "admin", ...) -> "host:port".
  std::map<std::string, std::string> endpoints;
  std::string region;
  // Relative weight for load balancers. Default: 100.
  uint32_t weight = 100;
  // Current load, as the instance reports it (0 idle; services define the scale, e.g. a
  // fraction of capacity). Refreshed every ServiceRegistry::Options::refresh_interval.
  double load = 0;

  bool operator==(const ServiceInstance& other) const = default;
};

// The node data of `instance` (its id is the node name, not written).
std::string encodeInstance(const ServiceInstance& instance);
// Parses node data into an instance named `id`. INVALID_ARGUMENT (with the reason) for data
// that is not such a JSON object: empty, malformed, or a member of the wrong type.
Result<ServiceInstance> decodeInstance(std::string_view id, std::string_view data);

}  // namespace push::discovery
