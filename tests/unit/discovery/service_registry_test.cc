// ServiceRegistry and ServiceWatcher (common/discovery) together against a real ZooKeeper: a
// registry on one session, a watcher on another, as a room and a dispatcher would be.

#include "common/discovery/service_registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/discovery/service_watcher.h"
#include "tests/unit/discovery/zk_fixture.h"

namespace push::discovery {
namespace {

class ServiceRegistryTest : public ZkTest {
 protected:
  ServiceRegistry::Options registryOptions(const std::string& id) {
    ServiceRegistry::Options o;
    o.service = "room";
    o.instance.id = id;
    o.instance.endpoints = {{"rpc", "127.0.0.1:5000"}, {"tcp", "127.0.0.1:7000"}};
    o.instance.region = "r1";
    o.instance.weight = 100;
    o.refresh_interval = 200ms;
    o.retry_delay = 100ms;
    return o;
  }
  std::unique_ptr<ServiceRegistry> registry(ZkClient& zk, const std::string& id) {
    auto r = ServiceRegistry::create(zk, registryOptions(id));
    EXPECT_TRUE(r.isOk()) << r.status();
    if (!r.isOk()) return nullptr;
    auto out = std::move(r).value();
    out->start();
    return out;
  }
  std::unique_ptr<ServiceWatcher> watcher(ZkClient& zk) {
    auto w = ServiceWatcher::create(
        zk, "room", [this](const std::vector<ServiceInstance>& list) { seen_ = list; });
    EXPECT_TRUE(w.isOk()) << w.status();
    if (!w.isOk()) return nullptr;
    auto out = std::move(w).value();
    out->start();
    return out;
  }
  const ServiceInstance* find(const std::string& id) const {
    for (const auto& i : seen_) {
      if (i.id == id) return &i;
    }
    return nullptr;
  }
  bool listed(const std::string& id) const { return find(id) != nullptr; }

  std::vector<ServiceInstance> seen_;
};

TEST_F(ServiceRegistryTest, BadInputIsInvalidArgument) {
  auto zk = client();
  ASSERT_TRUE(zk);
  auto o = registryOptions("room-1");
  o.service = "";
  EXPECT_EQ(ServiceRegistry::create(*zk, o).status().code(), Code::INVALID_ARGUMENT);
  o = registryOptions("a/b");
  EXPECT_EQ(ServiceRegistry::create(*zk, o).status().code(), Code::INVALID_ARGUMENT);
  o = registryOptions("");
  EXPECT_EQ(ServiceRegistry::create(*zk, o).status().code(), Code::INVALID_ARGUMENT);
  o = registryOptions("room-1");
  o.service = "svc/x";
  EXPECT_EQ(ServiceRegistry::create(*zk, o).status().code(), Code::INVALID_ARGUMENT);
  auto noop = [](const std::vector<ServiceInstance>&) {};
  EXPECT_EQ(ServiceWatcher::create(*zk, "", noop).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(ServiceWatcher::create(*zk, "a/b", noop).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(ServiceWatcher::create(*zk, "room", nullptr).status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(ServiceRegistryTest, RegisteredInstanceAndItsLoadAreSeen) {
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  // The first (empty) list is delivered once the first read is done.
  ASSERT_TRUE(loop_.runUntil([&] { return w->updates() > 0; }, 10s));
  EXPECT_TRUE(seen_.empty());

  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  // The 2 s the issue asks for is held by the end-to-end tests (dispatcher, center apps); here,
  // on a loaded CI box (ASan, two tests at once, one JVM), it is only bounded, and recorded.
  const auto begin = std::chrono::steady_clock::now();
  auto reg = registry(*zk, "room-1");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1"); }, 10s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
  RecordProperty("seen_after_ms", static_cast<int>(took.count()));
  std::printf("registered instance seen after %lld ms\n", static_cast<long long>(took.count()));
  const ServiceInstance* i = find("room-1");
  EXPECT_EQ(i->endpoints.at("rpc"), "127.0.0.1:5000");
  EXPECT_EQ(i->endpoints.at("tcp"), "127.0.0.1:7000");
  EXPECT_EQ(i->region, "r1");
  EXPECT_EQ(i->weight, 100u);
  EXPECT_EQ(i->load, 0.0);
  // Seen by the watcher's session does not mean the create's completion has reached the
  // registry's: await it.
  EXPECT_TRUE(loop_.runUntil([&] { return reg->registered(); }, 5s));

  // On a failure, what the registry and its session went through (a session lost under CI
  // load re-registers: the node is then created, not refreshed).
  auto history = [&] {
    const auto st = reg->stats();
    return "registrations=" + std::to_string(st.registrations) +
           " refreshes=" + std::to_string(st.refreshes) +
           " failures=" + std::to_string(st.failures) +
           " sessions=" + std::to_string(zk->sessions()) +
           " listed=" + std::to_string(seen_.size());
  };
  reg->setLoad(0.75);
  ASSERT_TRUE(loop_.runUntil([&] { return find("room-1") && find("room-1")->load == 0.75; }, 10s))
      << history();
  reg->setLoadSource([] { return 0.5; });
  reg->refreshNow();
  ASSERT_TRUE(loop_.runUntil([&] { return find("room-1") && find("room-1")->load == 0.5; }, 10s))
      << history();
  // The watcher's session can read the new data before the registry's own session delivers
  // the write's completion: await it rather than read the count at once.
  EXPECT_TRUE(loop_.runUntil([&] { return reg->stats().refreshes >= 1; }, 5s)) << history();
}

TEST_F(ServiceRegistryTest, RefreshNowDuringAWriteInFlightIsNotLost) {
  // A draining room writes load 1 at once; a refreshNow() that lands while the previous write
  // is outstanding must still reach ZooKeeper long before the (here one-hour) interval.
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  auto o = registryOptions("room-1");
  o.refresh_interval = std::chrono::hours(1);
  auto r = ServiceRegistry::create(*zk, o);
  ASSERT_TRUE(r.isOk()) << r.status();
  auto reg = std::move(r).value();
  double load = 0.25;
  reg->setLoadSource([&] { return load; });
  reg->start();
  ASSERT_TRUE(loop_.runUntil([&] { return reg->registered(); }, 10s));
  load = 0.5;
  reg->refreshNow();  // starts a write of 0.5
  load = 1.0;
  reg->refreshNow();  // that write is in flight: must be followed by a write of 1.0
  ASSERT_TRUE(loop_.runUntil([&] { return find("room-1") && find("room-1")->load == 1.0; }, 5s));
  // The watcher's session can read the new data before the registry's own session delivers the
  // write's completion: await that too, then check there were exactly the two writes.
  ASSERT_TRUE(loop_.runUntil([&] { return reg->stats().refreshes >= 2; }, 5s));
  EXPECT_EQ(reg->stats().refreshes, 2u);
}

TEST_F(ServiceRegistryTest, StoppedRegistryAndClosedSessionDisappear) {
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  auto zk1 = client();
  auto zk2 = client();
  auto reg1 = registry(*zk1, "room-1");
  auto reg2 = registry(*zk2, "room-2");  // a second instance appears too
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1") && listed("room-2"); }, 10s));
  EXPECT_EQ(seen_.size(), 2u);

  std::optional<Status> stopped;
  reg1->stop([&](Status st) { stopped = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return !listed("room-1"); }, 10s));
  ASSERT_TRUE(loop_.runUntil([&] { return stopped.has_value(); }, 10s));
  EXPECT_TRUE(stopped->isOk()) << *stopped;
  EXPECT_TRUE(listed("room-2"));

  // No stop(): the node goes with the session, closed by the client's destructor.
  reg2.reset();
  zk2.reset();
  ASSERT_TRUE(loop_.runUntil([&] { return !listed("room-2"); }, 10s));
  EXPECT_TRUE(seen_.empty());
}

TEST_F(ServiceRegistryTest, VanishedNodeIsRegisteredAgain) {
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  auto zk = client();
  auto reg = registry(*zk, "room-1");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1"); }, 10s));
  EXPECT_TRUE(wait([&](auto done) { zk_watch->remove("/services/room/room-1", -1, done); }).isOk());
  // The registry's next refresh creates it again; the watcher may or may not catch the short
  // gap (under load its reads can land after the re-create), so await the registry's count.
  ASSERT_TRUE(
      loop_.runUntil([&] { return reg->stats().registrations >= 2 && listed("room-1"); }, 10s));
  EXPECT_EQ(reg->stats().registrations, 2u);
}

TEST_F(ServiceRegistryTest, MalformedChildIsSkipped) {
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  EXPECT_TRUE(wait([&](auto done) {
                zk_watch->createRecursive("/services/room/junk", "{not json",
                                          ZkClient::CreateMode::Persistent, done);
              }).isOk());
  EXPECT_TRUE(wait([&](auto done) {
                zk_watch->createRecursive("/services/room/empty", "",
                                          ZkClient::CreateMode::Persistent, done);
              }).isOk());
  auto zk = client();
  auto reg = registry(*zk, "room-1");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1"); }, 10s));
  EXPECT_EQ(seen_.size(), 1u);
  // Fixed data makes it appear.
  EXPECT_TRUE(wait([&](auto done) {
                zk_watch->set("/services/room/junk",
                              R"({"endpoints":{"rpc":"127.0.0.1:5001"},"region":"r2","load":1.5})",
                              -1, done);
              }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return listed("junk"); }, 10s));
  EXPECT_EQ(find("junk")->region, "r2");
  EXPECT_EQ(find("junk")->weight, 100u);  // default
  EXPECT_EQ(find("junk")->load, 1.5);
}

TEST_F(ServiceRegistryTest, ZooKeeperRestartedInstanceStillListed) {
  testing::ZooKeeperServer* server = privateServer();
  ASSERT_TRUE(server);
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  auto zk = client();
  auto reg = registry(*zk, "room-1");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1"); }, 10s));
  ASSERT_TRUE(server->restart().isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return zk->connected() && zk_watch->connected(); }, 10s));
  // Listed again (or still): a new registration after an expiry, or the same node.
  reg->setLoad(0.25);
  ASSERT_TRUE(loop_.runUntil(
      [&] { return find("room-1") && find("room-1")->load == 0.25 && reg->registered(); }, 10s));
  // And later changes still reach the watcher (its watches survived or were set again).
  auto zk2 = client();
  auto reg2 = registry(*zk2, "room-2");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-2"); }, 5s));
}

TEST_F(ServiceRegistryTest, ExpiredSessionIsRegisteredAgainAndSeenAgain) {
  auto zk_watch = client();
  auto w = watcher(*zk_watch);
  auto zk = client();
  auto reg = registry(*zk, "room-1");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1"); }, 10s));
  const int64_t first = zk->sessionId();
  ASSERT_TRUE(expireSession(*zk));
  // The old node went with the old session, a new one comes with the new session.
  ASSERT_TRUE(loop_.runUntil([&] { return reg->stats().registrations >= 2; }, 10s));
  reg->setLoad(0.9);  // and the watcher follows the new node's data
  ASSERT_TRUE(loop_.runUntil([&] { return find("room-1") && find("room-1")->load == 0.9; }, 5s));
  std::optional<Result<ZkClient::Node>> node;
  zk_watch->get("/services/room/room-1", false, [&](auto r) { node = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return node.has_value(); }, 5s));
  ASSERT_TRUE(node->isOk());
  EXPECT_EQ((*node)->ephemeral_owner, zk->sessionId());
  EXPECT_NE(zk->sessionId(), first);

  // The watcher's own session expiring: it watches again and sees later changes.
  ASSERT_TRUE(expireSession(*zk_watch));
  auto zk2 = client();
  auto reg2 = registry(*zk2, "room-2");
  ASSERT_TRUE(loop_.runUntil([&] { return listed("room-1") && listed("room-2"); }, 10s));
}

}  // namespace
}  // namespace push::discovery
