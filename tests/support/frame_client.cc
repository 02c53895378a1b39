#include "tests/support/frame_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/net/frame_codec.h"
#include "common/net/inet_address.h"

namespace push::testing {

Result<std::unique_ptr<FrameClient>> FrameClient::connect(const std::string& address) {
  ASSIGN_OR_RETURN(net::InetAddress addr, net::InetAddress::parse(address));
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::strerror(errno));
  if (::connect(fd, addr.sockaddrPtr(), addr.length()) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("connect " + address + ": " + std::strerror(err));
  }
  return std::unique_ptr<FrameClient>(new FrameClient(fd));
}

FrameClient::~FrameClient() {
  ::close(fd_);
}

Status FrameClient::sendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return unavailable(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status FrameClient::send(const client::Frame& frame) {
  std::string body = frame.SerializeAsString();
  std::string bytes(4, '\0');
  net::encodeLengthPrefix(static_cast<uint32_t>(body.size()), bytes.data());
  return sendRaw(bytes + body);
}

Result<client::Frame> FrameClient::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    net::FrameView view;
    if (net::decodeLengthPrefixed(in_.data(), in_.size(), 16 << 20, &view) ==
        net::FrameStatus::Complete) {
      client::Frame frame;
      bool ok = frame.ParseFromArray(view.payload, static_cast<int>(view.size));
      in_.erase(0, view.consumed);
      if (!ok) return internalError("room sent bytes that are not a Frame");
      return frame;
    }
    if (closed_) return unavailable("connection closed by the room");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(Code::TIMEOUT, "no frame");
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      continue;
    }
    in_.append(buf, static_cast<size_t>(n));
  }
}

Result<client::Frame> FrameClient::readUntil(client::Frame::BodyCase type,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(Code::TIMEOUT, "no frame of the wanted type");
    ASSIGN_OR_RETURN(client::Frame f, read(left));
    if (f.body_case() == type) return f;
  }
}

bool FrameClient::waitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto f = read(left);
    if (!f.isOk() && f.status().code() == Code::UNAVAILABLE) return true;
    if (!f.isOk() && f.status().code() == Code::TIMEOUT) return false;
  }
}

Result<client::AuthResult> FrameClient::auth(const std::string& token,
                                             client::NetworkType network) {
  client::Frame frame;
  frame.mutable_auth()->set_token(token);
  frame.mutable_auth()->set_network(network);
  frame.mutable_auth()->set_client_version("frame-client/test");
  RETURN_IF_ERROR(send(frame));
  ASSIGN_OR_RETURN(client::Frame reply, read());
  if (reply.has_auth_result()) return reply.auth_result();
  if (reply.has_error()) {
    return Status(Code::UNAUTHENTICATED,
                  std::to_string(reply.error().code()) + " " + reply.error().message());
  }
  return internalError("unexpected frame after Auth");
}

}  // namespace push::testing
