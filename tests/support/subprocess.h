#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace push::testing {

// A child process for integration tests: real servers started the way a user starts them.
// stdout is piped so the test can wait for the line a server prints once it listens; stderr
// goes to the test's stderr (ctest shows it on failure). The destructor kills (SIGKILL) and
// reaps a child that is still running, so a failing test leaves no process behind.
class Subprocess {
 public:
  // argv[0] is a path. `env` entries ("K=V") are added to the inherited environment.
  static Result<std::unique_ptr<Subprocess>> start(const std::vector<std::string>& argv,
                                                   const std::vector<std::string>& env = {});
  ~Subprocess();

  // Reads stdout until a line starting with `prefix` arrives and returns the rest of that
  // line (trimmed). TIMEOUT if none within `timeout`; UNAVAILABLE if the child closed stdout.
  Result<std::string> waitForLine(std::string_view prefix,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The rest of each of the first `count` lines starting with `prefix` (waits for them).
  Result<std::vector<std::string>> waitForLines(
      std::string_view prefix, size_t count,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Every stdout line read so far.
  const std::vector<std::string>& lines() const { return lines_; }

  void sendSignal(int signum);
  // Waits for the child to exit (at most `timeout`, then SIGKILL). Returns the exit code, or
  // 128 + signal number when it was killed by a signal.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();
  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  bool reaped_ = false;
  int exit_code_ = -1;
  // Reads what stdout has (waiting at most `wait`); false when the child closed stdout.
  bool pump(std::chrono::milliseconds wait);
  std::string partial_;
  std::vector<std::string> lines_;
};

// Directory of the project's executables (PUSH_BIN_DIR, set by ctest for every test).
std::string binDir();
// binDir() + "/" + name.
std::string binPath(std::string_view name);

}  // namespace push::testing
