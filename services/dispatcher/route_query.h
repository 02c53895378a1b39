#pragma once

#include <cstdint>
#include <string_view>

#include "common/base/result.h"

namespace push::http {
class HttpRequest;
}

namespace push::dispatcher {

// Network types a client reports (net=), for the heartbeat hint.
enum class Network : uint8_t { Unknown, Wifi, Cellular, Ethernet };

// The parameters of GET /v1/route?app=&user=&net=&region=&retry=, checked. The views point
// into the request (valid while it lives).
struct RouteQuery {
  std::string_view app;            // required, 1..128 bytes of printable ASCII ('!'..'~')
  std::string_view user;           // required, 1..256 bytes of printable ASCII
  Network net = Network::Unknown;  // "wifi", "cellular", "ethernet", "unknown"; absent/empty:
                                   // unknown
  std::string_view region;         // optional, up to 64 bytes of [A-Za-z0-9._-]
  uint32_t retry = 0;              // optional, 0..kMaxRetry in decimal (at most 3 digits)

  static constexpr uint32_t kMaxRetry = 100;

  // INVALID_ARGUMENT naming the parameter and what is wrong with it.
  static Result<RouteQuery> parse(const http::HttpRequest& request);
};

}  // namespace push::dispatcher
