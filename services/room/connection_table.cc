#include "services/room/connection_table.h"

#include "common/net/tcp_connection.h"

namespace push::room {

ClientConn& ConnectionTable::add(net::TcpConnection& tcp) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  ClientConn& c = slots_[slot];
  c.in_use = true;
  ++c.generation;
  c.tcp = &tcp;
  tcp.setId(net::makeConnId(slot, c.generation));
  tcp.setContext(&c);
  ++live_;
  return c;
}

void ConnectionTable::remove(ClientConn& c) {
  const uint32_t slot = net::slotOf(c.tcp->id());
  ClientConn fresh;
  fresh.generation = c.generation;  // the next user of the slot bumps it
  c = std::move(fresh);
  free_.push_back(slot);
  --live_;
}

ClientConn* ConnectionTable::find(net::ConnId id) {
  const uint32_t slot = net::slotOf(id);
  if (slot >= slots_.size()) return nullptr;
  ClientConn& c = slots_[slot];
  if (!c.in_use || c.generation != net::generationOf(id)) return nullptr;
  return &c;
}

const ClientConn* ConnectionTable::find(net::ConnId id) const {
  return const_cast<ConnectionTable*>(this)->find(id);
}

net::ConnId ConnectionTable::idOf(const ClientConn& c) {
  return c.tcp->id();
}

void* ConnectionTable::tcpContext(net::TcpConnection& tcp) {
  return tcp.context();
}

}  // namespace push::room
