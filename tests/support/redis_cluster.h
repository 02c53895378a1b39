#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// A real Redis Cluster for tests (docs/CONVENTIONS.md §16): `masters` redis-servers on free
// 127.0.0.1 ports with --cluster-enabled yes (each its own temporary directory and
// --cluster-config-file, its bus on another free port with --cluster-port, no persistence),
// joined with `redis-cli --cluster create ... --cluster-yes` (slots split evenly, no replicas),
// ready once every node reports cluster_state:ok. Everything is stopped by PID and removed on
// destruction. The binaries are $REDIS_SERVER_BIN / $REDIS_CLI_BIN or redis-server /
// redis-cli in /usr/bin or /usr/local/bin; NOT_FOUND when one is missing (the test skips).
class RedisCluster {
 public:
  // True when both redis-server and redis-cli are there.
  static bool available();
  static Result<std::unique_ptr<RedisCluster>> start(int masters = 3);
  ~RedisCluster();

  size_t size() const { return nodes_.size(); }
  // "127.0.0.1:<port>" of node i, and of every node.
  const std::string& address(size_t i) const { return nodes_[i].address; }
  std::vector<std::string> addresses() const;
  Subprocess& process(size_t i) { return *nodes_[i].process; }

  // Runs redis-cli with `args` (e.g. {"-p", "7000", "CLUSTER", "INFO"}) and returns its stdout
  // lines ('\r' trimmed), once it exited 0.
  static Result<std::vector<std::string>> cli(
      const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits until every node reports cluster_state:ok.
  Status waitUntilOk(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  struct Node {
    std::string dir;
    std::string address;
    int port = 0;
    int bus_port = 0;
    std::unique_ptr<Subprocess> process;
  };
  RedisCluster() = default;
  Status launch(Node& node);

  std::vector<Node> nodes_;
};

}  // namespace push::testing
