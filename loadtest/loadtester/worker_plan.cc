#include "loadtest/loadtester/worker_plan.h"

#include <algorithm>
#include <fstream>

namespace push::loadtester {
namespace {

std::string hostsOf(const std::vector<net::InetAddress>& all, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (!out.empty()) out += ',';
    out += all[i].host();
  }
  return out;
}

}  // namespace

Result<std::vector<WorkerSlice>> planWorkers(const WorkerPlanInput& in) {
  if (in.connections == 0) return invalidArgument("no connections to open");
  if (in.per_worker == 0) return invalidArgument("--per-worker must be at least 1");
  const size_t workers = (in.connections + in.per_worker - 1) / in.per_worker;
  const size_t n = in.sources.size();
  std::vector<WorkerSlice> plan(workers);
  size_t user = in.first_user;
  // The most connections any one source address carries in this plan (push-load spreads a
  // worker's connections round robin over its addresses).
  size_t busiest = 0, shared_load = 0;
  for (size_t w = 0; w < workers; ++w) {
    WorkerSlice& s = plan[w];
    s.index = w;
    // Even shares: the first (connections % workers) workers take one more.
    s.connections = in.connections / workers + (w < in.connections % workers ? 1 : 0);
    s.first_user = user;
    user += s.connections;
    if (n == 0) {
      shared_load += s.connections;  // the kernel picks one address for all
    } else if (n >= workers) {
      const size_t begin = w * n / workers, end = (w + 1) * n / workers;
      s.sources = hostsOf(in.sources, begin, end);
      busiest = std::max(busiest, (s.connections + (end - begin) - 1) / (end - begin));
    } else {
      // Fewer addresses than workers: every worker uses all of them, so each address carries
      // an even share (handing them out round robin would load some twice as much as others).
      s.sources = hostsOf(in.sources, 0, n);
      shared_load += (s.connections + n - 1) / n;
    }
  }
  busiest = std::max(busiest, shared_load);
  if (in.ports_per_source > 0 && busiest > in.ports_per_source) {
    const size_t need = (in.connections + in.ports_per_source - 1) / in.ports_per_source;
    return invalidArgument(
        std::to_string(in.connections) + " connections need at least " + std::to_string(need) +
        " source addresses (--sources): one address has " + std::to_string(in.ports_per_source) +
        " local ports (net.ipv4.ip_local_port_range) and this plan puts " +
        std::to_string(busiest) + " on one" +
        (in.sources.empty() ? std::string() : "; given " + std::to_string(n)));
  }
  return plan;
}

size_t localPortRangeSize() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  long first = 0, last = 0;
  if (!(in >> first >> last) || last < first) return 0;
  return static_cast<size_t>(last - first + 1);
}

}  // namespace push::loadtester
