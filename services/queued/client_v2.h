#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/net/conn_id.h"
#include "common/queue/channel.h"
#include "common/queue/codec/codec_chain.h"

namespace push::net {
class TcpConnection;
}

namespace push::queued {

struct AuthGrant;

// One client of the TCP protocol V2: what it told us in IDENTIFY, its state, its subscription
// and its counters (for /stats). Owned by ProtocolV2 (by connection id); the channel holds it
// as a ChannelClient while subscribed.
struct ClientV2 final : queue::ChannelClient {
  enum class State : uint8_t { Init = 0, Subscribed = 3, Closing = 4 };

  ClientV2(class ProtocolV2& protocol, net::TcpConnection& conn, int64_t now_ms);

  void sendMessage(const queue::Message& message) override;
  void onChannelClosing() override;

  ProtocolV2& protocol;
  net::TcpConnection* conn;  // valid until the connection's onClosed
  net::ConnId conn_id;
  std::string remote_address;  // "ip:port"
  std::string client_id;       // default: the remote IP
  std::string hostname;
  std::string user_agent;
  State state = State::Init;
  bool magic_seen = false;
  bool closing = false;  // a fatal error was answered: input is ignored from now on

  int64_t heartbeat_interval_ms = 30000;  // -1: disabled
  int64_t msg_timeout_ms = 60000;
  int64_t output_buffer_size = 16384;
  int64_t output_buffer_timeout_ms = 250;
  int32_t sample_rate = 0;
  bool deflate = false;
  int deflate_level = 6;
  bool snappy = false;
  bool tls = false;

  int64_t connect_ts_s = 0;  // wall clock, seconds
  int64_t last_read_ms = 0;  // any command line resets the read deadline
  int64_t next_heartbeat_ms = 0;
  int64_t closing_since_ms = 0;

  queue::Channel* channel = nullptr;
  std::string topic_name;
  std::string channel_name;

  // TLS and compression once negotiated (IDENTIFY): bytes from the peer are decoded into
  // plain_in and commands parsed from there; output collects in plain_out and is encoded once
  // per loop turn, just before the connection's coalesced write.
  std::unique_ptr<queue::CodecChain> codec;
  std::string plain_in;
  std::string plain_out;
  bool encode_scheduled = false;
  bool upgraded_now = false;  // the codec was installed by the command just executed

  // AUTH: what the auth server granted, until auth_expires_ms (then it is asked again).
  std::string auth_secret;  // empty: no AUTH yet
  std::shared_ptr<const AuthGrant> auth_grant;
  int64_t auth_expires_ms = 0;
  bool waiting_for_auth = false;  // input is held until the auth server answers

  uint64_t message_count = 0;
  uint64_t finish_count = 0;
  uint64_t requeue_count = 0;
  std::map<std::string, uint64_t> pub_counts;  // TCP publishes per topic
};

}  // namespace push::queued
