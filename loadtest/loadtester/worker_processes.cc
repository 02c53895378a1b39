#include "loadtest/loadtester/worker_processes.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace push::loadtester {
namespace {

// A worker's stdout lines are short; one longer than this is cut (push-load never writes one).
constexpr size_t kMaxLine = 64 * 1024;

}  // namespace

WorkerProcesses::~WorkerProcesses() {
  killAll();
}

Status WorkerProcesses::start(const std::vector<std::vector<std::string>>& argvs,
                              const std::vector<std::string>& log_paths) {
  if (argvs.size() != log_paths.size()) return invalidArgument("one log path per worker");
  const pid_t parent = ::getpid();
  for (size_t i = 0; i < argvs.size(); ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      killAll();
      return internalError(std::string("pipe: ") + std::strerror(errno));
    }
    const int log_fd = ::open(log_paths[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      killAll();
      return internalError("open " + log_paths[i] + ": " + std::strerror(errno));
    }
    std::vector<char*> argv;
    for (const std::string& a : argvs[i])
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      // The child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      const char msg[] = "push-loadtest: exec of the worker failed\n";
      (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
      ::_exit(127);
    }
    ::close(fds[1]);
    ::close(log_fd);
    if (pid < 0) {
      ::close(fds[0]);
      killAll();
      return internalError(std::string("fork: ") + std::strerror(errno));
    }
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    Worker w;
    w.pid = pid;
    w.stdout_fd = fds[0];
    workers_.push_back(std::move(w));
  }
  return Status::ok();
}

void WorkerProcesses::poll(std::chrono::milliseconds timeout, std::vector<Event>* events) {
  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].stdout_fd < 0) continue;
    fds.push_back({workers_[i].stdout_fd, POLLIN, 0});
    owners.push_back(i);
  }
  if (fds.empty()) {
    // Nothing to read: wait for exits (children that closed stdout early) in small steps.
    ::usleep(static_cast<useconds_t>(std::min<int64_t>(timeout.count(), 50) * 1000));
  } else if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) > 0) {
    char buf[16384];
    for (size_t k = 0; k < fds.size(); ++k) {
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Worker& w = workers_[owners[k]];
      for (;;) {
        const ssize_t n = ::read(w.stdout_fd, buf, sizeof buf);
        if (n > 0) {
          w.partial.append(buf, static_cast<size_t>(n));
          size_t begin = 0, nl;
          while ((nl = w.partial.find('\n', begin)) != std::string::npos) {
            events->push_back({Event::Kind::Line, owners[k], w.partial.substr(begin, nl - begin)});
            begin = nl + 1;
          }
          w.partial.erase(0, begin);
          if (w.partial.size() > kMaxLine) w.partial.clear();
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        ::close(w.stdout_fd);  // EOF or an error: nothing more from this worker
        w.stdout_fd = -1;
        break;
      }
    }
  }
  reap(events);
}

void WorkerProcesses::reap(std::vector<Event>* events) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    if (!w.reaped) {
      int status = 0;
      if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
        w.reaped = true;
        w.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    // Exited after its last line: once stdout is closed too.
    if (w.reaped && !w.reported && w.stdout_fd < 0) {
      w.reported = true;
      events->push_back({Event::Kind::Exited, i, {}, w.exit_code});
    }
  }
}

void WorkerProcesses::signalAll(int signum) {
  for (const Worker& w : workers_) {
    if (!w.reaped) ::kill(w.pid, signum);
  }
}

size_t WorkerProcesses::running() const {
  size_t n = 0;
  for (const Worker& w : workers_)
    n += w.reported ? 0 : 1;
  return n;
}

void WorkerProcesses::stopAll(std::chrono::milliseconds grace, std::vector<Event>* events) {
  signalAll(SIGTERM);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (running() > 0 && std::chrono::steady_clock::now() < until) {
    poll(std::chrono::milliseconds(100), events);
  }
  killAll();
  reap(events);
}

void WorkerProcesses::killAll() {
  for (Worker& w : workers_) {
    if (!w.reaped) {
      ::kill(w.pid, SIGKILL);
      int status = 0;
      pid_t got;
      do {  // no SA_RESTART in push-loadtest's handlers: a signal may interrupt the wait
        got = ::waitpid(w.pid, &status, 0);
      } while (got < 0 && errno == EINTR);
      if (got == w.pid) {
        w.reaped = true;
        w.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    if (w.stdout_fd >= 0) {
      ::close(w.stdout_fd);
      w.stdout_fd = -1;
    }
  }
}

}  // namespace push::loadtester
