#include "loadtest/loadtester/storm_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace push::loadtester {
namespace {

int exitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

StormCommand::~StormCommand() {
  kill();
}

Status StormCommand::start(const std::string& command, const std::string& log_path) {
  if (pid_ > 0) return internalError("the storm command was started already");
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return internalError("open " + log_path + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(log_fd);
    return internalError(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    const char msg[] = "push-loadtest: exec of /bin/sh failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return Status::ok();
}

bool StormCommand::poll() {
  if (pid_ <= 0) return false;
  if (reaped_) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    exit_code_ = exitCodeOf(status);
  }
  return reaped_;
}

void StormCommand::kill() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t got;
  do {  // no SA_RESTART in push-loadtest's handlers: a signal may interrupt the wait
    got = ::waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  if (got == pid_) {
    reaped_ = true;
    exit_code_ = exitCodeOf(status);
  }
}

}  // namespace push::loadtester
