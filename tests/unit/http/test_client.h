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
  struct Options {
    int timeout_ms = 5000;
    // Local address to bind before connecting ("127.0.0.2": another client IP); empty: any.
    std::string bind_host;
    // SO_RCVBUF before connecting (a small window: the server's output backs up); 0: default.
    int receive_buffer = 0;
  };
  BlockingClient(uint16_t port, const Options& options);
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Writes everything (one write call when it fits).
  bool send(std::string_view bytes);
  // Reads one response: status line, headers, Content-Length body (none for 1xx/204/304 or a
  // response to HEAD when `head`). nullopt on EOF, timeout or bytes that are not HTTP.
  std::optional<ParsedResponse> readResponse(bool head = false);
  // Reads exactly `n` bytes (buffered ones first); false on EOF or timeout.
  bool readBytes(size_t n, std::string* out);
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

// A WebSocket frame as a client sends it: masked (unless `masked` is false), FIN set unless
// `fin` is false, `rsv` in the three reserved bits, the length encoded minimally.
std::string wsFrame(uint8_t opcode, std::string_view payload, bool masked = true, bool fin = true,
                    uint8_t rsv = 0);
// An upgrade request for `path` with the usual headers (key: RFC 6455's sample).
std::string wsUpgradeRequest(std::string_view path = "/ws", std::string_view extra_headers = "");

struct WsFrame {
  uint8_t opcode = 0;
  bool fin = false;
  std::string payload;
  // For a close frame: the code (0 when the payload is empty).
  uint16_t closeCode() const;
};
// Reads one server frame (unmasked, as servers send them); nullopt on EOF or timeout.
std::optional<WsFrame> readWsFrame(BlockingClient& client);

}  // namespace push::http::testing
