#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string_view>

#include "common/base/status.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_connection.h"

namespace push::loadgen {

// One keep-alive HTTP/1.1 client connection with pipelining: any number of requests may be
// written before the first response arrives; responses come back in request order (RFC 9112
// 9.3.2), so each is matched with the oldest outstanding request's tag.
//
// Only what a load generator against our own servers needs: responses must carry
// Content-Length (no chunked bodies; center always sends Content-Length); 1xx responses are
// not expected. A malformed response, a close by the server or "Connection: close" ends the
// connection: `on_closed` gets the reason and the number of requests that got no response.
//
// Callbacks run on the loop thread. The caller builds whole request messages (request line,
// headers, body). Lifetime: keep the object until its connection has closed (after close(),
// until on_closed ran or the loop is shut down). Loop-thread only.
class HttpPipelineClient final : private net::TcpConnection::Handler {
 public:
  struct Response {
    int status = 0;
    std::string_view body;  // valid during the callback only
    uint64_t tag = 0;       // from send()
  };
  using OnResponse = std::function<void(HttpPipelineClient& client, const Response& response)>;
  using OnClosed = std::function<void(HttpPipelineClient& client, const Status& why, size_t lost)>;
  using OnConnected = std::function<void(HttpPipelineClient& client, const Status& status)>;

  HttpPipelineClient(net::EventLoop& loop, OnResponse on_response, OnClosed on_closed);
  ~HttpPipelineClient();
  HttpPipelineClient(const HttpPipelineClient&) = delete;
  HttpPipelineClient& operator=(const HttpPipelineClient&) = delete;

  // Connects (from `local` when given); `done` runs once, never inside connect().
  void connect(const net::InetAddress& server, const net::InetAddress* local,
               std::chrono::milliseconds timeout, OnConnected done);
  // Queues one whole request; it leaves with everything else queued this loop turn. False
  // when not connected or the output is over the connection's hard limit.
  bool send(std::string_view request, uint64_t tag);
  // Closes the connection; outstanding requests are reported lost to on_closed. Idempotent.
  void close();

  bool connected() const { return conn_ != nullptr && !conn_->closing(); }
  size_t inflight() const { return tags_.size(); }

 private:
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  void failConnection(Status why);

  net::EventLoop& loop_;
  OnResponse on_response_;
  OnClosed on_closed_;
  net::TcpConnection::Limits limits_;
  net::TcpConnection* conn_ = nullptr;
  std::deque<uint64_t> tags_;  // outstanding requests, oldest first
  Status close_reason_;
};

}  // namespace push::loadgen
