#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

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
// one per test suite where the tests allow it. Not thread-safe: use from the test thread.
class ZooKeeperServer {
 public:
  // True when java and the zookeeper jar are both there.
  static bool available();
  static Result<std::unique_ptr<ZooKeeperServer>> start();
  // stop() and removes the temporary directory.
  ~ZooKeeperServer();

  // "127.0.0.1:<port>": the hosts string for a client.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  bool running() const { return process_ != nullptr; }
  const std::string& dataDir() const { return data_dir_; }

  // SIGTERM, then SIGKILL after `grace` (or SIGKILL at once when `kill`), by PID, and reaps
  // it. The server is gone until resume(). No-op when stopped.
  void stop(bool kill = false, std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Starts it again on the same port and data directory (znodes and open sessions persisted
  // in its snapshot and log are still there). Waits until it serves.
  Status resume() { return launch(); }
  // stop() then resume().
  Status restart(bool kill = false);

  // Sends a four-letter word ("srvr", "stat", "cons", "mntr") and returns the reply.
  // UNAVAILABLE when nothing answers within `timeout`.
  Result<std::string> fourLetterWord(std::string_view word,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(2));

 private:
  ZooKeeperServer() = default;
  Status launch();
  std::string logTail() const;

  std::string java_;
  std::string jar_;
  std::string dir_;
  std::string data_dir_;
  std::string config_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace push::testing
