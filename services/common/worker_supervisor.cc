#include "services/common/worker_supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/base/log.h"
#include "common/net/inet_address.h"

namespace push::service {

Result<std::string> reservePort(const std::string& address, std::vector<int>* keep) {
  ASSIGN_OR_RETURN(net::InetAddress addr, net::InetAddress::parse(address));
  if (addr.port() != 0) return address;
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable("cannot reserve a port on " + address + ": no socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, addr.sockaddrPtr(), addr.length()) != 0) {
    ::close(fd);
    return unavailable("cannot reserve a port on " + address);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  keep->push_back(fd);
  return net::InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss)).toString();
}

std::string shiftPort(const std::string& address, int by) {
  auto addr = net::InetAddress::parse(address);
  if (!addr.isOk() || addr->port() == 0 || by == 0) return address;
  addr->setPort(static_cast<uint16_t>(addr->port() + by));
  return addr->toString();
}

int superviseWorkers(const std::string& name, int workers,
                     const std::function<int(int index)>& run_worker) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const auto n = static_cast<size_t>(workers);
  std::vector<pid_t> pids(n, -1);
  std::vector<int> quick_failures(n, 0);
  std::vector<std::chrono::steady_clock::time_point> started(n);
  auto spawn = [&](size_t i) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      sigprocmask(SIG_UNBLOCK, &signals, nullptr);
      const int rc = run_worker(static_cast<int>(i));
      std::fflush(stdout);
      ::_exit(rc);
    }
    if (pid < 0) {
      LOG_ERROR(App, "{}: fork of worker {} failed", name, i);
      return false;
    }
    pids[i] = pid;
    started[i] = std::chrono::steady_clock::now();
    return true;
  };
  size_t alive = 0;
  for (size_t i = 0; i < n; ++i)
    alive += spawn(i) ? 1 : 0;
  bool stopping = false;
  bool gave_up = false;
  while (alive > 0) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGTERM || sig == SIGINT) {
      stopping = true;
      for (pid_t p : pids) {
        if (p > 0) ::kill(p, sig);
      }
      continue;
    }
    pid_t pid;
    int status = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        if (pids[i] != pid) continue;
        pids[i] = -1;
        --alive;
        if (stopping) break;
        const bool quick = std::chrono::steady_clock::now() - started[i] < std::chrono::seconds(5);
        quick_failures[i] = quick ? quick_failures[i] + 1 : 0;
        if (quick_failures[i] >= 5) {
          LOG_ERROR(App, "{}: worker {} keeps exiting (status {}); not restarting it", name, i,
                    status);
          gave_up = true;
          break;
        }
        LOG_WARN(App, "{}: worker {} (pid {}) exited with status {}; restarting", name, i, pid,
                 status);
        if (quick) std::this_thread::sleep_for(std::chrono::seconds(1));
        if (spawn(i)) ++alive;
        break;
      }
    }
  }
  return stopping || !gave_up ? 0 : 1;
}

}  // namespace push::service
