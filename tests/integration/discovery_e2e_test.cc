// Discovery end to end (issue 17): push-register, push-room, push-center and push-saver as real
// processes with a real ZooKeeper on loopback. Every service registers under services/<svc>;
// center and room find saver there (no saver address in their configs), so a saver started
// later is used within 2 s and a second saver takes over when the first is killed; a room
// killed with -9 leaves ZooKeeper and register drops its users at once (its room timeout is set
// far longer than the test).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/zookeeper_server.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;
using client::Frame;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class DiscoveryE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ZooKeeperServer::available() || RedisServer::binary().empty()) return;
    auto zk = ZooKeeperServer::start();
    if (zk.isOk()) zk_ = std::move(zk).value();
  }
  static void TearDownTestSuite() { zk_.reset(); }

  void SetUp() override {
    if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    if (RedisServer::binary().empty()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(zk_) << "ZooKeeper did not start";
    root_ = "/push/e2e" + std::to_string(++counter_);
    auto redis = RedisServer::start();
    ASSERT_TRUE(redis.isOk()) << redis.status().toString();
    redis_ = std::move(redis).value();
  }
  void TearDown() override {
    zk_client_.reset();
    (void)loop_.shutdown();
  }

  // Every service's `discovery` block: a short session, so a killed process leaves quickly.
  std::string discoveryConfig() const {
    return "discovery { zookeeper: \"" + zk_->address() + "\" root: \"" + root_ +
           "\" session_timeout_ms: 1000 refresh_ms: 200 }\n";
  }

  void startCluster() {
    LocalCluster::Options o;
    o.websocket = false;
    o.room_config = discoveryConfig() + "saver { discover: true }\n";
    o.center_config = discoveryConfig() + "saver { discover: true }\n";
    // Only ZooKeeper can make register drop a dead room within the test.
    o.register_config = discoveryConfig() + "room_timeout_ms: 600000\n";
    auto c = LocalCluster::start(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
  }

  std::unique_ptr<Subprocess> startSaver() {
    const std::string path = cluster_->dir() + "/saver" + std::to_string(++savers_) + ".conf";
    const std::string cfg =
        "rpc { listen { address: \"127.0.0.1:0\" } }\n"
        "admin { listen { address: \"127.0.0.1:0\" } }\n"
        "redis { mode: \"single\" addresses: \"" +
        redis_->address() + "\" }\n" + cluster_->clusterKeyConfig() + discoveryConfig();
    std::ofstream(path) << cfg;
    auto p = Subprocess::start({binPath("push-saver"), "--config", path});
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    if (!p.isOk()) return nullptr;
    EXPECT_TRUE((*p)->waitForLine("RPC_ADDRESS").isOk());
    return std::move(p).value();
  }

  // The instance ids under services/<svc>, read with a ZooKeeper session of the test's own.
  std::vector<std::string> instances(const std::string& service) {
    if (!zk_client_) {
      discovery::ZkClient::Options o;
      o.hosts = zk_->address();
      o.root = root_;
      auto c = discovery::ZkClient::create(loop_, o);
      EXPECT_TRUE(c.isOk());
      if (!c.isOk()) return {};
      zk_client_ = std::move(c).value();
    }
    std::optional<Result<std::vector<std::string>>> out;
    zk_client_->getChildren("/services/" + service, false, [&](auto r) { out = std::move(r); });
    if (!loop_.runUntil([&] { return out.has_value(); }, 10s) || !out->isOk()) return {};
    std::vector<std::string> names = out->value();
    std::sort(names.begin(), names.end());
    return names;
  }

  // Creates or replaces a node's data (as pushctl does).
  void putNode(const std::string& path, const std::string& data) {
    (void)instances("room");  // opens the test's session
    ASSERT_TRUE(zk_client_);
    std::optional<Status> created;
    zk_client_->createRecursive(path, data, discovery::ZkClient::CreateMode::Persistent,
                                [&](Status st) { created = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return created.has_value(); }, 10s));
    if (created->code() != Code::ALREADY_EXISTS) {
      ASSERT_TRUE(created->isOk()) << created->toString();
      return;
    }
    std::optional<Status> set;
    zk_client_->set(path, data, -1, [&](Status st) { set = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return set.has_value(); }, 10s));
    ASSERT_TRUE(set->isOk()) << set->toString();
  }

  // The heartbeat a new wifi connection is given.
  uint32_t heartbeatOfANewConnection() {
    auto c = FrameClient::connect(cluster_->roomTcp());
    if (!c.isOk()) return 0;
    auto r = (*c)->auth(cluster_->token("hb", "phone"));
    return r.isOk() ? r->heartbeat_interval_s() : 0;
  }

  std::string roomStatus() {
    auto r = httpRequest(cluster_->rooms().at(0).admin, "GET", "/status");
    return r.isOk() ? r->body : "";
  }

  // A qos 1 push to a user never connected: "stored" once center reaches a saver.
  std::string pushToOffline(const std::string& user) {
    auto r = httpRequest(
        cluster_->centerAddress(), "POST", "/v1/push",
        R"({"app":"demo","users":[")" + user + R"("],"payload":"p","qos":1})",
        {{"Authorization", "Bearer " + cluster_->apiKey()}, {"Content-Type", "application/json"}});
    if (!r.isOk()) return r.status().toString();
    return std::to_string(r->status) + " " + r->body;
  }

  bool userOnline(const std::string& user) {
    auto r = httpRequest(cluster_->centerAddress(), "GET", "/v1/apps/demo/users/" + user, "",
                         {{"Authorization", "Bearer " + cluster_->apiKey()}});
    return r.isOk() && r->body.find("\"sessions\":[{") != std::string::npos;
  }

  static inline std::unique_ptr<ZooKeeperServer> zk_;
  static inline int counter_ = 0;
  std::string root_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<LocalCluster> cluster_;
  int savers_ = 0;
  net::EventLoop loop_;
  std::unique_ptr<discovery::ZkClient> zk_client_;
};

TEST_F(DiscoveryE2eTest, EveryServiceRegistersAndASaverStartedLaterIsUsedWithinTwoSeconds) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  ASSERT_TRUE(eventually([&] {
    return instances("room").size() == 1 && instances("center").size() == 1 &&
           instances("register").size() == 1;
  })) << "room "
      << instances("room").size() << " center " << instances("center").size();
  EXPECT_EQ(instances("room").front(), cluster_->rooms().at(0).id);

  // No saver anywhere yet: a qos 1 push cannot be stored, and center says so.
  EXPECT_EQ(pushToOffline("ann").substr(0, 3), "503");

  auto saver = startSaver();
  ASSERT_TRUE(saver);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] { return pushToOffline("ann").find("\"stored\"") != std::string::npos; }, 10s));
  const auto took = std::chrono::steady_clock::now() - started;
  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  std::printf("center stored through the new saver %lld ms after it started\n",
              static_cast<long long>(took_ms));
  // The issue's 2 s on a quiet machine; the bound leaves room for a loaded 2-core CI box
  // (a JVM ZooKeeper, ASan builds of five services).
  EXPECT_LT(took, 5s) << "center found the new saver after " << took_ms << " ms";
  EXPECT_EQ(instances("saver").size(), 1u);

  // The room found it too: the stored messages are replayed when ann connects (once the
  // room's own watcher has delivered the saver to its channel).
  ASSERT_TRUE(eventually([&] { return roomStatus().find("\"saver\":1") != std::string::npos; }))
      << roomStatus();
  auto c = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  ASSERT_TRUE((*c)->auth(cluster_->token("ann", "phone")).isOk());
  auto push = (*c)->readUntil(Frame::kPush, 10s);
  ASSERT_TRUE(push.isOk()) << push.status().toString();
  EXPECT_EQ(push->push().payload(), "p");
}

TEST_F(DiscoveryE2eTest, ASecondSaverTakesOverWhenTheFirstIsKilled) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  auto first = startSaver();
  ASSERT_TRUE(first);
  ASSERT_TRUE(
      eventually([&] { return pushToOffline("bo").find("\"stored\"") != std::string::npos; }));
  auto second = startSaver();
  ASSERT_TRUE(second);
  ASSERT_TRUE(eventually([&] { return instances("saver").size() == 2; }));
  first->sendSignal(SIGKILL);
  first->wait();
  // Its node goes with its session (1 s); meanwhile calls that picked it fail over.
  ASSERT_TRUE(eventually([&] { return instances("saver").size() == 1; }, 10s));
  int stored = 0;
  for (int i = 0; i < 20; ++i)
    stored += pushToOffline("bo").find("\"stored\"") != std::string::npos;
  EXPECT_EQ(stored, 20);
}

TEST_F(DiscoveryE2eTest, ARoomKilledLeavesZooKeeperAndItsUsersReadOffline) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  auto c = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  ASSERT_TRUE((*c)->auth(cluster_->token("cy", "phone")).isOk());
  ASSERT_TRUE(eventually([&] { return userOnline("cy"); }));
  ASSERT_TRUE(eventually([&] { return instances("room").size() == 1; }));
  // register's own watcher has seen the room (only a room it saw can be seen to go).
  ASSERT_TRUE(eventually([&] {
    auto r = httpRequest(cluster_->registerAdmin(), "GET", "/status");
    return r.isOk() && r->body.find("\"room\":1") != std::string::npos;
  }));

  cluster_->roomProcess().sendSignal(SIGKILL);
  cluster_->roomProcess().wait();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return instances("room").empty(); }, 10s));
  ASSERT_TRUE(eventually([&] { return !userOnline("cy"); }, 10s));
  // register's room timeout is 10 minutes: only the ZooKeeper node's end explains this.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 8s);
}

TEST_F(DiscoveryE2eTest, ALiveConfigChangesTheRoomsHeartbeatAndABadOneIsRefused) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  const int pid = cluster_->roomProcess().pid();
  EXPECT_EQ(heartbeatOfANewConnection(), 60u);  // the default for wifi
  ASSERT_NO_FATAL_FAILURE(putNode("/config/room", "heartbeat { wifi_s: 45 }\n"));
  ASSERT_TRUE(eventually([&] { return heartbeatOfANewConnection() == 45u; }, 10s)) << roomStatus();
  // Out of range, and min above max: refused, counted, the previous one stays.
  ASSERT_NO_FATAL_FAILURE(putNode("/config/room", "heartbeat { min_s: 50 max_s: 40 }\n"));
  ASSERT_TRUE(eventually([&] { return roomStatus().find("\"rejected\":1") != std::string::npos; }))
      << roomStatus();
  EXPECT_NE(roomStatus().find("min_s must not exceed max_s"), std::string::npos) << roomStatus();
  ASSERT_NO_FATAL_FAILURE(putNode("/config/room", "heartbeat { wifi_s: 9999 }\n"));
  ASSERT_TRUE(eventually([&] { return roomStatus().find("\"rejected\":2") != std::string::npos; }))
      << roomStatus();
  ASSERT_NO_FATAL_FAILURE(putNode("/config/room", "not a config"));
  ASSERT_TRUE(eventually([&] { return roomStatus().find("\"rejected\":3") != std::string::npos; }))
      << roomStatus();
  EXPECT_EQ(heartbeatOfANewConnection(), 45u);
  EXPECT_EQ(cluster_->roomProcess().pid(), pid);
  EXPECT_TRUE(cluster_->roomProcess().running());
}

}  // namespace
}  // namespace push::testing
