// push-broadcast-floor: the least a server can do to fan one message out to N subscribers on
// this machine, as the baseline run_broadcast_bench.sh prints next to the room and Redis
// (the "all pending frames in one write() per subscriber" row of ANCHORS.md's broadcast
// table). Raw epoll, no libraries, no project code.
//
// It listens, prints "ADDRESS 127.0.0.1:<port>", accepts --connections subscribers (push-load
// raw-broadcast), prints "ACCEPTED <n>", then produces --count frames: a 4-byte big-endian
// length and a payload in the benchmark's format ("bcast n=<i> t=<steady ns> " padded with
// '.', loadtest/loadgen/broadcast_payload.h), stamped when produced. Every frame goes to every
// subscriber; the frames live once in one buffer and each subscriber has an offset into it.
// At most --window frames are produced ahead of the slowest subscriber (the room's
// broadcast_max_in_flight plays that part); each pass writes everything pending to each
// subscriber in ONE write() (one syscall per subscriber per pass, whatever the number of
// frames), and a subscriber whose socket is full waits for EPOLLOUT. When every subscriber has
// every frame it prints
//   FLOOR connections= count= deliveries= seconds= deliveries_per_s= cores= writes=
// (seconds from the first frame to the last write; cores: its CPU over that time), closes the
// sockets and exits 0. Exits 1 on a socket error or after --max-seconds, 2 on bad flags.
//
//   push-broadcast-floor [--connections 10000] [--count 2000] [--payload-bytes 256]
//                        [--window 64] [--max-seconds 120]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  long connections = 10000;
  long count = 2000;
  long payload_bytes = 256;
  long window = 64;
  long max_seconds = 120;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "push-broadcast-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "push-broadcast-floor: %s\nusage: push-broadcast-floor [--connections 10000] "
               "[--count 2000] [--payload-bytes 256] [--window 64] [--max-seconds 120]\n",
               why);
  std::exit(2);
}

long parseLong(const char* flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    const std::string why = std::string(flag) + ": want an integer in [" + std::to_string(lo) +
                            ", " + std::to_string(hi) + "]";
    usage(why.c_str());
  }
  return v;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("every flag takes a value");
    const char* value = argv[i + 1];
    if (flag == "--connections") {
      o.connections = parseLong(argv[i], value, 1, 19500);
    } else if (flag == "--count") {
      o.count = parseLong(argv[i], value, 1, 200000);
    } else if (flag == "--payload-bytes") {
      o.payload_bytes = parseLong(argv[i], value, 48, 65536);
    } else if (flag == "--window") {
      o.window = parseLong(argv[i], value, 1, 100000);
    } else if (flag == "--max-seconds") {
      o.max_seconds = parseLong(argv[i], value, 1, 3600);
    } else {
      usage("unknown flag");
    }
  }
  return o;
}

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Subscriber {
  int fd = -1;
  size_t offset = 0;     // bytes of the stream written to it
  bool blocked = false;  // its socket was full: wait for EPOLLOUT
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  const int64_t deadline = steadyNs() + o.max_seconds * 1'000'000'000LL;

  const int listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) die("socket");
  const int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(listen_fd, 4096) != 0) die("listen");
  socklen_t addr_len = sizeof addr;
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    die("getsockname");
  }
  std::printf("ADDRESS 127.0.0.1:%u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) die("epoll_create1");
  std::vector<Subscriber> subs;
  subs.reserve(static_cast<size_t>(o.connections));
  while (static_cast<long>(subs.size()) < o.connections) {
    pollfd p{listen_fd, POLLIN, 0};
    const int64_t left_ms = (deadline - steadyNs()) / 1'000'000;
    if (left_ms <= 0) {
      errno = ETIMEDOUT;
      die("accepting subscribers (--max-seconds)");
    }
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (r < 0 && errno != EINTR) die("poll");
    if (r <= 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    epoll_event ev{};
    ev.events = 0;  // armed with EPOLLOUT | EPOLLONESHOT when its socket is full
    ev.data.u32 = static_cast<uint32_t>(subs.size());
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    subs.push_back(Subscriber{fd, 0, false});
  }
  ::close(listen_fd);
  std::printf("ACCEPTED %zu\n", subs.size());
  std::fflush(stdout);

  const size_t frame_bytes = 4 + static_cast<size_t>(o.payload_bytes);
  const size_t total_bytes = frame_bytes * static_cast<size_t>(o.count);
  std::vector<char> stream(total_bytes);
  size_t produced = 0;  // frames
  const int64_t t0 = steadyNs();
  const double cpu0 = cpuSeconds();
  uint64_t writes = 0;
  std::vector<epoll_event> events(1024);
  for (;;) {
    size_t slowest = total_bytes, done = 0;
    for (const Subscriber& s : subs) {
      slowest = std::min(slowest, s.offset);
      if (s.offset == total_bytes) ++done;
    }
    if (done == subs.size()) break;
    // Produce up to --window frames ahead of the slowest subscriber.
    const size_t slowest_frame = slowest / frame_bytes;
    while (produced < static_cast<size_t>(o.count) &&
           produced - slowest_frame < static_cast<size_t>(o.window)) {
      char* f = stream.data() + produced * frame_bytes;
      const auto len = static_cast<uint32_t>(o.payload_bytes);
      f[0] = static_cast<char>(len >> 24);
      f[1] = static_cast<char>(len >> 16);
      f[2] = static_cast<char>(len >> 8);
      f[3] = static_cast<char>(len);
      char tag[64];
      const int n =
          std::snprintf(tag, sizeof tag, "bcast n=%zu t=%" PRId64 " ", produced, steadyNs());
      std::memset(f + 4, '.', static_cast<size_t>(o.payload_bytes));
      std::memcpy(f + 4, tag, static_cast<size_t>(n));
      ++produced;
    }
    const size_t end = produced * frame_bytes;
    // One write() per subscriber of everything pending for it.
    bool progress = false;
    for (size_t i = 0; i < subs.size(); ++i) {
      Subscriber& s = subs[i];
      if (s.blocked || s.offset >= end) continue;
      const size_t want = end - s.offset;
      const ssize_t w = ::write(s.fd, stream.data() + s.offset, want);
      ++writes;
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) die("write");
      if (w > 0) {
        s.offset += static_cast<size_t>(w);
        progress = true;
      }
      if (w < static_cast<ssize_t>(want)) {
        s.blocked = true;
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLONESHOT;
        ev.data.u32 = static_cast<uint32_t>(i);
        if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s.fd, &ev) != 0) die("epoll_ctl");
      }
    }
    if (steadyNs() > deadline) {
      errno = ETIMEDOUT;
      die("broadcasting (--max-seconds)");
    }
    // Wait only when nothing can move without the kernel: every subscriber with pending
    // bytes is blocked (unblocked ones got everything produced, and producing more waits for
    // the slowest, which is blocked).
    const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                               progress ? 0 : 10'000);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    if (n == 0 && !progress) {
      errno = ETIMEDOUT;
      die("no subscriber could be written for 10 s");
    }
    for (int k = 0; k < n; ++k)
      subs[events[static_cast<size_t>(k)].data.u32].blocked = false;
  }
  const double seconds = static_cast<double>(steadyNs() - t0) / 1e9;
  const double cpu = cpuSeconds() - cpu0;
  const double deliveries = static_cast<double>(o.count) * static_cast<double>(subs.size());
  std::printf(
      "FLOOR connections=%zu count=%ld deliveries=%.0f seconds=%.3f deliveries_per_s=%.0f "
      "cores=%.2f writes=%" PRIu64 " window=%ld\n",
      subs.size(), o.count, deliveries, seconds, deliveries / seconds, cpu / seconds, writes,
      o.window);
  std::fflush(stdout);
  for (const Subscriber& s : subs)
    ::close(s.fd);
  return 0;
}
