#pragma once

// Helpers for the tests that talk to an admin port (RegisterServer, service::startAdmin): a
// blocking HTTP GET on a helper thread while the test thread runs the loop, and a check that
// a port is free again.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "common/net/event_loop.h"
#include "tests/support/http_client.h"

namespace push::reg::testing {

// GET `path` from `address` ("host:port") on a helper thread; this thread runs `loop` (which
// serves the request) until the reply came, at most 10 s.
inline Result<::push::testing::HttpReply> httpGet(net::EventLoop& loop, const std::string& address,
                                                  const std::string& path) {
  std::optional<Result<::push::testing::HttpReply>> reply;
  std::atomic<bool> finished{false};
  std::thread client([&] {
    reply.emplace(
        ::push::testing::httpRequest(address, "GET", path, "", {}, std::chrono::seconds(5)));
    finished = true;
    loop.post([] {});  // wake the loop
  });
  const bool ok = loop.runUntil([&] { return finished.load(); }, std::chrono::seconds(10));
  client.join();
  if (!ok) return Status(Code::TIMEOUT, "no HTTP reply");
  return std::move(*reply);
}

// True when 127.0.0.1:port can be bound (nothing listens there any more). Checking by
// connecting instead would be flaky: under ctest -j2 another test may take a freed ephemeral
// port meanwhile.
inline bool portFree(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  return rc == 0;
}

}  // namespace push::reg::testing
