#include "sdk/server_address.h"

#include <algorithm>
#include <string_view>

namespace push::sdk {

namespace {

// RFC 1123 host name: dot-separated labels of letters, digits and '-' (not at either end of
// a label), 1..63 bytes each, 253 in all; an optional final dot.
bool isHostName(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  // An all-digit last label ("10.1", "256.1.1.1", "2130706433") is a malformed number, not
  // a name: getaddrinfo would read it with inet_aton's legacy rules (RFC 1123 2.1).
  const size_t last_dot = host.rfind('.');
  const std::string_view last =
      last_dot == std::string_view::npos ? host : host.substr(last_dot + 1);
  if (last.find_first_not_of("0123456789") == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    const char c = i < host.size() ? host[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    ++label;
  }
  return true;
}

}  // namespace

Result<ServerAddress> parseServer(const std::string& text) {
  ServerAddress server;
  if (auto addr = net::InetAddress::parse(text); addr.isOk()) {
    server.numeric = *addr;
    server.port = addr->port();
    server.text = addr->toString();
    return server;
  }
  const size_t colon = text.rfind(':');
  const std::string_view host = std::string_view(text).substr(0, std::min(colon, text.size()));
  uint32_t port = 0;
  bool port_ok = colon != std::string::npos && colon + 1 < text.size() && text.size() - colon <= 6;
  for (size_t i = colon + 1; port_ok && i < text.size(); ++i) {
    port_ok = text[i] >= '0' && text[i] <= '9';
    port = port * 10 + static_cast<uint32_t>(text[i] - '0');
  }
  if (!port_ok || port == 0 || port > 65535 || !isHostName(host)) {
    return invalidArgument(
        "servers: '" + text +
        "': want host:port (numeric IPv4, [IPv6] or a host name; port 1..65535)");
  }
  server.text = text;
  server.host = std::string(host);
  server.port = static_cast<uint16_t>(port);
  return server;
}

}  // namespace push::sdk
