#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/tcp_connection.h"
#include "loadtest/loadgen/connection_opener.h"

namespace push::loadgen {

// The baseline of the memory and broadcast benchmarks: many Redis pub/sub subscribers. Each
// connection sends `SUBSCRIBE <channel>` and counts as ready once Redis confirms it (the
// 6-line RESP reply). After that, with an on_message callback, every published message
// ("*3 $7 message $<channel> $<payload>") is parsed and handed to it; without one
// everything Redis sends is read and ignored (idle subscribers).
//
// Same contract as PushClientPool: `on_settled(ready, failed, first_error)` once every
// connection is subscribed or failed; keep the pool until the loop is shut down. Loop-thread
// only.
class RedisClientPool final : private net::TcpConnection::Handler {
 public:
  struct Options {
    ConnectionOpener::Options connect;
    std::string channel = "push-bench";
  };
  using OnSettled =
      std::function<void(size_t ready, size_t failed, const std::string& first_error)>;
  // A message published to the channel: `payload` is valid during the call; `read_ns` is the
  // steady_clock time of the read that carried it.
  using OnMessage = std::function<void(size_t client, std::string_view payload, int64_t read_ns)>;

  RedisClientPool(net::EventLoop& loop, Options options);
  ~RedisClientPool();
  RedisClientPool(const RedisClientPool&) = delete;
  RedisClientPool& operator=(const RedisClientPool&) = delete;

  void setOnSettled(OnSettled fn) { on_settled_ = std::move(fn); }
  void setOnMessage(OnMessage fn) { on_message_ = std::move(fn); }
  void start();
  void close();

  size_t ready() const { return ready_; }
  size_t failed() const { return failed_; }
  size_t lost() const { return lost_; }
  // Pushes from Redis that were not a "message" of our channel (with on_message only).
  uint64_t unexpected() const { return unexpected_; }

 private:
  enum class State : uint8_t { Idle, Subscribing, Active, Failed, Closed };
  struct Client {
    net::TcpConnection* conn = nullptr;
    uint8_t lines = 0;  // CRLFs of the SUBSCRIBE reply seen so far
    State state = State::Idle;
  };

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  // Parses the whole messages at the front of `data`; returns the bytes they took.
  size_t parseMessages(Client& c, size_t index, const char* data, size_t len);
  void fail(Client& c, const std::string& why);
  void maybeSettled();

  net::EventLoop& loop_;
  Options options_;
  std::string command_;
  net::TcpConnection::Limits limits_;
  std::unique_ptr<ConnectionOpener> opener_;
  std::vector<Client> clients_;
  OnSettled on_settled_;
  OnMessage on_message_;
  std::string first_error_;
  size_t ready_ = 0, failed_ = 0, lost_ = 0;
  uint64_t unexpected_ = 0;
  bool settled_ = false;
  bool closing_ = false;
};

}  // namespace push::loadgen
