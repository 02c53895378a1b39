#pragma once

#include <cstdint>

namespace push::net {

// The one id type for a connection (docs/CONVENTIONS.md §8): registries keep a ConnId, never a
// pointer, and look the connection up on use. TcpConnection carries one (setId/id), register's
// session table stores the room's as `conn_id`, logs print it as "[C<id>]".
//
// Owners that keep connections in a slot array (the room's ConnectionTable) build it as
// generation << 32 | slot, so a stale id names a slot whose generation moved on and finds
// nothing instead of a newer connection; servers that keep a map (HTTP, RPC) count up from 1.
// 0 is never a live connection.
using ConnId = uint64_t;

constexpr ConnId makeConnId(uint32_t slot, uint32_t generation) {
  return (ConnId{generation} << 32) | slot;
}
constexpr uint32_t slotOf(ConnId id) {
  return static_cast<uint32_t>(id & 0xffffffffu);
}
constexpr uint32_t generationOf(ConnId id) {
  return static_cast<uint32_t>(id >> 32);
}

}  // namespace push::net
