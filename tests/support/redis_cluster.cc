#include "tests/support/redis_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/support/nsq_daemon.h"
#include "tests/support/redis_server.h"

namespace push::testing {

namespace {

std::string cliBinary() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("REDIS_CLI_BIN")) candidates.emplace_back(env);
  candidates.emplace_back("/usr/bin/redis-cli");
  candidates.emplace_back("/usr/local/bin/redis-cli");
  for (const std::string& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

}  // namespace

bool RedisCluster::available() {
  return !RedisServer::binary().empty() && !cliBinary().empty();
}

Result<std::vector<std::string>> RedisCluster::cli(const std::vector<std::string>& args,
                                                   std::chrono::milliseconds timeout) {
  const std::string binary = cliBinary();
  if (binary.empty()) return Status(Code::NOT_FOUND, "redis-cli not found");
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(auto process, Subprocess::start(argv));
  // Reading every line also keeps the pipe drained. A line that never comes: the child
  // closed stdout (exited) or the timeout passed.
  auto lines = process->waitForLines("", SIZE_MAX, timeout);
  (void)lines;
  const int code = process->wait(timeout);
  if (code != 0) {
    return Status(Code::INTERNAL, "redis-cli exited " + std::to_string(code) + " for " +
                                      (args.empty() ? std::string() : args.back()));
  }
  std::vector<std::string> out = process->lines();
  for (std::string& line : out) {
    while (!line.empty() && line.back() == '\r')
      line.pop_back();
  }
  return out;
}

Result<std::unique_ptr<RedisCluster>> RedisCluster::start(int masters) {
  if (!available()) return Status(Code::NOT_FOUND, "redis-server or redis-cli not found");
  std::unique_ptr<RedisCluster> cluster(new RedisCluster());
  cluster->nodes_.resize(static_cast<size_t>(masters));
  for (Node& node : cluster->nodes_) {
    char pattern[] = "/tmp/redis-cluster-test-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Status(Code::INTERNAL, "mkdtemp failed");
    node.dir = pattern;
    node.port = freeLoopbackPort();
    // The bus port is set explicitly: the default (port + 10000) may be past 65535 or taken.
    do {
      node.bus_port = freeLoopbackPort();
    } while (node.bus_port == node.port);
    node.address = "127.0.0.1:" + std::to_string(node.port);
    RETURN_IF_ERROR(cluster->launch(node));
  }
  std::vector<std::string> create{"--cluster", "create"};
  for (const Node& node : cluster->nodes_)
    create.push_back(node.address);
  create.emplace_back("--cluster-yes");
  ASSIGN_OR_RETURN(auto out, cli(create, std::chrono::seconds(60)));
  (void)out;
  RETURN_IF_ERROR(cluster->waitUntilOk());
  return cluster;
}

Status RedisCluster::launch(Node& node) {
  ASSIGN_OR_RETURN(node.process, Subprocess::start({RedisServer::binary(),
                                                    "--port",
                                                    std::to_string(node.port),
                                                    "--cluster-port",
                                                    std::to_string(node.bus_port),
                                                    "--bind",
                                                    "127.0.0.1",
                                                    "--dir",
                                                    node.dir,
                                                    "--cluster-enabled",
                                                    "yes",
                                                    "--cluster-config-file",
                                                    node.dir + "/nodes.conf",
                                                    "--cluster-node-timeout",
                                                    "5000",
                                                    "--save",
                                                    "",
                                                    "--appendonly",
                                                    "no",
                                                    "--loglevel",
                                                    "warning"}));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (loopbackPortAccepts(node.port)) return Status::ok();
    if (!node.process->running()) return Status(Code::UNAVAILABLE, "redis-server exited at start");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status(Code::TIMEOUT, "redis-server did not listen within 10 s");
}

Status RedisCluster::waitUntilOk(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const Node& node : nodes_) {
    for (;;) {
      auto lines = cli({"-h", "127.0.0.1", "-p", std::to_string(node.port), "CLUSTER", "INFO"},
                       std::chrono::seconds(5));
      if (lines.isOk()) {
        bool ok = false;
        for (const std::string& line : *lines)
          ok = ok || line.rfind("cluster_state:ok", 0) == 0;
        if (ok) break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status(Code::TIMEOUT,
                      "redis cluster node " + node.address + " not in cluster_state:ok in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::ok();
}

std::vector<std::string> RedisCluster::addresses() const {
  std::vector<std::string> out;
  for (const Node& node : nodes_)
    out.push_back(node.address);
  return out;
}

RedisCluster::~RedisCluster() {
  for (Node& node : nodes_) {
    if (node.process) {
      node.process->sendSignal(SIGKILL);
      node.process->wait(std::chrono::seconds(10));
      node.process.reset();
    }
    std::error_code ignored;
    if (!node.dir.empty()) std::filesystem::remove_all(node.dir, ignored);
  }
}

}  // namespace push::testing
