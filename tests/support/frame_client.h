#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "proto/client.pb.h"

namespace push::testing {

// A blocking client of the room's TCP protocol for tests: it writes exactly the frames a test
// asks for (including broken ones) and reads what the room sends.
class FrameClient {
 public:
  static Result<std::unique_ptr<FrameClient>> connect(const std::string& address);
  ~FrameClient();

  Status send(const client::Frame& frame);
  // Any bytes, unframed (garbage, oversized headers, partial frames).
  Status sendRaw(const std::string& bytes);
  // Next frame; TIMEOUT if none within `timeout`; UNAVAILABLE once the room closed.
  Result<client::Frame> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads frames until one of `type` arrives (others are dropped); the same errors as read().
  Result<client::Frame> readUntil(client::Frame::BodyCase type,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the room closes the connection within `timeout` (frames read meanwhile are
  // dropped).
  bool waitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Sends Auth with `token` and waits for AuthResult (or returns the Error it got instead as
  // a status carrying the error code number and message).
  Result<client::AuthResult> auth(const std::string& token,
                                  client::NetworkType network = client::NETWORK_WIFI);

 private:
  explicit FrameClient(int fd) : fd_(fd) {}
  int fd_;
  std::string in_;
  bool closed_ = false;
};

}  // namespace push::testing
