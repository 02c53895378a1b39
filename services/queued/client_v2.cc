#include "services/queued/client_v2.h"

#include <chrono>

#include "common/net/inet_address.h"
#include "common/net/tcp_connection.h"
#include "services/queued/protocol_v2.h"

namespace push::queued {

namespace {

int64_t wallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ClientV2::ClientV2(ProtocolV2& owner, net::TcpConnection& connection, int64_t now_ms)
    : protocol(owner), conn(&connection), conn_id(connection.id()) {
  net::InetAddress peer = connection.peerAddress();
  remote_address = peer.toString();
  client_id = peer.host();
  hostname = client_id;
  connect_ts_s = wallSeconds();
  last_read_ms = now_ms;
  next_heartbeat_ms = now_ms + heartbeat_interval_ms;
}

void ClientV2::sendMessage(const queue::Message& message) {
  protocol.writeMessage(*this, message);
}

void ClientV2::onChannelClosing() {
  channel = nullptr;
  protocol.closeClient(*this);
}

}  // namespace push::queued
