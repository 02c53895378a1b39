#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace push::loadtester {

// The push-load worker processes of one push-loadtest run: started with their stdout piped
// to us (read line by line) and their stderr in a log file each; each also gets SIGTERM
// should push-loadtest die first (PR_SET_PDEATHSIG). Not thread-safe; one per run. The
// destructor kills (SIGKILL) and reaps whatever still runs.
class WorkerProcesses {
 public:
  struct Event {
    enum class Kind { Line, Exited } kind = Kind::Line;
    size_t worker = 0;
    std::string line;   // Kind::Line: without the newline
    int exit_code = 0;  // Kind::Exited: the exit status, or 128 + signal
  };

  WorkerProcesses() = default;
  ~WorkerProcesses();
  WorkerProcesses(const WorkerProcesses&) = delete;
  WorkerProcesses& operator=(const WorkerProcesses&) = delete;

  // Starts argvs[i] (argv[0] a path) with stderr to log_paths[i]. On an error the ones
  // already started are killed.
  Status start(const std::vector<std::vector<std::string>>& argvs,
               const std::vector<std::string>& log_paths);
  // Waits at most `timeout` (less when a signal arrives) and appends what happened: lines
  // read, and exits (a worker's Exited comes after every line it wrote).
  void poll(std::chrono::milliseconds timeout, std::vector<Event>* events);
  void signalAll(int signum);
  size_t running() const;
  size_t size() const { return workers_.size(); }
  // SIGTERM to all, up to `grace` for them to exit (their events are appended), then SIGKILL.
  void stopAll(std::chrono::milliseconds grace, std::vector<Event>* events);

 private:
  struct Worker {
    pid_t pid = -1;
    int stdout_fd = -1;
    std::string partial;
    bool reaped = false;
    bool reported = false;
    int exit_code = 0;
  };
  void reap(std::vector<Event>* events);
  void killAll();

  std::vector<Worker> workers_;
};

}  // namespace push::loadtester
