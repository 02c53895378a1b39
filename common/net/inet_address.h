#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace push::net {

// An IPv4 or IPv6 socket address. Parses numeric "host:port" and "[v6]:port"; "localhost"
// means 127.0.0.1 (no DNS: the loop must never block on a resolver).
class InetAddress {
 public:
  InetAddress() = default;
  static Result<InetAddress> parse(std::string_view host_port);
  static Result<InetAddress> fromHostPort(std::string_view host, uint16_t port);
  static InetAddress fromSockaddr(const sockaddr* sa);

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const;
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  // "127.0.0.1:8080" / "[::1]:8080".
  std::string toString() const;
  // "127.0.0.1" / "::1".
  std::string host() const;

  bool operator==(const InetAddress& other) const;

 private:
  sockaddr_storage storage_{};
};

}  // namespace push::net
