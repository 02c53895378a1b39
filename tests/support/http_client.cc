#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/net/inet_address.h"

namespace push::testing {

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

Result<HttpReply> httpRequest(const std::string& address, const std::string& method,
                              const std::string& path, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(net::InetAddress addr, net::InetAddress::parse(address));
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::strerror(errno));
  if (::connect(fd, addr.sockaddrPtr(), addr.length()) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("connect " + address + ": " + std::strerror(err));
  }
  std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers)
    req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return unavailable("send failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpReply reply;
  size_t header_end = std::string::npos;
  size_t content_length = std::string::npos;
  for (;;) {
    if (header_end != std::string::npos && content_length != std::string::npos &&
        in.size() >= header_end + 4 + content_length) {
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return Status(Code::TIMEOUT, "no complete HTTP reply from " + address);
    }
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        size_t pos = in.find("\r\n");
        std::string status_line = in.substr(0, pos);
        if (status_line.size() < 12) {
          ::close(fd);
          return internalError("bad status line: " + status_line);
        }
        reply.status = std::atoi(status_line.c_str() + 9);
        while (pos < header_end) {
          size_t next = in.find("\r\n", pos + 2);
          std::string line = in.substr(pos + 2, next - pos - 2);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string k = line.substr(0, colon), v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ')
              v.erase(0, 1);
            if (strcasecmp(k.c_str(), "Content-Length") == 0) content_length = std::stoul(v);
            reply.headers.emplace_back(k, v);
          }
          pos = next;
        }
      }
    }
  }
  ::close(fd);
  if (header_end == std::string::npos) return unavailable("connection closed before a reply");
  reply.body = in.substr(header_end + 4);
  if (content_length != std::string::npos && reply.body.size() > content_length) {
    reply.body.resize(content_length);
  }
  return reply;
}

uint64_t counterIn(const std::string& metrics, const std::string& name) {
  const std::string at = "\n" + name + " ";
  const size_t i = metrics.find(at);
  return i == std::string::npos ? 0 : std::strtoull(metrics.c_str() + i + at.size(), nullptr, 10);
}

}  // namespace push::testing
