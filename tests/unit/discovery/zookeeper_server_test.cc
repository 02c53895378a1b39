// The test ZooKeeper itself (tests/support/zookeeper_server.h): a port taken between its
// choice and java's bind is replaced by another, and the shared server of a ctest run is
// started, found and stopped by PID.

#include "tests/support/zookeeper_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace push::testing {
namespace {

// A listening socket on a free loopback port, closed on destruction.
class TakenPort {
 public:
  TakenPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(fd_, SOMAXCONN) == 0;
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~TakenPort() { ::close(fd_); }
  bool ok() const { return ok_; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  int port_ = 0;
};

TEST(ZooKeeperServerTest, PortTakenBeforeJavaBindsItIsReplacedByAnother) {
  if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
  TakenPort taken;
  ASSERT_TRUE(taken.ok());
  int picks = 0;
  // The first pick is the taken port (as if someone bound it after the choice), then free ones.
  ZooKeeperServer::setPortPickerForTest([&]() -> int {
    if (++picks == 1) return taken.port();
    TakenPort probe;  // a port free a moment ago, released at once
    return probe.port();
  });
  auto server = ZooKeeperServer::start();
  ZooKeeperServer::setPortPickerForTest(nullptr);
  ASSERT_TRUE(server.isOk()) << server.status();
  EXPECT_EQ(picks, 2);
  EXPECT_NE((*server)->port(), taken.port());
  auto reply = (*server)->fourLetterWord("srvr");
  ASSERT_TRUE(reply.isOk());
  EXPECT_NE(reply->find("Mode:"), std::string::npos);
}

TEST(ZooKeeperServerTest, SharedServerIsFoundThroughTheEnvironmentAndStoppedByPid) {
  if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
  char dir[] = "/tmp/zk-shared-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string state = std::string(dir) + "/state";
  const char* before = std::getenv(ZooKeeperServer::kSharedEnv);
  const std::string saved = before != nullptr ? before : "";
  ::setenv(ZooKeeperServer::kSharedEnv, state.c_str(), 1);

  EXPECT_EQ(ZooKeeperServer::sharedAddress().status().code(), Code::NOT_FOUND);  // no file yet
  ASSERT_TRUE(ZooKeeperServer::startShared(state).isOk());
  std::ifstream in(state);
  pid_t pid = 0;
  int port = 0;
  in >> pid >> port;
  ASSERT_GT(pid, 0);
  auto address = ZooKeeperServer::sharedAddress();
  ASSERT_TRUE(address.isOk()) << address.status();
  EXPECT_EQ(*address, "127.0.0.1:" + std::to_string(port));

  EXPECT_TRUE(ZooKeeperServer::stopShared(state).isOk());
  EXPECT_EQ(ZooKeeperServer::sharedAddress().status().code(), Code::NOT_FOUND);
  EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still there";  // reaped by init, or ours
  EXPECT_TRUE(ZooKeeperServer::stopShared(state).isOk());           // no file: nothing to do

  if (before != nullptr) {
    ::setenv(ZooKeeperServer::kSharedEnv, saved.c_str(), 1);
  } else {
    ::unsetenv(ZooKeeperServer::kSharedEnv);
  }
  ::rmdir(dir);
}

}  // namespace
}  // namespace push::testing
