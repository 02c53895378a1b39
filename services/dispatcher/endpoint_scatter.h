#pragma once

#include <cstdint>
#include <vector>

#include "services/dispatcher/route_table.h"

namespace push::dispatcher {

// Which endpoints of a room: its TCP or its WebSocket list.
enum class EndpointKind { Tcp, Ws };

// The first endpoint of `room` a client with hash `client` tries: the room's endpoints are
// rotated by a hash of (client, room), so a room's users spread over its ports and IPs.
uint32_t endpointRotation(uint64_t client, const RouteRoom& room, EndpointKind kind);

// The flat list of endpoints a client tries in order, scattered over IPs and ports.
//
// Candidates, in order: the endpoints of rooms[order[0]] (rotated, endpointRotation), then of
// rooms[order[1]], ..., each address once (room workers sharing a port register it each).
// Output: the first candidate, then repeatedly the first candidate left
// whose host and port are both new to the list; if there is none, the first whose host and
// port both differ from the last entry; then the first whose host differs; then the first
// whose port differs; then simply the first. So the first tries cover as many IPs and ports
// as the rooms have, two consecutive entries share an IP or a port only when the candidates
// left offer nothing else, and the rooms' order is kept as far as that allows (the sticky
// room's endpoint comes first).
// At most `limit` entries. `candidates` is scratch (reused, no allocation once warm).
void scatterEndpoints(const RouteTable& table, const std::vector<uint32_t>& order, uint64_t client,
                      EndpointKind kind, size_t limit,
                      std::vector<const RouteEndpoint*>* candidates,
                      std::vector<const RouteEndpoint*>* out);

}  // namespace push::dispatcher
