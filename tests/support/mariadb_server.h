#pragma once

#include <memory>
#include <string>

#include "common/base/result.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// A real MariaDB for tests (docs/CONVENTIONS.md §16). start() makes a data directory with
// mariadb-install-db in a temporary directory, runs mariadbd on a free 127.0.0.1 port and a
// unix socket in that directory, with small buffers and no binlog so it starts in about a
// second, waits until it accepts, then (as root over the socket) creates database() and
// user() / password() with every privilege on it. Starting costs a few seconds on a loaded
// 2-core machine: share one per test suite (SetUpTestSuite), not one per test.
//
// The binaries are $MARIADBD_BIN / $MARIADB_INSTALL_DB_BIN / $MARIADB_CLIENT_BIN or the
// Debian paths; start() returns NOT_FOUND when one is missing (the test skips).
//
// Under ctest ($PUSH_BIN_DIR set) the fresh data directory is copied from a pristine one kept
// in the build tree ($PUSH_BIN_DIR/../mariadb-test-template, made once under a file lock),
// which saves seconds per server; MARIADB_NO_TEMPLATE=1 installs every time.
//
// Commits survive stop(kill) (innodb_flush_log_at_trx_commit=2: written to the OS at commit),
// not a machine crash. Not thread-safe: use from the test thread.
class MariaDbServer {
 public:
  // True when mariadbd, mariadb-install-db and the mariadb client are all there.
  static bool available();
  static Result<std::unique_ptr<MariaDbServer>> start();
  // Stops the server (SIGKILL, by PID) and removes the temporary directory.
  ~MariaDbServer();

  const std::string& host() const { return host_; }  // "127.0.0.1"
  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  const std::string& socketPath() const { return socket_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  const std::string& database() const { return database_; }
  const std::string& dataDir() const { return data_dir_; }
  bool running() const { return process_ != nullptr; }

  // Runs `statements` (';'-separated) as root over the socket with the mariadb client and
  // returns its output (tab-separated rows, no column names). For test setup and checks.
  Result<std::string> rootQuery(const std::string& statements);

  // SIGKILL (or SIGTERM: a clean shutdown) and wait; the server is gone until resume().
  void stop(bool kill = true);
  // Starts it again on the same port, socket and data directory (the data is still there).
  Status resume() { return launch(); }

 private:
  MariaDbServer() = default;
  Status launch();
  // mariadb-install-db into `data_dir`, output to `log`.
  Status installInto(const std::string& data_dir, const std::string& log) const;
  // data_dir_: a copy of a cached pristine one, or a fresh install.
  Status makeDataDir();
  std::string errorLogTail() const;

  std::string mariadbd_;
  std::string install_db_;
  std::string client_;
  std::string dir_;
  std::string data_dir_;
  std::string socket_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string user_ = "push";
  std::string password_ = "push-test-pw";
  std::string database_ = "push_test";
  std::unique_ptr<Subprocess> process_;
};

}  // namespace push::testing
