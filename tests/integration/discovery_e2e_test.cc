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

  // Register, room and center with register slots from ZooKeeper: registers `slots: "auto"`,
  // room and center `register { discover: true }`; `center_extra` is added to center.conf.
  void startClusterFollowingRegisters(const std::string& center_extra = "") {
    LocalCluster::Options o;
    o.websocket = false;
    o.register_discover = true;
    o.room_config = discoveryConfig();
    o.center_config =
        discoveryConfig() + "admin { listen { address: \"127.0.0.1:0\" } }\n" + center_extra;
    o.register_config = discoveryConfig() + "slots: \"auto\"\n";
    auto c = LocalCluster::start(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
    auto admin = cluster_->centerProcess().waitForLine("ADMIN_ADDRESS");
    ASSERT_TRUE(admin.isOk()) << admin.status().toString();
    center_admin_ = *admin;
  }

  struct ExtraRegister {
    std::unique_ptr<Subprocess> process;
    std::string admin;
  };
  // One more push-register with `slots: "auto"` in the cluster's ZooKeeper root.
  ExtraRegister startRegister() {
    const std::string path = cluster_->dir() + "/register" + std::to_string(++registers_) + ".conf";
    std::ofstream(path) << "rpc { listen { address: \"127.0.0.1:0\" } }\n"
                           "admin { listen { address: \"127.0.0.1:0\" } }\n"
                           "slots: \"auto\"\n"
                        << cluster_->clusterKeyConfig() << discoveryConfig();
    ExtraRegister r;
    auto p = Subprocess::start({binPath("push-register"), "--config", path});
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    if (!p.isOk()) return r;
    EXPECT_TRUE((*p)->waitForLine("RPC_ADDRESS").isOk());
    auto admin = (*p)->waitForLine("ADMIN_ADDRESS");
    EXPECT_TRUE(admin.isOk());
    r.process = std::move(p).value();
    r.admin = admin.isOk() ? *admin : "";
    return r;
  }

  // push-coordinator finding registers (and, through them, rooms) in ZooKeeper; its admin
  // address in *admin.
  std::unique_ptr<Subprocess> startCoordinator(std::string* admin) {
    const std::string path = cluster_->dir() + "/coordinator.conf";
    std::ofstream(path) << "rpc { listen { address: \"127.0.0.1:0\" } }\n"
                           "admin { listen { address: \"127.0.0.1:0\" } }\n"
                           "register { discover: true }\n"
                        << cluster_->clusterKeyConfig() << discoveryConfig();
    auto p = Subprocess::start({binPath("push-coordinator"), "--config", path});
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    if (!p.isOk()) return nullptr;
    EXPECT_TRUE((*p)->waitForLine("RPC_ADDRESS").isOk());
    auto a = (*p)->waitForLine("ADMIN_ADDRESS");
    EXPECT_TRUE(a.isOk());
    *admin = a.isOk() ? *a : "";
    return std::move(p).value();
  }

  // POST /v1/apps/demo/users/<user>/kick: "<status> <body>".
  std::string kick(const std::string& user) {
    auto r = httpRequest(
        cluster_->centerAddress(), "POST", "/v1/apps/demo/users/" + user + "/kick",
        R"({"reason":"account closed"})",
        {{"Authorization", "Bearer " + cluster_->apiKey()}, {"Content-Type", "application/json"}});
    if (!r.isOk()) return r.status().toString();
    return std::to_string(r->status) + " " + r->body;
  }

  // Room and center both route by a map of `n` registers taken from ZooKeeper.
  bool followersSee(size_t n) {
    const std::string want =
        R"("register":{"source":"zookeeper","shards":)" + std::to_string(n) + ",";
    auto center = httpRequest(center_admin_, "GET", "/status");
    return roomStatus().find(want) != std::string::npos && center.isOk() &&
           center->body.find(want) != std::string::npos;
  }

  // A qos 0 push to one user: true when center reports it delivered.
  bool pushDelivered(const std::string& user, const std::string& payload) {
    auto r = httpRequest(
        cluster_->centerAddress(), "POST", "/v1/push",
        R"({"app":"demo","users":[")" + user + R"("],"payload":")" + payload + R"("})",
        {{"Authorization", "Bearer " + cluster_->apiKey()}, {"Content-Type", "application/json"}});
    return r.isOk() && r->status == 200 && r->body.find("\"delivered\":1") != std::string::npos;
  }

  // Every user gets a push with `payload` (retried while register's map settles, for up to
  // `timeout` in all): the number of users whose client read it.
  size_t pushToEveryone(std::vector<std::unique_ptr<FrameClient>>& clients,
                        const std::string& payload, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t received = 0;
    for (size_t i = 0; i < clients.size(); ++i) {
      const std::string user = "u" + std::to_string(i);
      while (!pushDelivered(user, payload) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
      }
      for (;;) {  // pushes of earlier rounds may still be queued before this one
        auto f = clients[i]->readUntil(Frame::kPush, 2s);
        if (!f.isOk()) break;
        if (f->push().payload() == payload) {
          ++received;
          break;
        }
      }
    }
    return received;
  }

  uint64_t registerSessions(const std::string& admin) {
    auto r = httpRequest(admin, "GET", "/status");
    if (!r.isOk()) return 0;
    // The table's count, the one just before "users" ("discovery" has a "sessions" of its own:
    // ZooKeeper sessions; so has each room).
    const size_t users = r->body.find("\"users\":");
    const size_t at = users == std::string::npos ? users : r->body.rfind("\"sessions\":", users);
    return at == std::string::npos ? 0 : std::stoull(r->body.substr(at + 11));
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
  int registers_ = 0;
  std::string center_admin_;
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

TEST_F(DiscoveryE2eTest, RoomAndCenterFollowRegistersThatJoinAndAreKilled) {
  ASSERT_NO_FATAL_FAILURE(startClusterFollowingRegisters());
  ExtraRegister second = startRegister();
  ASSERT_TRUE(second.process);
  ASSERT_TRUE(eventually([&] { return followersSee(2); })) << roomStatus();

  constexpr size_t kUsers = 32;
  std::vector<std::unique_ptr<FrameClient>> clients;
  for (size_t i = 0; i < kUsers; ++i) {
    auto c = FrameClient::connect(cluster_->roomTcp());
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    ASSERT_TRUE((*c)->auth(cluster_->token("u" + std::to_string(i), "phone")).isOk());
    clients.push_back(std::move(c).value());
  }
  // Both registers hold a share of the sessions, together all of them.
  ASSERT_TRUE(eventually([&] {
    return registerSessions(cluster_->registerAdmin()) + registerSessions(second.admin) == kUsers;
  })) << registerSessions(cluster_->registerAdmin())
      << " + " << registerSessions(second.admin);
  EXPECT_GT(registerSessions(cluster_->registerAdmin()), 0u);
  EXPECT_GT(registerSessions(second.admin), 0u);
  EXPECT_EQ(pushToEveryone(clients, "two", 10s), kUsers);

  // A third register joins: it takes about a third of the slots and the sessions in them
  // (pulled from the room), the others drop theirs; every user is still reached.
  ExtraRegister third = startRegister();
  ASSERT_TRUE(third.process);
  ASSERT_TRUE(eventually([&] { return followersSee(3); })) << roomStatus();
  // Room and center seeing three registers says nothing of the registers' own sessions: until
  // those deliver the list, the first two still hold every session and the third none, so the
  // total is already kUsers. Await the third's share with the total, not read it at once.
  auto three = [&] {
    return std::to_string(registerSessions(cluster_->registerAdmin())) + " + " +
           std::to_string(registerSessions(second.admin)) + " + " +
           std::to_string(registerSessions(third.admin));
  };
  ASSERT_TRUE(eventually([&] {
    const uint64_t on_third = registerSessions(third.admin);
    return on_third > 0 && registerSessions(cluster_->registerAdmin()) +
                                   registerSessions(second.admin) + on_third ==
                               kUsers;
  })) << three();
  EXPECT_EQ(pushToEveryone(clients, "three", 10s), kUsers);

  // The second is killed: its ZooKeeper session ends (1 s), the two left share its slots and
  // pull its sessions back from the room.
  second.process->sendSignal(SIGKILL);
  second.process->wait();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return followersSee(2); }, 10s)) << roomStatus();
  EXPECT_EQ(pushToEveryone(clients, "killed", 10s), kUsers);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed);
  std::printf("every user reached again %lld ms after a register was killed\n",
              static_cast<long long>(took.count()));
  EXPECT_EQ(registerSessions(cluster_->registerAdmin()) + registerSessions(third.admin), kUsers);
}

// Kick by user goes center -> coordinator -> register -> rooms: center has no kick path of its
// own once it has a coordinator, so the kicked client and the coordinator's count show the way
// it went; with the coordinator gone center answers 503 naming it.
TEST_F(DiscoveryE2eTest, KicksGoThroughTheCoordinator) {
  ASSERT_NO_FATAL_FAILURE(startClusterFollowingRegisters("coordinator { discover: true }\n"));
  std::string coordinator_admin;
  auto coordinator = startCoordinator(&coordinator_admin);
  ASSERT_TRUE(coordinator);
  ASSERT_TRUE(eventually([&] { return followersSee(1); })) << roomStatus();
  auto coordinatorStatus = [&] {
    auto r = httpRequest(coordinator_admin, "GET", "/status");
    return r.isOk() ? r->body : "";
  };
  ASSERT_TRUE(eventually([&] {
    return coordinatorStatus().find(R"("register":{"source":"zookeeper","shards":1,)") !=
           std::string::npos;
  })) << coordinatorStatus();

  auto ann = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(ann.isOk()) << ann.status().toString();
  ASSERT_TRUE((*ann)->auth(cluster_->token("ann", "phone")).isOk());
  auto bo = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(bo.isOk()) << bo.status().toString();
  ASSERT_TRUE((*bo)->auth(cluster_->token("bo", "phone")).isOk());
  ASSERT_TRUE(eventually([&] { return userOnline("ann") && userOnline("bo"); }));
  // Center finds the coordinator in ZooKeeper (its channel follows services/coordinator).
  std::string answer;
  ASSERT_TRUE(eventually([&] {
    answer = kick("ann");
    return answer.substr(0, 3) == "200";
  })) << answer;
  EXPECT_NE(answer.find(R"("kicked":1)"), std::string::npos) << answer;
  auto frame = (*ann)->readUntil(Frame::kKick, 5s);
  ASSERT_TRUE(frame.isOk()) << frame.status().toString();
  EXPECT_EQ(frame->kick().reason(), "account closed");
  EXPECT_TRUE((*ann)->waitClosed());
  EXPECT_NE(coordinatorStatus().find(R"("kicks":1)"), std::string::npos) << coordinatorStatus();
  answer = kick("nobody");  // nobody online: kicked 0 (a zero field is left out of the JSON)
  EXPECT_EQ(answer.substr(0, 3), "200") << answer;
  EXPECT_EQ(answer.find(R"("kicked":)"), std::string::npos) << answer;

  // No coordinator: a clear 503, and bo stays connected.
  coordinator->sendSignal(SIGKILL);
  coordinator->wait();
  ASSERT_TRUE(eventually([&] { return instances("coordinator").empty(); }, 10s));
  answer = kick("bo");
  EXPECT_EQ(answer.substr(0, 3), "503") << answer;
  EXPECT_NE(answer.find("coordinator"), std::string::npos) << answer;
  EXPECT_TRUE(userOnline("bo"));
}

}  // namespace
}  // namespace push::testing
