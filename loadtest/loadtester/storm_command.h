#pragma once

#include <sys/types.h>

#include <string>

#include "common/base/status.h"

namespace push::loadtester {

// The command of a reconnect-storm run (`--storm-command`): what drops the connections, run
// once through /bin/sh with stdout and stderr to a log file ("kill -9 <room worker pid>",
// a drain call, an ip-tables rule...). Not thread-safe; one per run. The destructor kills
// (SIGKILL) and reaps it if it still runs.
class StormCommand {
 public:
  StormCommand() = default;
  ~StormCommand();
  StormCommand(const StormCommand&) = delete;
  StormCommand& operator=(const StormCommand&) = delete;

  // Starts `command`; an error when it cannot be (no fork, log not writable).
  Status start(const std::string& command, const std::string& log_path);
  // True once it has exited (exitCode() is then its status, 128 + signal when killed).
  bool poll();
  int exitCode() const { return exit_code_; }
  bool started() const { return pid_ > 0; }
  // SIGKILL and reap, if it still runs.
  void kill();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace push::loadtester
