// push-tcp-floor: what the kernel alone costs for the client leg of a unicast push, as the
// baseline that run_unicast_bench.sh prints next to the end-to-end figures.
//
// A server process writes one push of --push-bytes to each of --connections loopback TCP
// connections in turn (keeping --window pushes unacknowledged) and reads the acks; a client
// process (forked) reads each connection and answers every read with one ack of --ack-bytes.
// That is the room's and an acking client's work per push with nothing else: no framing, no
// protobuf, no sessions, no center or register. Raw epoll, level-triggered, no libraries.
//
//   push-tcp-floor [--connections 1000] [--window 64] [--seconds 5] [--push-bytes 56]
//                  [--ack-bytes 16] [--sources 127.0.0.2-127.0.0.9]
//
// Prints `RESULT tcp_floor connections= window= msg_per_s= server_us_per_msg=
// client_us_per_msg= server_cores= client_cores=` (CPU from getrusage of each process).
// Exits 1 on any socket error or when the client process dies (also while connecting), 2 on bad
// flags. Bounded: --seconds (max 60) of load, then the server closes every connection and the
// client exits at end of file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  long connections = 1000;
  long window = 64;
  long seconds = 5;
  long push_bytes = 56;
  long ack_bytes = 16;
  uint32_t source_first = 0x7f000002;  // 127.0.0.2
  uint32_t source_last = 0x7f000009;   // 127.0.0.9
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "push-tcp-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "push-tcp-floor: %s\nusage: push-tcp-floor [--connections 1000] [--window 64] "
               "[--seconds 5] [--push-bytes 56] [--ack-bytes 16] [--sources A-B]\n",
               why);
  std::exit(2);
}

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long parseLong(const char* flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    std::string why = std::string(flag) + ": want an integer in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]";
    usage(why.c_str());
  }
  return v;
}

uint32_t parseIpv4(std::string_view text) {
  in_addr a{};
  const std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) usage("--sources: want A-B, IPv4 addresses");
  return ntohl(a.s_addr);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("every flag takes a value");
    const char* value = argv[i + 1];
    if (flag == "--connections") {
      o.connections = parseLong(argv[i], value, 1, 19000);
    } else if (flag == "--window") {
      o.window = parseLong(argv[i], value, 1, 1 << 20);
    } else if (flag == "--seconds") {
      o.seconds = parseLong(argv[i], value, 1, 60);
    } else if (flag == "--push-bytes") {
      o.push_bytes = parseLong(argv[i], value, 1, 65536);
    } else if (flag == "--ack-bytes") {
      o.ack_bytes = parseLong(argv[i], value, 1, 65536);
    } else if (flag == "--sources") {
      const std::string_view range = value;
      const size_t dash = range.find('-');
      o.source_first = parseIpv4(range.substr(0, dash));
      o.source_last =
          dash == std::string_view::npos ? o.source_first : parseIpv4(range.substr(dash + 1));
      if (o.source_last < o.source_first || o.source_last - o.source_first > 255) {
        usage("--sources: want A-B with A <= B, at most 256 addresses");
      }
    } else {
      usage("unknown flag");
    }
  }
  return o;
}

void setNoDelay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("TCP_NODELAY");
}

void watch(int epoll_fd, int fd, uint32_t index) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = index;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

// The client process: connects, then acks every read until the server closes. Writes
// "<cpu seconds> <pushes read>" to report_fd.
[[noreturn]] void runClient(const Options& o, const sockaddr_in& server, int report_fd) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) die("epoll_create1");
  std::vector<int> fds;
  const uint32_t sources = o.source_last - o.source_first + 1;
  for (long i = 0; i < o.connections; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(o.source_first + static_cast<uint32_t>(i) % sources);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) die("bind source");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
      die("connect");
    }
    setNoDelay(fd);
    watch(epoll_fd, fd, static_cast<uint32_t>(fds.size()));
    fds.push_back(fd);
  }
  std::vector<char> buf(65536);
  const std::vector<char> ack(static_cast<size_t>(o.ack_bytes), 'a');
  epoll_event events[256];
  long pushes = 0, open = o.connections;
  double cpu_start = -1;
  while (open > 0) {
    const int n = ::epoll_wait(epoll_fd, events, 256, 10'000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("epoll_wait (no pushes for 10 s)");
    if (cpu_start < 0) cpu_start = cpuSeconds();
    for (int k = 0; k < n; ++k) {
      const int fd = fds[events[k].data.u32];
      const ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) {
        ::close(fd);  // the server is done with it (also removes it from the epoll set)
        --open;
        continue;
      }
      pushes += r / o.push_bytes;
      if (::write(fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) die("write ack");
    }
  }
  char line[64];
  const int len = std::snprintf(line, sizeof line, "%.6f %ld\n", cpuSeconds() - cpu_start, pushes);
  if (::write(report_fd, line, static_cast<size_t>(len)) != len) die("report");
  std::exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  // A write to a peer that died is an error to report (exit 1), not a silent SIGPIPE death.
  ::signal(SIGPIPE, SIG_IGN);
  const int listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(listen_fd, 4096) != 0) die("listen");
  socklen_t addr_len = sizeof addr;
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    die("getsockname");
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) die("pipe");
  const pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    ::close(report[0]);
    runClient(o, addr, report[1]);
  }
  ::close(report[1]);

  std::vector<int> fds;
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) die("epoll_create1");
  while (static_cast<long>(fds.size()) < o.connections) {
    // Wait for the next connection or for the client to die (its end of the report pipe
    // closes): a client that failed to connect must not leave the server blocked in accept().
    pollfd waiting[2] = {{listen_fd, POLLIN, 0}, {report[0], POLLIN, 0}};
    const int ready = ::poll(waiting, 2, 10'000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) die("poll");
    if (ready == 0) {
      errno = ETIMEDOUT;
      die("accept (no connection for 10 s)");
    }
    if (waiting[1].revents != 0) {
      std::fprintf(stderr,
                   "push-tcp-floor: the client process ended after %zu of %ld connections\n",
                   fds.size(), o.connections);
      ::waitpid(child, nullptr, 0);
      return 1;
    }
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) die("accept");
    setNoDelay(fd);
    watch(epoll_fd, fd, static_cast<uint32_t>(fds.size()));
    fds.push_back(fd);
  }
  ::close(listen_fd);

  const std::vector<char> push(static_cast<size_t>(o.push_bytes), 'p');
  std::vector<char> buf(65536);
  epoll_event events[256];
  long sent = 0, acked = 0;
  size_t next = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::seconds(o.seconds);
  const double cpu0 = cpuSeconds();
  for (;;) {
    while (sent - acked < o.window) {
      if (::write(fds[next], push.data(), push.size()) != static_cast<ssize_t>(push.size())) {
        die("write push");
      }
      next = next + 1 == fds.size() ? 0 : next + 1;
      ++sent;
    }
    const int n = ::epoll_wait(epoll_fd, events, 256, 10'000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("epoll_wait (no acks for 10 s)");
    for (int k = 0; k < n; ++k) {
      const ssize_t r = ::read(fds[events[k].data.u32], buf.data(), buf.size());
      if (r <= 0) die("read ack");
      acked += r / o.ack_bytes;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double server_cpu = cpuSeconds() - cpu0;
  for (int fd : fds)
    ::close(fd);

  char line[64] = {};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof line) - 1) {
    const ssize_t r = ::read(report[0], line + got, sizeof line - 1 - static_cast<size_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += r;
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  double client_cpu = 0;
  long client_pushes = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      std::sscanf(line, "%lf %ld", &client_cpu, &client_pushes) != 2 || client_pushes <= 0 ||
      acked <= 0) {
    std::fprintf(stderr, "push-tcp-floor: the client process failed\n");
    return 1;
  }
  std::printf(
      "RESULT tcp_floor connections=%ld window=%ld msg_per_s=%.0f server_us_per_msg=%.2f "
      "client_us_per_msg=%.2f server_cores=%.2f client_cores=%.2f\n",
      o.connections, o.window, static_cast<double>(acked) / elapsed,
      server_cpu / static_cast<double>(acked) * 1e6,
      client_cpu / static_cast<double>(client_pushes) * 1e6, server_cpu / elapsed,
      client_cpu / elapsed);
  return 0;
}
