#include "loadtest/loadgen/source_addresses.h"

#include <arpa/inet.h>

#include <string>

namespace push::loadgen {
namespace {

constexpr uint32_t kMaxRange = 65536;

Result<uint32_t> parseIpv4(std::string_view text) {
  in_addr addr{};
  const std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), &addr) != 1) {
    return invalidArgument("'" + s + "' is not an IPv4 address");
  }
  return ntohl(addr.s_addr);
}

net::InetAddress fromHostOrder(uint32_t ip) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = 0;
  return net::InetAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&sa));
}

}  // namespace

Result<std::vector<net::InetAddress>> parseSourceAddresses(std::string_view spec) {
  std::vector<net::InetAddress> out;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    const size_t dash = item.find('-');
    ASSIGN_OR_RETURN(uint32_t first, parseIpv4(item.substr(0, dash)));
    uint32_t last = first;
    if (dash != std::string_view::npos) {
      ASSIGN_OR_RETURN(last, parseIpv4(item.substr(dash + 1)));
    }
    if (last < first || last - first >= kMaxRange) {
      return invalidArgument("bad source address range '" + std::string(item) + "'");
    }
    for (uint64_t ip = first; ip <= last; ++ip)
      out.push_back(fromHostOrder(static_cast<uint32_t>(ip)));
  }
  return out;
}

}  // namespace push::loadgen
