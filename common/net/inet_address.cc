#include "common/net/inet_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace push::net {

Result<InetAddress> InetAddress::fromHostPort(std::string_view host, uint16_t port) {
  InetAddress addr;
  std::string h(host == "localhost" ? "127.0.0.1" : host);
  if (h.empty()) h = "0.0.0.0";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return addr;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return addr;
  }
  return invalidArgument("'" + std::string(host) + "' is not a numeric IPv4/IPv6 address");
}

Result<InetAddress> InetAddress::parse(std::string_view host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return invalidArgument("address '" + std::string(host_port) + "' has no ':port'");
  }
  std::string_view host = host_port.substr(0, colon);
  std::string_view port_text = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    // "fe80::1:8080" could be fe80::1 port 8080 or a whole address: require brackets.
    return invalidArgument("address '" + std::string(host_port) +
                           "': an IPv6 address needs brackets, as in [::1]:80");
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return invalidArgument("address '" + std::string(host_port) + "' has a bad port");
  }
  return fromHostPort(host, static_cast<uint16_t>(port));
}

InetAddress InetAddress::fromSockaddr(const sockaddr* sa) {
  InetAddress addr;
  if (sa->sa_family == AF_INET) {
    std::memcpy(&addr.storage_, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(&addr.storage_, sa, sizeof(sockaddr_in6));
  }
  return addr;
}

socklen_t InetAddress::length() const {
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

uint16_t InetAddress::port() const {
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
}

void InetAddress::setPort(uint16_t port) {
  if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  }
}

std::string InetAddress::host() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  } else if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else {
    return "?";
  }
  return buf;
}

std::string InetAddress::toString() const {
  if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  return host() + ":" + std::to_string(port());
}

bool InetAddress::operator==(const InetAddress& other) const {
  return family() == other.family() && length() == other.length() &&
         std::memcmp(&storage_, &other.storage_, length()) == 0;
}

}  // namespace push::net
