#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace push::testing {

Result<std::unique_ptr<Subprocess>> Subprocess::start(const std::vector<std::string>& argv,
                                                      const std::vector<std::string>& env) {
  if (argv.empty()) return invalidArgument("empty argv");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return internalError(std::strerror(errno));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    env_strings.emplace_back(*e);
  for (const auto& e : env)
    env_strings.push_back(e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env_strings)
    cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return internalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Die with the test, even when it is killed: no server outlives a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::execve(cargv[0], cargv.data(), cenv.data());
    std::fprintf(stderr, "exec %s: %s\n", cargv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, pipe_fds[0]));
}

Subprocess::~Subprocess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool Subprocess::pump(std::chrono::milliseconds wait) {
  pollfd pfd{stdout_fd_, POLLIN, 0};
  int rc = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
  if (rc <= 0) return true;
  char buf[4096];
  ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
  if (n <= 0) return false;
  partial_.append(buf, static_cast<size_t>(n));
  size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    lines_.push_back(partial_.substr(0, nl));
    partial_.erase(0, nl + 1);
  }
  return true;
}

Result<std::vector<std::string>> Subprocess::waitForLines(std::string_view prefix, size_t count,
                                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> found;
    for (const std::string& line : lines_) {
      if (line.compare(0, prefix.size(), prefix) != 0) continue;
      std::string rest = line.substr(prefix.size());
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
        rest.erase(0, 1);
      while (!rest.empty() && (rest.back() == '\r' || rest.back() == ' '))
        rest.pop_back();
      found.push_back(rest);
      if (found.size() == count) return found;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status(Code::TIMEOUT, "saw " + std::to_string(found.size()) + " of " +
                                       std::to_string(count) + " lines starting with '" +
                                       std::string(prefix) + "'");
    }
    if (!pump(left)) return unavailable("child closed stdout before printing the lines");
  }
}

Result<std::string> Subprocess::waitForLine(std::string_view prefix,
                                            std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto lines, waitForLines(prefix, 1, timeout));
  return lines[0];
}

void Subprocess::sendSignal(int signum) {
  if (!reaped_) ::kill(pid_, signum);
}

bool Subprocess::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

std::string binDir() {
  const char* dir = std::getenv("PUSH_BIN_DIR");
  return dir ? dir : "./bin";
}

std::string binPath(std::string_view name) {
  return binDir() + "/" + std::string(name);
}

}  // namespace push::testing
