#include "common/rpc/lb/consistent_hash.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "common/base/hash.h"

namespace push::rpc {

namespace {

constexpr uint32_t kMinWeight = 1;
constexpr uint32_t kMaxWeight = 1000;

}  // namespace

ConsistentHashLoadBalancer::ConsistentHashLoadBalancer(uint32_t replicas_per_weight)
    : replicas_per_weight_(std::max<uint32_t>(1, replicas_per_weight)) {}

void ConsistentHashLoadBalancer::setEndpoints(const std::vector<Endpoint>& endpoints) {
  size_t total = 0;
  for (const Endpoint& e : endpoints) {
    total += size_t{replicas_per_weight_} * std::clamp(e.weight, kMinWeight, kMaxWeight);
  }
  std::vector<Point> ring;
  ring.reserve(total);

  std::string name;
  for (size_t index = 0; index < endpoints.size(); ++index) {
    const Endpoint& e = endpoints[index];
    const uint64_t points =
        uint64_t{replicas_per_weight_} * std::clamp(e.weight, kMinWeight, kMaxWeight);
    name = e.address;
    name += '#';
    const size_t prefix = name.size();
    for (uint64_t i = 0; i < points; ++i) {
      name.resize(prefix);
      name += std::to_string(i);
      ring.push_back(Point{hash64(name), static_cast<uint32_t>(index)});
    }
  }

  // Ties (two points at one position, practically only from duplicated addresses) break by
  // address so that the owner does not depend on the order of `endpoints`.
  std::sort(ring.begin(), ring.end(), [&endpoints](const Point& a, const Point& b) {
    if (a.position != b.position) return a.position < b.position;
    const std::string& aa = endpoints[a.endpoint].address;
    const std::string& ba = endpoints[b.endpoint].address;
    if (aa != ba) return aa < ba;
    return a.endpoint < b.endpoint;
  });
  ring_ = std::move(ring);
  count_ = endpoints.size();
}

int ConsistentHashLoadBalancer::select(uint64_t key, const std::vector<bool>& usable) {
  const size_t n = std::min(count_, usable.size());
  if (ring_.empty()) return -1;
  // Every endpoint owns points, so some point has a usable owner iff some endpoint is usable;
  // when this check passes the walk below finds one within a lap.
  if (std::find(usable.begin(), usable.begin() + static_cast<std::ptrdiff_t>(n), true) ==
      usable.begin() + static_cast<std::ptrdiff_t>(n)) {
    return -1;
  }

  const uint64_t position = mix64(key);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), position,
                             [](const Point& p, uint64_t pos) { return p.position < pos; });
  const size_t start = static_cast<size_t>(it - ring_.begin());
  for (size_t step = 0; step < ring_.size(); ++step) {
    const Point& p = ring_[(start + step) % ring_.size()];
    if (p.endpoint < n && usable[p.endpoint]) return static_cast<int>(p.endpoint);
  }
  return -1;
}

}  // namespace push::rpc
