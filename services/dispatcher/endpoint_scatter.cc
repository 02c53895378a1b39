#include "services/dispatcher/endpoint_scatter.h"

#include "common/base/hash.h"

namespace push::dispatcher {
namespace {

const std::vector<RouteEndpoint>& endpointsOf(const RouteRoom& room, EndpointKind kind) {
  return kind == EndpointKind::Tcp ? room.tcp : room.ws;
}

// True when an entry of `out` has c's host or c's port.
bool used(const std::vector<const RouteEndpoint*>& out, const RouteEndpoint& c) {
  for (const RouteEndpoint* e : out) {
    if (e->host_id == c.host_id || e->port == c.port) return true;
  }
  return false;
}

}  // namespace

uint32_t endpointRotation(uint64_t client, const RouteRoom& room, EndpointKind kind) {
  const size_t n = endpointsOf(room, kind).size();
  if (n <= 1) return 0;
  // Another mix than RouteTable::score's, so the rotation is independent of the room choice.
  const uint64_t h = mix64(client ^ mix64(room.id_hash + (kind == EndpointKind::Tcp ? 1 : 2)));
  return static_cast<uint32_t>(h % n);
}

void scatterEndpoints(const RouteTable& table, const std::vector<uint32_t>& order, uint64_t client,
                      EndpointKind kind, size_t limit,
                      std::vector<const RouteEndpoint*>* candidates,
                      std::vector<const RouteEndpoint*>* out) {
  out->clear();
  candidates->clear();
  for (uint32_t index : order) {
    const RouteRoom& room = table.rooms()[index];
    const auto& eps = endpointsOf(room, kind);
    const size_t n = eps.size();
    const uint32_t first = endpointRotation(client, room, kind);
    for (size_t k = 0; k < n; ++k)
      candidates->push_back(&eps[(first + k) % n]);
  }
  // Picked candidates are set to null in place rather than erased: the list stays small
  // (max_rooms x endpoints per room) and this keeps the pass allocation-free.
  size_t left = candidates->size();
  while (left > 0 && out->size() < limit) {
    const RouteEndpoint* last = out->empty() ? nullptr : out->back();
    // Tiers, best first: a host and a port not used yet; host and port both differ from the
    // last entry; the host differs; the port differs; anything.
    const RouteEndpoint** tier[5] = {};
    for (auto& c : *candidates) {
      if (c == nullptr) continue;
      if (tier[4] == nullptr) tier[4] = &c;
      if (last == nullptr) break;
      const bool other_host = c->host_id != last->host_id;
      const bool other_port = c->port != last->port;
      if (other_host && other_port && tier[1] == nullptr) tier[1] = &c;
      if (other_host && tier[2] == nullptr) tier[2] = &c;
      if (other_port && tier[3] == nullptr) tier[3] = &c;
      if (other_host && other_port && !used(*out, *c)) {
        tier[0] = &c;
        break;
      }
    }
    const RouteEndpoint** pick = nullptr;
    for (const RouteEndpoint** t : tier) {
      if (t != nullptr) {
        pick = t;
        break;
      }
    }
    out->push_back(*pick);
    *pick = nullptr;
    --left;
  }
}

}  // namespace push::dispatcher
