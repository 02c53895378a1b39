#include "tests/unit/http/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/http/http_request.h"

namespace push::http::testing {

std::optional<std::string> ParsedResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

BlockingClient::BlockingClient(uint16_t port, int timeout_ms)
    : BlockingClient(port, Options{.timeout_ms = timeout_ms}) {}

BlockingClient::BlockingClient(uint16_t port, const Options& options) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  timeval tv{};
  tv.tv_sec = options.timeout_ms / 1000;
  tv.tv_usec = (options.timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options.receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer, sizeof options.receive_buffer);
  }
  if (!options.bind_host.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, options.bind_host.c_str(), &local.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

BlockingClient::~BlockingClient() {
  close();
}

bool BlockingClient::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool BlockingClient::fill() {
  if (fd_ < 0) return false;
  char chunk[16384];
  while (true) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

std::optional<ParsedResponse> BlockingClient::readResponse(bool head) {
  size_t header_end;
  while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  std::string_view head_text = std::string_view(buf_).substr(0, header_end);
  ParsedResponse resp;
  size_t line_end = head_text.find("\r\n");
  std::string_view status_line = head_text.substr(0, line_end);
  if (status_line.substr(0, 9) != "HTTP/1.1 " || status_line.size() < 12) return std::nullopt;
  resp.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view() : head_text.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    resp.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  size_t body_len = 0;
  const bool no_body = head || resp.status < 200 || resp.status == 204 || resp.status == 304;
  if (!no_body) {
    auto cl = resp.header("Content-Length");
    if (!cl) return std::nullopt;  // our server always sends it
    body_len = static_cast<size_t>(std::strtoull(cl->c_str(), nullptr, 10));
  }
  const size_t total = header_end + 4 + body_len;
  while (buf_.size() < total) {
    if (!fill()) return std::nullopt;
  }
  resp.body = buf_.substr(header_end + 4, body_len);
  buf_.erase(0, total);
  return resp;
}

bool BlockingClient::readBytes(size_t n, std::string* out) {
  while (buf_.size() < n) {
    if (!fill()) return false;
  }
  out->assign(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

std::string BlockingClient::readUntilClosed(bool* closed) {
  *closed = false;
  while (fd_ >= 0) {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      *closed = true;
      break;
    }
    if (n < 0) break;  // timeout
    buf_.append(chunk, static_cast<size_t>(n));
  }
  std::string out;
  out.swap(buf_);
  return out;
}

void BlockingClient::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void BlockingClient::close(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    linger lg{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ::close(fd_);
  fd_ = -1;
}

ClientThread::ClientThread(net::EventLoop& loop, std::function<void()> body) : loop_(loop) {
  thread_ = std::thread([this, body = std::move(body)] {
    body();
    done_.store(true);
    loop_.post({});  // wake the loop so runUntil() sees done_
  });
}

ClientThread::~ClientThread() {
  if (thread_.joinable()) thread_.join();
}

bool ClientThread::wait(int timeout_ms) {
  // done_ is set by the client thread, which the loop does not watch: poll it.
  return loop_.runUntil([this] { return done_.load(); }, std::chrono::milliseconds(timeout_ms),
                        std::chrono::milliseconds(5));
}

std::string getRequest(std::string_view target, std::string_view extra_headers) {
  std::string r = "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: test\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

std::string wsFrame(uint8_t opcode, std::string_view payload, bool masked, bool fin, uint8_t rsv) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t len = payload.size();
  if (len < 126) {
    f.push_back(static_cast<char>(mask_bit | len));
  } else if (len < 65536) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>((len >> shift) & 0xff));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return f;
}

std::string wsUpgradeRequest(std::string_view path, std::string_view extra_headers) {
  std::string r = "GET ";
  r += path;
  r += " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

uint16_t WsFrame::closeCode() const {
  if (payload.size() < 2) return 0;
  return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                               static_cast<uint8_t>(payload[1]));
}

std::optional<WsFrame> readWsFrame(BlockingClient& client) {
  std::string head;
  if (!client.readBytes(2, &head)) return std::nullopt;
  WsFrame frame;
  frame.fin = (static_cast<uint8_t>(head[0]) & 0x80) != 0;
  frame.opcode = static_cast<uint8_t>(head[0]) & 0x0f;
  uint64_t len = static_cast<uint8_t>(head[1]) & 0x7f;
  if ((static_cast<uint8_t>(head[1]) & 0x80) != 0) return std::nullopt;  // servers never mask
  std::string ext;
  if (len == 126 || len == 127) {
    const size_t n = len == 126 ? 2 : 8;
    if (!client.readBytes(n, &ext)) return std::nullopt;
    len = 0;
    for (char c : ext)
      len = (len << 8) | static_cast<uint8_t>(c);
  }
  if (!client.readBytes(static_cast<size_t>(len), &frame.payload)) return std::nullopt;
  return frame;
}

}  // namespace push::http::testing
