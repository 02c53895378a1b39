#pragma once

// The dispatcher's answer to GET /v1/route (services/dispatcher/README.md "API"), as the SDK
// uses it. Internal to the SDK: not part of the public headers.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "sdk/server_address.h"

namespace push::sdk {

// Bounds on an answer, so a broken or hostile dispatcher cannot make the client hold much or
// wait long: the body is read up to kMaxRouteBytes, at most kMaxRouteEntries addresses are
// kept (the dispatcher sends at most 16), and the TTL is kept within
// [kMinRouteTtlS, kMaxRouteTtlS] (kDefaultRouteTtlS when absent or 0).
inline constexpr size_t kMaxRouteBytes = 64 * 1024;
inline constexpr size_t kMaxRouteEntries = 32;
inline constexpr uint32_t kMinRouteTtlS = 10;
inline constexpr uint32_t kMaxRouteTtlS = 24 * 3600;
inline constexpr uint32_t kDefaultRouteTtlS = 300;

struct Route {
  std::vector<ServerAddress> tcp;  // the order to try, never empty
  uint32_t heartbeat_s = 0;        // the dispatcher's hint for the network; 0: none
  uint32_t ttl_s = kDefaultRouteTtlS;
};

// Parses a 200 answer's body: `tcp` (strings "host:port"; entries that do not parse are
// skipped), `heartbeat_s`, `ttl_s`; other keys (`rooms`, `ws`) are skipped. PROTOCOL_ERROR
// when it is not such a JSON object or has no usable tcp address.
Result<Route> parseRoute(std::string_view body);

// The query of one request: "/v1/route?app=..&user=..&net=..[&region=..]&retry=N" below
// `path` (the dispatcher URL's path, "" or "/prefix"). `net` is "wifi", "cellular", ...
std::string routeTarget(std::string_view path, std::string_view app, std::string_view user,
                        std::string_view net, std::string_view region, uint32_t retry);

}  // namespace push::sdk
