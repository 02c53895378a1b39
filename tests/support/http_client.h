#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace push::testing {

struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First header with this name (case-insensitive), "" if absent.
  std::string header(std::string_view name) const;
};

// One blocking HTTP/1.1 request on a fresh connection ("Connection: close"), for tests.
// `address` is "host:port". Reads until the peer closes or Content-Length is satisfied.
Result<HttpReply> httpRequest(const std::string& address, const std::string& method,
                              const std::string& path, const std::string& body = "",
                              const std::vector<std::pair<std::string, std::string>>& headers = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of a counter (with its labels, if any, in `name`: R"(x_total{how="local"})") in a
// /metrics body; 0 if absent.
uint64_t counterIn(const std::string& metrics, const std::string& name);

}  // namespace push::testing
