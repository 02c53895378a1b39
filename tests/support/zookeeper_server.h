#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// A real standalone ZooKeeper for tests (docs/CONVENTIONS.md §16), from the Debian `zookeeper`
// package: `java -cp /usr/share/java/zookeeper.jar org.apache.zookeeper.server.ZooKeeperServerMain
// <zoo.cfg>` run directly (not zkServer.sh), so the test owns the PID. On a free 127.0.0.1 port,
// its data directory and zoo.cfg in a temporary directory removed on destruction, the admin
// server off, tickTime 100 ms and session timeouts clamped to [minSessionTimeout,
// maxSessionTimeout] = [200 ms, 4 s] so expiry tests take seconds, not minutes. Ready once it
// answers the `srvr` four-letter word with "Mode:" (4lw whitelisted in zoo.cfg; `ruok` alone
// says nothing about serving). The JVM's log goes to zookeeper.log in the temporary directory.
//
// java is $JAVA_BIN or /usr/bin/java; the jar is $ZOOKEEPER_JAR or
// /usr/share/java/zookeeper.jar (its manifest names the other jars). start() returns NOT_FOUND
// when either is missing (the test skips). A JVM start costs ~1 s on the 2-core machine: share
// one where the tests allow it (below). Not thread-safe: use from the test thread.
//
// The port is picked (free at that moment) before the JVM binds it, so another process may
// take it in between: when java exits at start (it does at once on "Address already in use"),
// start() picks a new port and tries again, at most kStartAttempts times.
//
// Shared across the processes of a ctest run (gtest_discover_tests runs every TEST in its own
// process, so a server per test binary is still a JVM per test): a ctest FIXTURES_SETUP test
// runs `zookeeper_fixture start <state file>` (startShared: a server detached from that
// process, its pid, port and directory written to the state file), the tests get the state
// file's path in $PUSH_ZOOKEEPER_SHARED and connect to sharedAddress(), and a FIXTURES_CLEANUP
// test runs `zookeeper_fixture stop <state file>` (stopShared: by PID), which ctest runs
// whether the tests passed or not. A test run directly (no variable) starts its own server.
class ZooKeeperServer {
 public:
  static constexpr int kStartAttempts = 5;
  // The environment variable naming the shared server's state file.
  static constexpr const char* kSharedEnv = "PUSH_ZOOKEEPER_SHARED";

  // True when java and the zookeeper jar are both there.
  static bool available();
  // A server owned by the returned object (and its process: it dies with the test).
  static Result<std::unique_ptr<ZooKeeperServer>> start();
  // stop() and removes the temporary directory.
  ~ZooKeeperServer();

  // Starts a server that outlives this process: its own session (setsid), no
  // parent-death signal, stdout/stderr to zookeeper.out in its directory (not to the caller's
  // pipes, which ctest reads until EOF). Once it serves, writes "<pid> <port> <dir>\n" to
  // `state_file`. A server named by an existing state file (a run interrupted before its
  // cleanup) is stopped first. NOT_FOUND without java or the jar (nothing written).
  static Status startShared(const std::string& state_file);
  // Stops the server named in `state_file` (SIGTERM, SIGKILL after 5 s; only a process whose
  // command line is that server's), removes its directory and the file. OK when there is no
  // file.
  static Status stopShared(const std::string& state_file);
  // "127.0.0.1:<port>" of the shared server named by $PUSH_ZOOKEEPER_SHARED when the variable
  // is set, its state file exists and that process is alive and accepts connections;
  // NOT_FOUND (with the reason) otherwise.
  static Result<std::string> sharedAddress();
  // For a suite's SetUpTestSuite: the shared server's address when there is one, else a server
  // of this suite's own, kept in `*own` (reset it in TearDownTestSuite). Empty when neither
  // java nor the jar is there or the server did not start (the tests skip or fail on that).
  static std::string sharedOrStart(std::unique_ptr<ZooKeeperServer>* own);

  // "127.0.0.1:<port>": the hosts string for a client.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  bool running() const { return process_ != nullptr || detached_pid_ != 0; }
  const std::string& dataDir() const { return data_dir_; }

  // SIGTERM, then SIGKILL after `grace` (or SIGKILL at once when `kill`), by PID, and reaps
  // it. The server is gone until resume(). No-op when stopped.
  void stop(bool kill = false, std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Starts it again on the same port and data directory (znodes and open sessions persisted
  // in its snapshot and log are still there). Waits until it serves. The port is not changed
  // (clients know it): UNAVAILABLE when java cannot bind it again.
  Status resume() { return launch(); }
  // stop() then resume().
  Status restart(bool kill = false);

  // Replaces the free-port choice of start() (nullptr: back to a free port), so a test can
  // hand it a port that is taken and see it try another.
  static void setPortPickerForTest(std::function<int()> picker);

  // Sends a four-letter word ("srvr", "stat", "cons", "mntr") and returns the reply.
  // UNAVAILABLE when nothing answers within `timeout`.
  Result<std::string> fourLetterWord(std::string_view word,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(2));

 private:
  ZooKeeperServer() = default;
  static std::function<int()>& portPicker();
  // Makes the directory and the config; start() and startShared() then call startOnFreePort().
  static Result<std::unique_ptr<ZooKeeperServer>> prepare(bool detached);
  // launch() on a new free port until java binds one (kStartAttempts).
  Status startOnFreePort();
  Status writeConfig();
  Status launch();
  // The JVM's argv.
  std::vector<std::string> commandLine() const;
  // Forks the JVM detached (see startShared) and records its pid.
  Status spawnDetached();
  bool processRunning();
  std::string logTail() const;

  std::string java_;
  std::string jar_;
  std::string dir_;
  std::string data_dir_;
  std::string config_;
  std::string address_;
  int port_ = 0;
  // Whether the last launch() failed because java exited at start (so another port may do).
  bool exited_at_start_ = false;
  std::unique_ptr<Subprocess> process_;  // an owned server
  bool detached_ = false;                // a shared one: a child of ours until we exit
  pid_t detached_pid_ = 0;
};

}  // namespace push::testing
