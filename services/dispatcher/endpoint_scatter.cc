#include "services/dispatcher/endpoint_scatter.h"

#include <algorithm>

#include "common/base/hash.h"

namespace push::dispatcher {
namespace {

const std::vector<RouteEndpoint>& endpointsOf(const RouteRoom& room, EndpointKind kind) {
  return kind == EndpointKind::Tcp ? room.tcp : room.ws;
}

// The hosts and ports in the list so far: bit masks of their ids while those are below 64
// (the usual case: a table rarely spans 64 hosts or ports), else a scan of the list.
class UsedSet {
 public:
  explicit UsedSet(const std::vector<const RouteEndpoint*>& out) : out_(out) {}
  void add(const RouteEndpoint& e) {
    if (e.host_id < 64) hosts_ |= uint64_t{1} << e.host_id;
    if (e.port_id < 64) ports_ |= uint64_t{1} << e.port_id;
  }
  // True when an entry has c's host or c's port.
  bool has(const RouteEndpoint& c) const {
    if (c.host_id < 64 && c.port_id < 64) {
      return ((hosts_ >> c.host_id) & 1) != 0 || ((ports_ >> c.port_id) & 1) != 0;
    }
    for (const RouteEndpoint* e : out_) {
      if (e->host_id == c.host_id || e->port == c.port) return true;
    }
    return false;
  }

 private:
  const std::vector<const RouteEndpoint*>& out_;
  uint64_t hosts_ = 0;
  uint64_t ports_ = 0;
};

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
    for (size_t k = 0; k < n; ++k) {
      const RouteEndpoint* ep = &eps[(first + k) % n];
      // The workers of one room process (--workers N) register one instance each with the
      // same listening address: the client needs it once, at its first room's place.
      const bool seen = std::any_of(candidates->begin(), candidates->end(), [&](auto* c) {
        return c->host_id == ep->host_id && c->port == ep->port;
      });
      if (!seen) candidates->push_back(ep);
    }
  }
  // Picked candidates are set to null in place rather than erased: the list stays small
  // (max_rooms x endpoints per room) and this keeps the pass allocation-free.
  size_t left = candidates->size();
  UsedSet used(*out);
  // Once a whole pass found no candidate with a new host and a new port, none appears later
  // (the used sets only grow): stop looking for one, and stop a pass at the first candidate
  // that differs from the last entry in both.
  bool fresh_possible = true;
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
      if (other_host && other_port && !fresh_possible) {
        tier[1] = &c;
        break;
      }
      if (other_host && other_port && tier[1] == nullptr) tier[1] = &c;
      if (other_host && tier[2] == nullptr) tier[2] = &c;
      if (other_port && tier[3] == nullptr) tier[3] = &c;
      if (other_host && other_port && !used.has(*c)) {
        tier[0] = &c;
        break;
      }
    }
    if (last != nullptr && tier[0] == nullptr) fresh_possible = false;
    const RouteEndpoint** pick = nullptr;
    for (const RouteEndpoint** t : tier) {
      if (t != nullptr) {
        pick = t;
        break;
      }
    }
    out->push_back(*pick);
    used.add(**pick);
    *pick = nullptr;
    --left;
  }
}

}  // namespace push::dispatcher
