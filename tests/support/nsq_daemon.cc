#include "tests/support/nsq_daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace push::testing {

namespace {

int portOf(const std::string& address) {
  return std::atoi(address.substr(address.rfind(':') + 1).c_str());
}

}  // namespace

bool loopbackPortAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string NsqDaemon::binaryFor(const std::string& kind) {
  std::vector<std::string> candidates;
  if (kind == "queued") {
    candidates.push_back(binPath("push-queued"));
  } else {
    // "nsqd" or "nsqlookupd", the real binaries (../shared/peers/nsq/).
    std::string env_name = kind == "nsqd" ? "NSQD_BIN" : "NSQLOOKUPD_BIN";
    if (const char* env = std::getenv(env_name.c_str())) candidates.emplace_back(env);
    candidates.emplace_back("/work/shared/peers/nsq/" + kind);
    candidates.emplace_back(std::string(PUSH_SOURCE_DIR) + "/../shared/peers/nsq/" + kind);
  }
  for (const std::string& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

Result<std::unique_ptr<NsqDaemon>> NsqDaemon::start(const std::string& kind,
                                                    const std::vector<std::string>& extra_flags,
                                                    const std::string& data_path) {
  std::unique_ptr<NsqDaemon> daemon(new NsqDaemon());
  daemon->kind_ = kind;
  daemon->binary_ = binaryFor(kind);
  if (daemon->binary_.empty()) return Status(Code::NOT_FOUND, kind + " binary not found");
  daemon->extra_flags_ = extra_flags;
  if (data_path.empty()) {
    char pattern[] = "/tmp/nsq-test-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Status(Code::INTERNAL, "mkdtemp failed");
    daemon->data_path_ = pattern;
    daemon->own_data_path_ = true;
  } else {
    daemon->data_path_ = data_path;
  }
  // A port freeLoopbackPort() picked can be taken by another test's process before the daemon
  // binds it ("address already in use": it exits at start); new ports then, a few times.
  for (int attempt = 1;; ++attempt) {
    daemon->tcp_address_ = "127.0.0.1:" + std::to_string(freeLoopbackPort());
    daemon->http_address_ = "127.0.0.1:" + std::to_string(freeLoopbackPort());
    Status st = daemon->launch();
    if (st.isOk()) return daemon;
    if (st.code() != Code::UNAVAILABLE || attempt == 5) return st;
  }
}

Status NsqDaemon::launch() {
  std::vector<std::string> argv = {binary_, "--tcp-address=" + tcp_address_,
                                   "--http-address=" + http_address_};
  if (kind_ != "nsqlookupd") argv.push_back("--data-path=" + data_path_);
  if (kind_ != "queued") argv.push_back("--log-level=warn");
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  ASSIGN_OR_RETURN(process_, Subprocess::start(argv));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (loopbackPortAccepts(portOf(tcp_address_)) && loopbackPortAccepts(portOf(http_address_))) {
      return Status::ok();
    }
    if (!process_->running()) return Status(Code::UNAVAILABLE, kind_ + " exited at start");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(Code::TIMEOUT, kind_ + " did not listen within 10 s");
}

int NsqDaemon::stop(bool kill) {
  if (!process_) return -1;
  process_->sendSignal(kill ? SIGKILL : SIGTERM);
  int code = process_->wait(std::chrono::seconds(10));
  process_.reset();
  return code;
}

Status NsqDaemon::restart(bool kill) {
  stop(kill);
  return launch();
}

NsqDaemon::~NsqDaemon() {
  stop();
  if (own_data_path_) {
    std::error_code ignored;
    std::filesystem::remove_all(data_path_, ignored);
  }
}

}  // namespace push::testing
