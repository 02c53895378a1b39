#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "proto/client.pb.h"

namespace push::testing {

// A blocking WebSocket client for tests (RFC 6455, written independently of the server's
// wslay-based code): upgrade handshake, masked client frames, unmasked server frames.
class WsClient {
 public:
  // Connects and upgrades; the HTTP status line is returned as an error when not 101.
  static Result<std::unique_ptr<WsClient>> connect(const std::string& address,
                                                   const std::string& path = "/ws");
  ~WsClient();

  Status sendBinary(const std::string& payload);
  Status sendText(const std::string& payload);
  Status send(const client::Frame& frame) { return sendBinary(frame.SerializeAsString()); }
  // Next data message (ping frames are answered, close frames end the stream: UNAVAILABLE).
  Result<std::string> readMessage(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Result<client::Frame> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Result<client::AuthResult> auth(const std::string& token);
  // The close code the server sent (0 if none yet).
  uint16_t closeCode() const { return close_code_; }
  bool waitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  explicit WsClient(int fd) : fd_(fd) {}
  Status sendFrame(uint8_t opcode, const std::string& payload);
  Status fill(std::chrono::steady_clock::time_point deadline);
  int fd_;
  std::string in_;
  bool closed_ = false;  // close frame received
  bool eof_ = false;     // TCP closed
  uint16_t close_code_ = 0;
};

}  // namespace push::testing
