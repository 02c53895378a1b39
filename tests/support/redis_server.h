#pragma once

#include <memory>
#include <string>

#include "common/base/result.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// A real redis-server for tests (docs/CONVENTIONS.md §16): on a free 127.0.0.1 port, its
// working directory a temporary one removed on destruction, no persistence (--save "",
// --appendonly no). Ready once the port accepts. The binary is $REDIS_SERVER_BIN or
// redis-server on the PATH (/usr/bin, /usr/local/bin); NOT_FOUND when there is none (the test
// skips).
class RedisServer {
 public:
  static std::string binary();
  static Result<std::unique_ptr<RedisServer>> start();
  ~RedisServer();

  // "127.0.0.1:<port>"
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  Subprocess& process() { return *process_; }

  // SIGKILL (or SIGTERM) and wait; the server is gone until resume().
  void stop(bool kill = true);
  // Starts it again on the same port (empty: nothing was persisted).
  Status resume() { return launch(); }

 private:
  RedisServer() = default;
  Status launch();

  std::string binary_;
  std::string dir_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace push::testing
