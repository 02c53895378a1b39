#pragma once

// Helpers shared by the loop-based tests of common/net: raw blocking sockets for peers the
// test controls byte by byte, and a recording TcpConnection::Handler.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/metrics.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_connection.h"

namespace push::net::testing {

// For EventLoop::runUntil predicates that look at a raw socket the loop does not watch: how
// often to wake up and look again.
constexpr std::chrono::milliseconds kPoll{5};

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A bound, listening socket on 127.0.0.1 that never accepts.
inline Fd rawListener(int backlog, InetAddress* addr) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  InetAddress any = *InetAddress::parse("127.0.0.1:0");
  EXPECT_EQ(::bind(fd.get(), any.sockaddrPtr(), any.length()), 0);
  if (backlog >= 0) {
    EXPECT_EQ(::listen(fd.get(), backlog), 0);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *addr = InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss));
  return fd;
}

// A listener whose accept queue is full: further SYNs are dropped, so a connect hangs.
// Returns false if the kernel would not let a connection hang.
inline bool fullListener(Fd* listener, std::vector<Fd>* fillers, InetAddress* addr) {
  *listener = rawListener(0, addr);
  for (int i = 0; i < 64; ++i) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int rc = ::connect(c.get(), addr->sockaddrPtr(), addr->length());
    if (rc != 0 && errno != EINPROGRESS) return false;
    pollfd p{c.get(), POLLOUT, 0};
    const int ready = ::poll(&p, 1, 100);
    fillers->push_back(std::move(c));
    if (ready == 0) return true;  // this one hangs: the queue is full
  }
  return false;
}

inline void setNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// A TCP socket with an optional small receive buffer (set before connect, so the window
// stays small), connected with a blocking connect(). The kernel completes the handshake
// whether or not the server has accepted yet.
inline Fd connectRaw(const InetAddress& addr, int rcvbuf = 0) {
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid()) << std::strerror(errno);
  if (rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int rc = ::connect(fd.get(), addr.sockaddrPtr(), addr.length());
  EXPECT_EQ(rc, 0) << "connect " << addr.toString() << ": " << std::strerror(errno);
  return fd;
}

inline void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << std::strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads whatever is available without blocking (the socket must be non-blocking) and
// appends it to `out`. Returns 0 while open, 1 on EOF, -errno on errors such as ECONNRESET.
inline int readAvailable(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return 1;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}

// Bytes waiting in a socket's receive queue.
inline int bytesQueued(int fd) {
  int n = -1;
  ::ioctl(fd, FIONREAD, &n);
  return n;
}

inline std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 7 + seed) % 251);
  return s;
}

inline uint64_t counterValue(std::string_view name, std::string_view labels = "") {
  // Same name and labels return the registered counter; the help text is ignored then.
  return metrics::Registry::global().counter(name, "", labels).value();
}

// A Handler that records everything and lets each test override the interesting parts.
// By default it consumes and keeps every byte, and on peer shutdown does the default
// (finish writing, then close).
struct RecordingHandler : TcpConnection::Handler {
  using CloseReason = TcpConnection::CloseReason;

  TcpConnection* conn = nullptr;  // set by attach(), cleared in onClosed
  std::string received;           // every byte consumed
  std::vector<std::string> offered;
  int high = 0;
  int low = 0;
  int peer_shutdowns = 0;
  int closed_count = 0;
  std::optional<CloseReason> reason;
  std::vector<std::string> events;  // "data", "peer_shutdown", "high", "low", "closed"

  // Return how many bytes to consume; default: all of them.
  std::function<size_t(TcpConnection&, std::string_view)> on_data;
  std::function<void(TcpConnection&)> on_peer_shutdown;
  std::function<void(TcpConnection&)> on_high;
  std::function<void(TcpConnection&)> on_low;

  void attach(TcpConnection& c, const TcpConnection::Limits* limits) {
    conn = &c;
    c.start(this, limits);
  }

  size_t onData(TcpConnection& c, const char* data, size_t len) override {
    std::string_view view(data, len);
    offered.emplace_back(view);
    events.push_back("data");
    size_t used = on_data ? on_data(c, view) : len;
    received.append(data, used);
    return used;
  }
  void onClosed(TcpConnection& c, CloseReason r) override {
    EXPECT_EQ(&c, conn);
    ++closed_count;
    reason = r;
    conn = nullptr;
    events.push_back("closed");
  }
  void onPeerShutdown(TcpConnection& c) override {
    ++peer_shutdowns;
    events.push_back("peer_shutdown");
    if (on_peer_shutdown) {
      on_peer_shutdown(c);
    } else {
      Handler::onPeerShutdown(c);
    }
  }
  void onHighWatermark(TcpConnection& c) override {
    ++high;
    events.push_back("high");
    if (on_high) on_high(c);
  }
  void onLowWatermark(TcpConnection& c) override {
    ++low;
    events.push_back("low");
    if (on_low) on_low(c);
  }
  bool closed() const { return closed_count > 0; }
};

}  // namespace push::net::testing
