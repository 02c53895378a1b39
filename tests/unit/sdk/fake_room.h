#pragma once

// A small fake room for the SDK tests: a TcpServer on 127.0.0.1:0 that speaks the client
// protocol (u32 length + client.Frame), records everything the client sends with the time
// it arrived, and lets the test push frames, Reconnect, Kick, Error and close. By default it
// answers Auth with an AuthResult (heartbeat 1 s), Ping with Pong, and Upstream with an
// UpstreamAck (code 0).
//
// Runs on the test thread's EventLoop (drive it with loop.runUntil). Not thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "proto/client.pb.h"

namespace push::sdk::testing {

// Milliseconds on the steady clock (for intervals between events).
int64_t steadyMs();

class FakeRoom : private net::TcpConnection::Handler {
 public:
  struct Conn {
    int index = 0;                      // accept order, from 0
    net::TcpConnection* tcp = nullptr;  // null once closed
    int64_t accepted_ms = 0;
    int64_t auth_result_ms = 0;  // 0: no AuthResult sent
    int64_t closed_ms = 0;       // 0: open
    std::vector<client::Auth> auths;
    std::vector<int64_t> ping_ms;
    std::vector<uint64_t> acked;  // every id of every Ack, in order
    int ack_frames = 0;
    std::vector<client::Upstream> upstreams;
    std::vector<client::Bind> bind_frames;
    std::vector<client::Frame::BodyCase> frames;        // every frame type received
    std::vector<client::Frame> tag_requests;            // Subscribe and Unsubscribe frames
    std::map<std::string, std::set<std::string>> tags;  // what it is subscribed to now
    bool open() const { return tcp != nullptr; }
  };

  explicit FakeRoom(net::EventLoop& loop);
  ~FakeRoom();

  Status start();
  std::string address() const;
  // Closes the listener and every connection; wait for openConnections() == 0 afterwards.
  void stop();
  size_t openConnections() const;

  // Behaviour. on_auth replaces the default answer (AuthResult) when set.
  std::function<void(Conn&, const client::Auth&)> on_auth;
  // Called for every accepted connection (e.g. to close it at once).
  std::function<void(Conn&)> on_accept;
  uint32_t heartbeat_s = 1;
  // AuthResult.broadcast_seq (the room's latest broadcast sequence of the app).
  uint64_t auth_broadcast_seq = 0;
  bool answer_pings = true;
  bool answer_upstream = true;
  // UpstreamAck.reply of every answered Upstream (as a webhook's answer body).
  std::string upstream_reply;
  // Subscribe/Unsubscribe are answered with a SubscribeResult (as a room does); a Subscribe
  // naming one of these tags is refused with ERROR_TOO_MANY_TAGS and changes nothing.
  std::set<std::string> refused_tags;
  // Pushes with a broadcast sequence and tag.
  void pushBroadcast(Conn& c, uint64_t id, const std::string& app, uint64_t broadcast_seq,
                     const std::string& tag);

  void sendAuthResult(Conn& c);
  void send(Conn& c, const client::Frame& frame);
  void push(Conn& c, uint64_t id, const std::string& app, const std::string& payload, uint32_t qos);
  // Error frame; with `close`, a graceful close follows (as the room does).
  void sendError(Conn& c, client::ErrorCode code, const std::string& message, bool close);
  void kick(Conn& c, const std::string& reason);
  void reconnect(Conn& c, uint32_t delay_ms);
  void close(Conn& c);
  // Writes raw bytes (for broken frames).
  void sendRaw(Conn& c, const std::string& bytes);

  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }
  Conn& conn(size_t i) { return *conns_.at(i); }
  size_t accepted() const { return conns_.size(); }
  // Connections that got an AuthResult.
  size_t authenticated() const;

 private:
  size_t onData(net::TcpConnection& tcp, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& tcp, net::TcpConnection::CloseReason reason) override;
  void onFrame(Conn& c, const client::Frame& frame);

  net::EventLoop& loop_;
  net::TcpServerPtr server_;
  net::TcpConnection::Limits limits_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace push::sdk::testing
