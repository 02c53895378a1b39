#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "common/net/conn_id.h"
#include "services/room/client_conn.h"

namespace push::net {
class TcpConnection;
}

namespace push::room {

// Every client connection of a room: ClientConn slots that never move (a deque grows without
// relocating), addressed by ConnId = generation << 32 | slot (common/net/conn_id.h). A freed
// slot is reused by the next connection with its generation bumped, so a stale id held by a
// session, a timer entry or an RPC finds nothing rather than a stranger.
//
// It does not own the TcpConnections (they own themselves; the room closes them); it owns the
// per-connection state. Loop-thread only.
class ConnectionTable {
 public:
  // Takes a slot for `tcp`: fresh state, a new generation; sets the TcpConnection's id and
  // context to the slot. The slot stays in use until remove().
  ClientConn& add(net::TcpConnection& tcp);
  // Frees the slot of a connection whose TcpConnection has closed (or is about to be deleted).
  void remove(ClientConn& c);

  // The connection with this id, or null when it is gone (or the id is stale).
  ClientConn* find(net::ConnId id);
  const ClientConn* find(net::ConnId id) const;
  // The state of a connection this table gave a slot (TcpConnection::context()).
  static ClientConn& of(net::TcpConnection& tcp) {
    return *static_cast<ClientConn*>(tcpContext(tcp));
  }
  static net::ConnId idOf(const ClientConn& c);

  // Connections in use.
  size_t size() const { return live_; }
  // Slots, in use or not, for iteration: slot(i) for i < slotCount(); check in_use.
  size_t slotCount() const { return slots_.size(); }
  ClientConn& slot(size_t i) { return slots_[i]; }
  const ClientConn& slot(size_t i) const { return slots_[i]; }

 private:
  static void* tcpContext(net::TcpConnection& tcp);

  std::deque<ClientConn> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace push::room
