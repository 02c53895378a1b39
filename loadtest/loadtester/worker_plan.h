#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::loadtester {

// The share of one push-load worker process in a run of push-loadtest.
struct WorkerSlice {
  size_t index = 0;
  size_t first_user = 0;  // users first_user .. first_user + connections - 1
  size_t connections = 0;
  // Source addresses of its connections, as push-load's --sources takes them ("" = any).
  std::string sources;
};

struct WorkerPlanInput {
  size_t connections = 0;
  size_t per_worker = 18'000;  // at most; a process may open 20000 files here
  size_t first_user = 0;
  std::vector<net::InetAddress> sources;  // empty: the kernel picks
  // Connections one source address can hold to one server address: the size of
  // net.ipv4.ip_local_port_range. 0: not checked.
  size_t ports_per_source = 0;
};

// Spreads the connections evenly over ceil(connections / per_worker) workers, users in
// consecutive disjoint ranges, and the source addresses over the workers in disjoint
// contiguous groups (when there are fewer addresses than workers, every worker gets all of
// them). INVALID_ARGUMENT when the input cannot work: no connections, per_worker 0, or more
// connections on one source address in the plan than it has ports (the message says how many
// addresses it takes).
Result<std::vector<WorkerSlice>> planWorkers(const WorkerPlanInput& input);

// The first and last port of /proc/sys/net/ipv4/ip_local_port_range as a count (0 when it
// cannot be read).
size_t localPortRangeSize();

}  // namespace push::loadtester
