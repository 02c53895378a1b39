#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/support/nsq_daemon.h"

namespace push::testing {

namespace {}  // namespace

std::string RedisServer::binary() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("REDIS_SERVER_BIN")) candidates.emplace_back(env);
  candidates.emplace_back("/usr/bin/redis-server");
  candidates.emplace_back("/usr/local/bin/redis-server");
  for (const std::string& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

Result<std::unique_ptr<RedisServer>> RedisServer::start() {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->binary_ = binary();
  if (server->binary_.empty()) return Status(Code::NOT_FOUND, "redis-server not found");
  char pattern[] = "/tmp/redis-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return Status(Code::INTERNAL, "mkdtemp failed");
  server->dir_ = pattern;
  server->port_ = freeLoopbackPort();
  server->address_ = "127.0.0.1:" + std::to_string(server->port_);
  RETURN_IF_ERROR(server->launch());
  return server;
}

Status RedisServer::launch() {
  ASSIGN_OR_RETURN(process_, Subprocess::start({binary_, "--port", std::to_string(port_), "--bind",
                                                "127.0.0.1", "--dir", dir_, "--save", "",
                                                "--appendonly", "no", "--loglevel", "warning"}));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (loopbackPortAccepts(port_)) return Status::ok();
    if (!process_->running()) return Status(Code::UNAVAILABLE, "redis-server exited at start");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status(Code::TIMEOUT, "redis-server did not listen within 10 s");
}

void RedisServer::stop(bool kill) {
  if (!process_) return;
  process_->sendSignal(kill ? SIGKILL : SIGTERM);
  process_->wait(std::chrono::seconds(10));
  process_.reset();
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace push::testing
