#include "tests/support/zookeeper_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/nsq_daemon.h"

namespace push::testing {

namespace {

std::string findFile(const char* env, std::initializer_list<const char*> paths, int mode) {
  std::vector<std::string> candidates;
  if (const char* value = std::getenv(env)) candidates.emplace_back(value);
  for (const char* path : paths)
    candidates.emplace_back(path);
  for (const std::string& path : candidates) {
    if (::access(path.c_str(), mode) == 0) return path;
  }
  return "";
}

std::string javaPath() {
  return findFile("JAVA_BIN", {"/usr/bin/java"}, X_OK);
}
std::string jarPath() {
  return findFile("ZOOKEEPER_JAR",
                  {"/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/zookeeper.jar"}, R_OK);
}

// slf4j's simple backend, so the server's log lands in a file of ours instead of being dropped
// (slf4j without a backend) or written to the piped stdout nobody reads. Optional.
std::string slf4jSimplePath() {
  return findFile("SLF4J_SIMPLE_JAR", {"/usr/share/java/slf4j-simple.jar"}, R_OK);
}

}  // namespace

bool ZooKeeperServer::available() {
  return !javaPath().empty() && !jarPath().empty();
}

Result<std::unique_ptr<ZooKeeperServer>> ZooKeeperServer::start() {
  std::unique_ptr<ZooKeeperServer> server(new ZooKeeperServer());
  server->java_ = javaPath();
  server->jar_ = jarPath();
  if (server->java_.empty()) return notFound("java not found");
  if (server->jar_.empty()) return notFound("zookeeper.jar not found");
  char pattern[] = "/tmp/zookeeper-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return internalError("mkdtemp failed");
  server->dir_ = pattern;
  server->data_dir_ = server->dir_ + "/data";
  server->config_ = server->dir_ + "/zoo.cfg";
  std::error_code ec;
  std::filesystem::create_directories(server->data_dir_, ec);
  if (ec) return internalError("creating " + server->data_dir_ + ": " + ec.message());
  server->port_ = freeLoopbackPort();
  server->address_ = "127.0.0.1:" + std::to_string(server->port_);
  {
    std::ofstream cfg(server->config_, std::ios::trunc);
    // tickTime bounds the session timeouts a client may get (2..20 ticks by default); with
    // 100 ms ticks and an explicit [200 ms, 4 s] window, a test asks for 1-2 s sessions and an
    // expiry is detected in about that long. forceSync=no: no fsync per write (a test box).
    cfg << "tickTime=100\n"
        << "initLimit=10\nsyncLimit=5\n"
        << "minSessionTimeout=200\nmaxSessionTimeout=4000\n"
        << "dataDir=" << server->data_dir_ << "\n"
        << "clientPort=" << server->port_ << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=srvr,stat,cons,mntr,ruok\n"
        << "maxClientCnxns=0\n"
        << "forceSync=no\n";
    if (!cfg) return internalError("writing " + server->config_);
  }
  RETURN_IF_ERROR(server->launch());
  return server;
}

Status ZooKeeperServer::launch() {
  if (process_) return Status::ok();
  std::string classpath = jar_;
  if (std::string simple = slf4jSimplePath(); !simple.empty()) classpath += ":" + simple;
  std::vector<std::string> argv = {
      java_,
      // A small, quick-starting JVM: tests need a few sessions, not throughput.
      "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
      "-Djava.net.preferIPv4Stack=true", "-Dzookeeper.admin.enableServer=false",
      "-Dzookeeper.jmx.log4j.disable=true",
      "-Dorg.slf4j.simpleLogger.logFile=" + dir_ + "/zookeeper.log",
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-Dorg.slf4j.simpleLogger.showDateTime=true",
      "-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", config_};
  ASSIGN_OR_RETURN(process_, Subprocess::start(argv));
  // The port accepts before the server serves (srvr then says "This ZooKeeper instance is not
  // currently serving requests"); "Mode:" is in the reply only once it does.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) {
      process_.reset();
      return unavailable("zookeeper exited at start: " + logTail());
    }
    if (loopbackPortAccepts(port_)) {
      auto reply = fourLetterWord("srvr", std::chrono::milliseconds(500));
      if (reply.isOk() && reply->find("Mode:") != std::string::npos) return Status::ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string tail = logTail();
  stop(true);
  return Status(Code::TIMEOUT, "zookeeper did not serve within 60 s: " + tail);
}

Result<std::string> ZooKeeperServer::fourLetterWord(std::string_view word,
                                                    std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return unavailable("connect failed");
  }
  if (::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    ::close(fd);
    return unavailable("send failed");
  }
  // The server writes its answer and closes: read to EOF, within the timeout.
  std::string reply;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return unavailable("no complete reply to " + std::string(word));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

void ZooKeeperServer::stop(bool kill, std::chrono::milliseconds grace) {
  if (!process_) return;
  process_->sendSignal(kill ? SIGKILL : SIGTERM);
  process_->wait(grace);  // SIGKILLs it after `grace`
  process_.reset();
}

Status ZooKeeperServer::restart(bool kill) {
  stop(kill);
  return launch();
}

std::string ZooKeeperServer::logTail() const {
  std::ifstream in(dir_ + "/zookeeper.log", std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

ZooKeeperServer::~ZooKeeperServer() {
  stop();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

}  // namespace push::testing
