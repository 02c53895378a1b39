#pragma once

#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::loadgen {

// Parses a list of local (source) IPv4 addresses for outgoing connections, port 0:
//   "127.0.0.2-127.0.0.20"            an inclusive range (last octets may differ; at most 65536)
//   "127.0.0.2,127.0.0.5-127.0.0.7"   comma-separated items, each an address or a range
// An empty spec gives an empty list (the kernel picks the source). INVALID_ARGUMENT naming
// the bad item otherwise.
Result<std::vector<net::InetAddress>> parseSourceAddresses(std::string_view spec);

}  // namespace push::loadgen
