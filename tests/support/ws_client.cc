#include "tests/support/ws_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/net/inet_address.h"

namespace push::testing {

Result<std::unique_ptr<WsClient>> WsClient::connect(const std::string& address,
                                                    const std::string& path) {
  ASSIGN_OR_RETURN(net::InetAddress addr, net::InetAddress::parse(address));
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, addr.sockaddrPtr(), addr.length()) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable(std::string("connect: ") + std::strerror(err));
  }
  std::unique_ptr<WsClient> c(new WsClient(fd));
  std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: " + address +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return unavailable("send failed");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  size_t end;
  while ((end = c->in_.find("\r\n\r\n")) == std::string::npos) {
    Status st = c->fill(deadline);
    if (!st.isOk()) return st;
  }
  std::string head = c->in_.substr(0, end);
  c->in_.erase(0, end + 4);
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    return unavailable(head.substr(0, head.find("\r\n")));
  }
  // RFC 6455 sample key -> sample accept value.
  if (head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == std::string::npos) {
    return internalError("wrong Sec-WebSocket-Accept");
  }
  return c;
}

WsClient::~WsClient() {
  ::close(fd_);
}

Status WsClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return unavailable("closed");
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return Status(Code::TIMEOUT, "no data");
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return Status::ok();
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = eof_ = true;
    return unavailable("closed");
  }
  in_.append(buf, static_cast<size_t>(n));
  return Status::ok();
}

Status WsClient::sendFrame(uint8_t opcode, const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff));
  }
  static std::mt19937 rng(12345);
  char mask[4];
  for (char& m : mask)
    m = static_cast<char>(rng() & 0xff);
  f.append(mask, 4);
  for (size_t i = 0; i < n; ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  if (::send(fd_, f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size())) {
    return unavailable("send failed");
  }
  return Status::ok();
}

Status WsClient::sendBinary(const std::string& payload) {
  return sendFrame(0x2, payload);
}
Status WsClient::sendText(const std::string& payload) {
  return sendFrame(0x1, payload);
}

Result<std::string> WsClient::readMessage(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (in_.size() >= 2) {
      const uint8_t b0 = static_cast<uint8_t>(in_[0]), b1 = static_cast<uint8_t>(in_[1]);
      size_t len = b1 & 0x7f, hdr = 2;
      if (len == 126 && in_.size() >= 4) {
        len = (static_cast<uint8_t>(in_[2]) << 8) | static_cast<uint8_t>(in_[3]);
        hdr = 4;
      } else if (len == 127 && in_.size() >= 10) {
        len = 0;
        for (int i = 0; i < 8; ++i)
          len = (len << 8) | static_cast<uint8_t>(in_[2 + i]);
        hdr = 10;
      } else if (len >= 126) {
        hdr = 0;  // header incomplete
      }
      if (hdr && in_.size() >= hdr + len) {
        std::string payload = in_.substr(hdr, len);
        in_.erase(0, hdr + len);
        const uint8_t opcode = b0 & 0x0f;
        if (opcode == 0x8) {
          close_code_ = payload.size() >= 2
                            ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                    static_cast<uint8_t>(payload[1]))
                            : 1005;
          closed_ = true;
          return unavailable("close frame " + std::to_string(close_code_));
        }
        if (opcode == 0x9) {
          (void)sendFrame(0xA, payload);
          continue;
        }
        if (opcode == 0xA) continue;
        return payload;
      }
    }
    Status st = fill(deadline);
    if (!st.isOk()) return st;
  }
}

Result<client::Frame> WsClient::read(std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::string payload, readMessage(timeout));
  client::Frame frame;
  if (!frame.ParseFromString(payload)) return internalError("message is not a Frame");
  return frame;
}

Result<client::AuthResult> WsClient::auth(const std::string& token) {
  client::Frame frame;
  frame.mutable_auth()->set_token(token);
  frame.mutable_auth()->set_network(client::NETWORK_WIFI);
  RETURN_IF_ERROR(send(frame));
  ASSIGN_OR_RETURN(client::Frame reply, read());
  if (reply.has_auth_result()) return reply.auth_result();
  if (reply.has_error()) {
    return Status(Code::UNAUTHENTICATED,
                  std::to_string(reply.error().code()) + " " + reply.error().message());
  }
  return internalError("unexpected frame after Auth");
}

bool WsClient::waitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {  // read until the close frame (or EOF)
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto m = readMessage(left);
    if (m.isOk()) continue;
    if (m.status().code() == Code::TIMEOUT) return false;
    break;
  }
  while (!eof_) {  // then the TCP close
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    if (::recv(fd_, buf, sizeof buf, 0) <= 0) eof_ = true;
  }
  return true;
}

}  // namespace push::testing
