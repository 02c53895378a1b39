#pragma once

// Parsing of ClientOptions::servers entries ("host:port"). Internal to the SDK: not part of
// the public headers.

#include <cstdint>
#include <string>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::sdk {

// One entry of ClientOptions::servers: numeric (connected to directly) or a host name
// (resolved before every connection attempt, so a changed DNS record is followed).
struct ServerAddress {
  std::string text;  // for logs and state details
  std::string host;  // the name to resolve; empty when numeric
  uint16_t port = 0;
  net::InetAddress numeric;
};

// Parses "host:port": a numeric address as net::InetAddress::parse takes it ("127.0.0.1:7100",
// "[::1]:7100", "localhost:7100"; `numeric` set, `host` empty, `text` the canonical form), or
// an RFC 1123 host name and a port 1..65535 (`host` set, `text` as given). A name whose last
// label is all digits ("10.1") is refused, not resolved. INVALID_ARGUMENT naming "servers"
// otherwise.
Result<ServerAddress> parseServer(const std::string& text);

}  // namespace push::sdk
