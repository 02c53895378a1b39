#include "tests/support/zookeeper_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/nsq_daemon.h"

#if defined(__SANITIZE_ADDRESS__)
// Test binaries that talk to ZooKeeper link this file. libzookeeper_mt 3.8.0 leaks on its own
// threads: completion entries it holds when a session expires or is closed with calls in
// flight, allocated by the library's I/O thread, so the ScopedDisabler around our zoo_a* calls
// (common/discovery/zk_client.cc) cannot cover them, and their stacks hold only the stripped
// library's frames. Seen in AppDirectoryTest's session expiry, about one run in ten. The
// suppression lives here, in the tests, never in the library the services link.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libzookeeper_mt.so\n";
}
#endif

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

std::function<int()>& ZooKeeperServer::portPicker() {
  static std::function<int()> picker;
  return picker;
}

void ZooKeeperServer::setPortPickerForTest(std::function<int()> picker) {
  portPicker() = std::move(picker);
}

bool ZooKeeperServer::available() {
  return !javaPath().empty() && !jarPath().empty();
}

Result<std::unique_ptr<ZooKeeperServer>> ZooKeeperServer::prepare(bool detached) {
  std::unique_ptr<ZooKeeperServer> server(new ZooKeeperServer());
  server->detached_ = detached;
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
  return server;
}

Result<std::unique_ptr<ZooKeeperServer>> ZooKeeperServer::start() {
  ASSIGN_OR_RETURN(auto server, prepare(false));
  RETURN_IF_ERROR(server->startOnFreePort());
  return server;
}

Status ZooKeeperServer::startOnFreePort() {
  Status last;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = portPicker() ? portPicker()() : freeLoopbackPort();
    address_ = "127.0.0.1:" + std::to_string(port_);
    RETURN_IF_ERROR(writeConfig());
    last = launch();
    // Only an early exit (a port taken between freeLoopbackPort() and java's bind, seen as
    // "Address already in use" in the log) is worth another port; a timeout is not.
    if (last.isOk() || !exited_at_start_) return last;
  }
  return last.withContext("zookeeper: " + std::to_string(kStartAttempts) + " ports tried");
}

Status ZooKeeperServer::writeConfig() {
  std::ofstream cfg(config_, std::ios::trunc);
  // tickTime bounds the session timeouts a client may get (2..20 ticks by default); with
  // 100 ms ticks and an explicit [200 ms, 4 s] window, a test asks for 1-2 s sessions and an
  // expiry is detected in about that long. forceSync=no: no fsync per write (a test box).
  cfg << "tickTime=100\n"
      << "initLimit=10\nsyncLimit=5\n"
      << "minSessionTimeout=200\nmaxSessionTimeout=4000\n"
      << "dataDir=" << data_dir_ << "\n"
      << "clientPort=" << port_ << "\n"
      << "clientPortAddress=127.0.0.1\n"
      << "admin.enableServer=false\n"
      << "4lw.commands.whitelist=srvr,stat,cons,mntr,ruok\n"
      << "maxClientCnxns=0\n"
      << "forceSync=no\n";
  cfg.close();
  if (!cfg) return internalError("writing " + config_);
  return Status::ok();
}

std::vector<std::string> ZooKeeperServer::commandLine() const {
  std::string classpath = jar_;
  if (std::string simple = slf4jSimplePath(); !simple.empty()) classpath += ":" + simple;
  return {java_,
          // A small, quick-starting JVM: tests need a few sessions, not throughput.
          "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
          "-Djava.net.preferIPv4Stack=true", "-Dzookeeper.admin.enableServer=false",
          "-Dzookeeper.jmx.log4j.disable=true",
          "-Dorg.slf4j.simpleLogger.logFile=" + dir_ + "/zookeeper.log",
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
          "-Dorg.slf4j.simpleLogger.showDateTime=true", "-cp", classpath,
          "org.apache.zookeeper.server.ZooKeeperServerMain", config_};
}

Status ZooKeeperServer::spawnDetached() {
  std::vector<std::string> argv = commandLine();
  std::vector<char*> cargv;
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const std::string out = dir_ + "/zookeeper.out";
  pid_t pid = ::fork();
  if (pid < 0) return internalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Its own session, and none of the caller's descriptors: ctest waits for EOF on the
    // pipes it gave the setup test, which a JVM holding them would keep open for the run.
    ::setsid();
    int in = ::open("/dev/null", O_RDONLY);
    int log = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || log < 0) ::_exit(127);
    ::dup2(in, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    for (int fd = 3; fd < 1024; ++fd)
      ::close(fd);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  detached_pid_ = pid;
  return Status::ok();
}

bool ZooKeeperServer::processRunning() {
  if (process_) return process_->running();
  if (detached_pid_ == 0) return false;
  int status = 0;
  if (::waitpid(detached_pid_, &status, WNOHANG) == 0) return true;
  detached_pid_ = 0;  // exited and reaped
  return false;
}

Status ZooKeeperServer::launch() {
  exited_at_start_ = false;
  if (running()) return Status::ok();
  if (detached_) {
    RETURN_IF_ERROR(spawnDetached());
  } else {
    ASSIGN_OR_RETURN(process_, Subprocess::start(commandLine()));
  }
  // The port accepts before the server serves (srvr then says "This ZooKeeper instance is not
  // currently serving requests"); "Mode:" is in the reply only once it does.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!processRunning()) {
      process_.reset();
      detached_pid_ = 0;
      exited_at_start_ = true;
      return unavailable("zookeeper on port " + std::to_string(port_) +
                         " exited at start: " + logTail());
    }
    auto reply = fourLetterWord("srvr", std::chrono::milliseconds(500));
    if (reply.isOk() && reply->find("Mode:") != std::string::npos) return Status::ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string tail = logTail();
  stop(true);
  return Status(Code::TIMEOUT, "zookeeper did not serve within 60 s: " + tail);
}

namespace {

// Connects to 127.0.0.1:`port` within `timeout`; the fd (blocking again), or -1. Not a
// blocking connect: one to a listener that never accepts (a full backlog) would hang for
// minutes of SYN retries.
int connectLoopback(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (errno != EINPROGRESS || ::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      return -1;
    }
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

struct SharedState {
  pid_t pid = 0;
  int port = 0;
  std::string dir;
};

Result<SharedState> readState(const std::string& file) {
  std::ifstream in(file);
  if (!in) return notFound("no state file " + file);
  SharedState state;
  in >> state.pid >> state.port >> state.dir;
  if (!in || state.pid <= 0 || state.port <= 0) return invalidArgument("malformed " + file);
  return state;
}

// Whether `pid` is alive and is the ZooKeeper of `dir` (not a pid reused since): its command
// line names that directory's zoo.cfg. A zombie has an empty command line, so counts as gone.
bool isSharedServer(const SharedState& state) {
  std::ifstream in("/proc/" + std::to_string(state.pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find("ZooKeeperServerMain") != std::string::npos &&
         cmdline.find(state.dir + "/zoo.cfg") != std::string::npos;
}

}  // namespace

Status ZooKeeperServer::startShared(const std::string& state_file) {
  if (Status st = stopShared(state_file); !st.isOk()) return st.withContext("stale server");
  ASSIGN_OR_RETURN(auto server, prepare(true));
  RETURN_IF_ERROR(server->startOnFreePort());
  const std::string tmp = state_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << server->detached_pid_ << " " << server->port_ << " " << server->dir_ << "\n";
    out.close();
    if (!out) {
      server->stop(true);
      return internalError("writing " + tmp);
    }
  }
  if (::rename(tmp.c_str(), state_file.c_str()) != 0) {
    server->stop(true);
    return internalError("renaming " + tmp + ": " + std::strerror(errno));
  }
  // Handed over to the state file: the destructor must neither stop it nor remove its
  // directory.
  server->detached_pid_ = 0;
  server->dir_.clear();
  return Status::ok();
}

Status ZooKeeperServer::stopShared(const std::string& state_file) {
  auto state = readState(state_file);
  if (!state.isOk()) {
    if (state.status().code() == Code::NOT_FOUND) return Status::ok();
    std::remove(state_file.c_str());
    return state.status();
  }
  if (isSharedServer(*state)) {
    ::kill(state->pid, SIGTERM);
    // Not our child (the process that started it has exited), so poll rather than wait.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (isSharedServer(*state) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (isSharedServer(*state)) {
      ::kill(state->pid, SIGKILL);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (isSharedServer(*state) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (isSharedServer(*state)) {
      return internalError("zookeeper pid " + std::to_string(state->pid) + " did not exit");
    }
    // Dead, but a zombie until its new parent (init) reaps it: give that a moment (this
    // VM's init reaps lazily), so `pgrep java` after the run finds nothing. Not an error.
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (::kill(state->pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      ::waitpid(state->pid, nullptr, WNOHANG);  // when it is our own child (a test's)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // Only a directory of ours: the state file is under the build directory, but still.
  if (state->dir.rfind("/tmp/zookeeper-test-", 0) == 0) {
    std::error_code ignored;
    std::filesystem::remove_all(state->dir, ignored);
  }
  std::remove(state_file.c_str());
  return Status::ok();
}

std::string ZooKeeperServer::sharedOrStart(std::unique_ptr<ZooKeeperServer>* own) {
  if (!available()) return "";
  if (auto shared = sharedAddress(); shared.isOk()) return *shared;
  auto started = start();
  if (!started.isOk()) return "";
  *own = std::move(started).value();
  return (*own)->address();
}

Result<std::string> ZooKeeperServer::sharedAddress() {
  const char* file = std::getenv(kSharedEnv);
  if (file == nullptr || *file == '\0') return notFound(std::string(kSharedEnv) + " is not set");
  ASSIGN_OR_RETURN(SharedState state, readState(file));
  if (!isSharedServer(state)) {
    return notFound("shared zookeeper pid " + std::to_string(state.pid) + " is not running");
  }
  if (int fd = connectLoopback(state.port, std::chrono::seconds(2)); fd >= 0) {
    ::close(fd);
  } else {
    return notFound("shared zookeeper port " + std::to_string(state.port) + " does not accept");
  }
  return "127.0.0.1:" + std::to_string(state.port);
}

Result<std::string> ZooKeeperServer::fourLetterWord(std::string_view word,
                                                    std::chrono::milliseconds timeout) {
  int fd = connectLoopback(port_, timeout);
  if (fd < 0) return unavailable("connect to port " + std::to_string(port_) + " failed");
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
  if (detached_pid_ != 0) {
    // A shared server that was not handed over (its start failed): our child still.
    ::kill(detached_pid_, kill ? SIGKILL : SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (processRunning() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (detached_pid_ != 0) {
      ::kill(detached_pid_, SIGKILL);
      ::waitpid(detached_pid_, nullptr, 0);
      detached_pid_ = 0;
    }
  }
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
