// pushctl against a real ZooKeeper: what an operator types, what it prints, its exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "common/discovery/service_instance.h"
#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "tests/support/subprocess.h"
#include "tests/support/zookeeper_server.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

struct CtlRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class PushctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ZooKeeperServer::available()) return;
    auto zk = ZooKeeperServer::start();
    if (zk.isOk()) zk_ = std::move(zk).value();
  }
  static void TearDownTestSuite() { zk_.reset(); }

  void SetUp() override {
    if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    ASSERT_TRUE(zk_) << "ZooKeeper did not start";
    root_ = "/push/ctl" + std::to_string(++counter_);
    char tmpl[] = "/tmp/pushctl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    zk_client_.reset();
    (void)loop_.shutdown();
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  // Runs pushctl with `args` against this test's root.
  CtlRun pushctl(const std::string& args, const std::string& zk = "") {
    const std::string out = dir_ + "/out", err = dir_ + "/err";
    const std::string cmd = binPath("pushctl") + " --zk " + (zk.empty() ? zk_->address() : zk) +
                            " --root " + root_ + " " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    CtlRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  std::string file(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Creates a node as a service would (persistent here: the test's session is short).
  void createNode(const std::string& path, const std::string& data) {
    if (!zk_client_) {
      discovery::ZkClient::Options o;
      o.hosts = zk_->address();
      o.root = root_;
      auto c = discovery::ZkClient::create(loop_, o);
      ASSERT_TRUE(c.isOk());
      zk_client_ = std::move(c).value();
    }
    std::optional<Status> done;
    zk_client_->createRecursive(path, data, discovery::ZkClient::CreateMode::Persistent,
                                [&](Status st) { done = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return done.has_value(); }, 10s));
    ASSERT_TRUE(done->isOk()) << done->toString();
  }

  static inline std::unique_ptr<ZooKeeperServer> zk_;
  static inline int counter_ = 0;
  std::string root_, dir_;
  net::EventLoop loop_;
  std::unique_ptr<discovery::ZkClient> zk_client_;
};

TEST_F(PushctlTest, ListsTheRegisteredInstancesWithTheirLoad) {
  // Nothing registered yet: a header and no rows, exit 0.
  CtlRun r = pushctl("services");
  EXPECT_EQ(r.code, 0) << r.err;
  discovery::ServiceInstance room;
  room.id = "room-1";
  room.endpoints = {{"tcp", "127.0.0.1:7100"}, {"rpc", "127.0.0.1:7300"}};
  room.region = "eu";
  room.weight = 50;
  room.load = 0.25;
  ASSERT_NO_FATAL_FAILURE(createNode("/services/room/room-1", discovery::encodeInstance(room)));
  ASSERT_NO_FATAL_FAILURE(createNode("/services/saver/s1", "not json"));
  r = pushctl("services");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("room"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("room-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.250"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rpc=127.0.0.1:7300 tcp=127.0.0.1:7100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad data"), std::string::npos) << r.out;
  // One service only.
  r = pushctl("services saver");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("room-1"), std::string::npos) << r.out;
}

TEST_F(PushctlTest, AppRecordsArePutReadListedAndDeleted) {
  const std::string record = R"({"secrets":[{"id":"k1","secret":"0123456789abcdef"}]})";
  CtlRun r = pushctl("app put demo " + file("demo.json", record));
  ASSERT_EQ(r.code, 0) << r.err;
  r = pushctl("app get demo");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, record + "\n");
  r = pushctl("apps");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "demo\n");
  // Replacing works too.
  const std::string rotated =
      R"({"secrets":[{"id":"k1","secret":"0123456789abcdef"},{"id":"k2","secret":"fedcba9876543210"}]})";
  r = pushctl("app put demo " + file("demo2.json", rotated));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(pushctl("app get demo").out, rotated + "\n");
  r = pushctl("app delete demo");
  ASSERT_EQ(r.code, 0) << r.err;
  r = pushctl("app get demo");
  EXPECT_EQ(r.code, 1) << r.err;  // not found
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_EQ(pushctl("app delete demo").code, 1);
}

TEST_F(PushctlTest, BadInputIsRefusedWithExitTwoAndNothingWritten) {
  CtlRun r = pushctl("app put demo " + file("bad.json", "{\"secrets\": ["));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("app demo: "), std::string::npos) << r.err;
  r = pushctl("app put demo " + file("short.json", R"({"secrets":[{"id":"k","secret":"short"}]})"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("secret 'k' is 5"), std::string::npos) << r.err;
  r = pushctl("app put demo " + file("none.json", R"({"secrets":[]})"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("secrets is empty"), std::string::npos) << r.err;
  EXPECT_EQ(pushctl("app get demo").code, 1);  // nothing was written
  r = pushctl("app put 'a/b' " + file("ok.json", "{}"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("1..64 of [A-Za-z0-9._-]"), std::string::npos) << r.err;
  r = pushctl("app put demo /nonexistent/file.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  r = pushctl("config put room " + file("room.conf", "heartbeat { wifi_s: \"x\" }"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config/room"), std::string::npos) << r.err;
  // Parses, but the room would refuse it: out of range, and min above max.
  r = pushctl("config put room " + file("range.conf", "heartbeat { wifi_s: 7200 }"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("heartbeat.wifi_s"), std::string::npos) << r.err;
  r = pushctl("config put room " + file("minmax.conf", "heartbeat { min_s: 600 max_s: 60 }"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("min_s must not exceed max_s"), std::string::npos) << r.err;
  EXPECT_EQ(pushctl("config get room").code, 1);  // nothing was written
  r = pushctl("config put nosuch " + file("x.conf", ""));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no config record for service 'nosuch'"), std::string::npos) << r.err;
  r = pushctl("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = pushctl("");
  EXPECT_EQ(r.code, 2);
  // A good config goes in and comes back.
  r = pushctl("config put room " + file("good.conf", "heartbeat { wifi_s: 45 }\n"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(pushctl("config get room").out, "heartbeat { wifi_s: 45 }\n");
}

TEST_F(PushctlTest, AnUnreachableZooKeeperIsExitThreeWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  CtlRun r = pushctl("--timeout-ms=500 services", "127.0.0.1:1");  // the --flag=value form too
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("not reachable within 500 ms"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace push::testing
