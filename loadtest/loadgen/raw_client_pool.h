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

// Many client connections that only read length-prefixed frames (4-byte big-endian length,
// then the bytes) and hand each frame to `on_frame`: the receivers of the raw broadcast floor
// (loadtest/broadcast_floor), which writes bare frames with no protocol around them. A
// connection is ready as soon as it is connected (there is no handshake).
//
// Same contract as PushClientPool: `on_settled(ready, failed, first_error)` once every
// connection is connected or failed; connections that close later are counted in lost() (the
// floor closes them when it is done). Keep the pool until the loop is shut down. Loop-thread
// only.
class RawClientPool final : private net::TcpConnection::Handler {
 public:
  using OnSettled =
      std::function<void(size_t ready, size_t failed, const std::string& first_error)>;
  // `frame` is valid during the call; `read_ns` is the steady_clock time of its read.
  using OnFrame = std::function<void(size_t client, std::string_view frame, int64_t read_ns)>;

  RawClientPool(net::EventLoop& loop, ConnectionOpener::Options options);
  ~RawClientPool();
  RawClientPool(const RawClientPool&) = delete;
  RawClientPool& operator=(const RawClientPool&) = delete;

  void setOnSettled(OnSettled fn) { on_settled_ = std::move(fn); }
  void setOnFrame(OnFrame fn) { on_frame_ = std::move(fn); }
  void start();
  // Stops connecting and closes every connection. Idempotent.
  void close();

  size_t ready() const { return ready_; }
  size_t failed() const { return failed_; }
  size_t lost() const { return lost_; }

 private:
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  void maybeSettled();

  net::EventLoop& loop_;
  ConnectionOpener::Options options_;
  net::TcpConnection::Limits limits_;
  std::unique_ptr<ConnectionOpener> opener_;
  std::vector<net::TcpConnection*> conns_;
  OnSettled on_settled_;
  OnFrame on_frame_;
  std::string first_error_;
  size_t ready_ = 0, failed_ = 0, lost_ = 0;
  bool settled_ = false;
  bool closing_ = false;
};

}  // namespace push::loadgen
