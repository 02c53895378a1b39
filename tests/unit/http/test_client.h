#pragma once

// A tiny blocking HTTP client for the server tests. It runs on its own thread (ClientThread)
// with plain POSIX sockets while the test thread drives the server's loop with runUntil(): no
// sleeps, every wait ends on an event or a bounded socket timeout.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/net/event_loop.h"

namespace push::http::testing {

struct ParsedResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const;
};

class BlockingClient {
 public:
  // Connects to 127.0.0.1:port. Every read gives up after `timeout_ms` (so a broken server
  // fails the test instead of hanging it).
  explicit BlockingClient(uint16_t port, int timeout_ms = 5000);
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Writes everything (one write call when it fits).
  bool send(std::string_view bytes);
  // Reads one response: status line, headers, Content-Length body (none for 1xx/204/304 or a
  // response to HEAD when `head`). nullopt on EOF, timeout or bytes that are not HTTP.
  std::optional<ParsedResponse> readResponse(bool head = false);
  // Reads until the server closes; returns what came (including bytes already buffered).
  // `closed` tells whether EOF (or a reset) was seen before the timeout.
  std::string readUntilClosed(bool* closed);
  // shutdown(SHUT_WR): the server sees EOF.
  void shutdownWrite();
  // close() now; with `reset`, SO_LINGER 0 so the server sees a RST.
  void close(bool reset = false);

 private:
  bool fill();  // one recv into buf_; false on EOF/timeout/error
  int fd_ = -1;
  std::string buf_;
};

// Runs `body` on a thread; the test thread keeps the loop running with wait(). When the body
// returns, it wakes the loop (post) so wait() returns at once.
class ClientThread {
 public:
  ClientThread(net::EventLoop& loop, std::function<void()> body);
  ~ClientThread();  // joins
  // Runs the loop until the body finished (or `timeout_ms`); returns whether it finished.
  bool wait(int timeout_ms = 10000);
  bool done() const { return done_.load(); }

 private:
  net::EventLoop& loop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A GET with the usual headers.
std::string getRequest(std::string_view target, std::string_view extra_headers = "");

}  // namespace push::http::testing
