// The coordinator in ZooKeeper (issue 17): a room with coordinator { discover: true } finds
// coordinators under services/coordinator (one started later is used within 2 s of its
// registration; one killed with -9 is replaced by a second one), a coordinator without static
// apps follows ZooKeeper apps/<app> live (a webhook edited, an app removed while its items wait
// or run), and the room's stop sends the session events it still holds (the offline event of a
// connection the stop closed reaches the app's events URL).
//
// A real ZooKeeper (the ctest run's shared one, else one per binary; skipped without java or the
// zookeeper jar), the room and a test webhook on the test's loop, and the coordinator either on
// that loop too or as the push-coordinator process (the kill -9 test).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/discovery/app_record.h"
#include "common/discovery/zk_client.h"
#include "proto/config.pb.h"
#include "services/coordinator/coordinator_server.h"
#include "services/coordinator/coordinator_service.h"
#include "services/room/upstream_forwarder.h"
#include "tests/support/subprocess.h"
#include "tests/support/zookeeper_server.h"
#include "tests/unit/coordinator/test_webhook.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using coord::testing::TestWebhook;
using discovery::ZkClient;
using testing::FrameSocket;
using Clock = std::chrono::steady_clock;

class CoordinatorDiscoveryTest : public testing::RoomFixture {
 protected:
  static void SetUpTestSuite() { hosts_ = push::testing::ZooKeeperServer::sharedOrStart(&own_); }
  static void TearDownTestSuite() {
    own_.reset();
    hosts_.clear();
  }

  void SetUp() override {
    if (!push::testing::ZooKeeperServer::available()) {
      GTEST_SKIP() << "java or zookeeper.jar not found";
    }
    ASSERT_FALSE(hosts_.empty()) << "ZooKeeper did not start";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = "/push/coord_disc." + std::string(info->name()) + "." + std::to_string(::getpid());
    ZkClient::Options zo;
    zo.hosts = hosts_;
    zo.root = root_;
    zo.session_timeout = 2s;
    auto zk = ZkClient::create(loop_, zo);
    ASSERT_TRUE(zk.isOk()) << zk.status();
    zk_ = std::move(zk).value();
    ASSERT_TRUE(loop_.runUntil([&] { return zk_->connected(); }, 10s));
    hook_a_ = std::make_unique<TestWebhook>(loop_);
    hook_b_ = std::make_unique<TestWebhook>(loop_);
  }

  void TearDown() override {
    clients_.clear();
    if (room_) {
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
      room_.reset();
    }
    if (coordinator_) {
      bool down = false;
      coordinator_->stop([&] { down = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return down; }, 5s));
      coordinator_.reset();
    }
    processes_.clear();  // SIGKILL and reaped
    for (const std::string& f : files_)
      std::remove(f.c_str());
    zk_.reset();
    hook_a_.reset();
    hook_b_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  service::DiscoveryOptions discoveryOptions() const {
    service::DiscoveryOptions d;
    d.zk.hosts = hosts_;
    d.zk.root = root_;
    d.zk.session_timeout = 1s;
    d.refresh = 200ms;
    return d;
  }

  // A room whose coordinator channel is fed from ZooKeeper. `events_batch`: how long a session
  // event waits for its batch.
  RoomOptions discoveringRoom(std::chrono::milliseconds events_batch = 2ms) {
    RoomOptions o = defaultOptions();
    o.discovery = discoveryOptions();
    RoomOptions::Coordinator k;
    k.discover = true;
    k.channel.reconnect_min = 10ms;
    k.channel.reconnect_max = 100ms;
    k.channel.connect_timeout = 200ms;
    k.timeout = 3s;
    k.batch_max = 1;  // an Upstream frame goes at once, whatever the batch interval
    k.batch_interval = events_batch;
    o.coordinator = k;
    return o;
  }

  // A coordinator on the test's loop, registered in ZooKeeper, with `apps` (none: from
  // ZooKeeper apps/<app>, with a cap of 1 running and 10 waiting).
  void startCoordinator(std::vector<coord::AppSettings> apps) {
    coord::CoordinatorOptions o;
    o.discovery = discoveryOptions();
    o.apps = std::move(apps);
    o.app_defaults.max_concurrency = 1;
    o.app_defaults.max_queued = 10;
    o.retry.max_attempts = 2;
    o.retry.min_backoff = 10ms;
    o.retry.max_backoff = 20ms;
    o.retry.deadline = 2s;
    o.event_batch_interval = 10ms;
    o.shutdown_grace = 100ms;
    auto c = coord::CoordinatorServer::create(loop_, std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status();
    coordinator_ = std::move(c).value();
    ASSERT_TRUE(coordinator_->start().isOk());
  }

  // push-coordinator as a process, registered in ZooKeeper, app1 to hook_a_'s /ok.
  push::testing::Subprocess* startCoordinatorProcess() {
    char path[] = "/tmp/coord_disc_XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    if (fd < 0) return nullptr;
    ::close(fd);
    files_.push_back(path);
    std::ofstream(path) << "rpc { listen { address: \"127.0.0.1:0\" } }\n"
                        << "discovery { zookeeper: \"" << hosts_ << "\" root: \"" << root_
                        << "\" session_timeout_ms: 1000 refresh_ms: 200 }\n"
                        << "apps { name: \"app1\" upstream_url: \"" << hook_a_->url("/ok")
                        << "\" }\n"
                        << "shutdown_grace_ms: 100\n";
    auto p = push::testing::Subprocess::start(
        {push::testing::binPath("push-coordinator"), "--config", path});
    EXPECT_TRUE(p.isOk()) << p.status();
    if (!p.isOk()) return nullptr;
    auto address = (*p)->waitForLine("RPC_ADDRESS");
    EXPECT_TRUE(address.isOk()) << address.status();
    if (!address.isOk()) return nullptr;
    processes_.push_back(std::move(p).value());
    return processes_.back().get();
  }

  // The instances registered under services/coordinator now (empty on any error).
  std::vector<std::string> coordinatorNodes() {
    std::optional<Result<std::vector<std::string>>> out;
    zk_->getChildren("/services/coordinator", false, [&](auto r) { out = std::move(r); });
    if (!loop_.runUntil([&] { return out.has_value(); }, 5s) || !out->isOk()) return {};
    return **out;
  }

  Status zkCall(const std::function<void(ZkClient::Done)>& start) {
    std::optional<Status> out;
    start([&](Status st) { out = st; });
    if (!loop_.runUntil([&] { return out.has_value(); }, 10s)) return Status(Code::TIMEOUT, "zk");
    return *out;
  }

  // Writes apps/<name> with `url` as its default upstream webhook.
  void writeApp(const std::string& name, const std::string& url, bool create) {
    discovery::AppRecord r;
    r.name = name;
    r.secrets.push_back(discovery::AppSecret{"k1", "0123456789abcdef0123", 0});
    r.upstream_webhooks["default"] = url;
    r.events_webhook = hook_a_->url("/events");
    r.events = {"offline", "online"};
    const std::string data = discovery::encodeAppRecord(r);
    Status st = zkCall([&](ZkClient::Done done) {
      if (create) {
        zk_->createRecursive("/apps/" + name, data, ZkClient::CreateMode::Persistent, done);
      } else {
        zk_->set("/apps/" + name, data, -1, done);
      }
    });
    ASSERT_TRUE(st.isOk()) << st;
  }

  static client::Frame upstream(uint64_t seq, const std::string& payload) {
    client::Frame f;
    f.mutable_upstream()->set_seq(seq);
    f.mutable_upstream()->set_app("app1");
    f.mutable_upstream()->set_payload(payload);
    return f;
  }

  // Sends Upstream frames on `c` until one is answered ERROR_NONE (each one is answered: a
  // failed one at once, with the channel's endpoints not there yet) or `within` passed.
  bool upstreamUntilOk(FrameSocket& c, uint64_t* seq, std::chrono::milliseconds within) {
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      c.send(upstream(++*seq, "x"));
      if (!loop_.runUntil([&] { return c.hasFrame(); }, 5s, testing::kPoll)) return false;
      const client::Frame f = c.pop();
      if (f.body_case() == client::Frame::kUpstreamAck &&
          f.upstream_ack().code() == client::ERROR_NONE) {
        return true;
      }
      pause(20ms);
    }
    return false;
  }

  // Runs the loop for `d`.
  void pause(std::chrono::milliseconds d) {
    loop_.runUntil([] { return false; }, d, 5ms);
  }

  // Waits until process `pid` is the only instance under services/coordinator (instance ids
  // are "coordinator-<pid>-<start ms>").
  bool waitForOnly(pid_t pid, std::chrono::milliseconds within) {
    const std::string mine = "coordinator-" + std::to_string(pid) + "-";
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      const std::vector<std::string> nodes = coordinatorNodes();
      if (nodes.size() == 1 && nodes[0].rfind(mine, 0) == 0) return true;
      pause(20ms);
    }
    return false;
  }

  client::UpstreamAck upstreamAck(FrameSocket& c, uint64_t seq) {
    c.send(upstream(seq, "y"));
    return expectFrame(c, client::Frame::kUpstreamAck).upstream_ack();
  }

  static inline std::string hosts_;
  static inline std::unique_ptr<push::testing::ZooKeeperServer> own_;
  std::string root_;
  std::unique_ptr<ZkClient> zk_;
  std::unique_ptr<TestWebhook> hook_a_;
  std::unique_ptr<TestWebhook> hook_b_;
  std::unique_ptr<coord::CoordinatorServer> coordinator_;
  std::vector<std::unique_ptr<push::testing::Subprocess>> processes_;
  std::vector<std::string> files_;
};

TEST_F(CoordinatorDiscoveryTest, ACoordinatorStartedLaterIsUsedAndOneKilledIsReplaced) {
  startRoom(discoveringRoom());
  FrameSocket& c = authed("app1", "alice", "phone");
  uint64_t seq = 0;
  // No coordinator yet: answered at once, not held.
  client::UpstreamAck none = upstreamAck(c, ++seq);
  EXPECT_EQ(none.code(), client::ERROR_UNAVAILABLE) << none.message();

  push::testing::Subprocess* first = startCoordinatorProcess();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(waitForOnly(first->pid(), 10s));
  const auto registered = Clock::now();
  // The issue's 2 s on a quiet machine (printed); the bound leaves room for a loaded 2-core CI
  // box running ASan builds and a JVM ZooKeeper, as discovery_e2e_test does.
  ASSERT_TRUE(upstreamUntilOk(c, &seq, 5s)) << "not through the coordinator within 5 s";
  const auto took = Clock::now() - registered;
  std::printf(
      "upstream through the new coordinator %lld ms after it registered\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_LE(took, 5s);
  ASSERT_GE(hook_a_->count("/ok"), 1u);
  const std::string first_pid = "-" + std::to_string(first->pid()) + "-";
  EXPECT_NE(hook_a_->requests().back().request_id.find(first_pid), std::string::npos);

  first->sendSignal(SIGKILL);
  EXPECT_EQ(first->wait(5s), 128 + SIGKILL);
  push::testing::Subprocess* second = startCoordinatorProcess();
  ASSERT_NE(second, nullptr);
  // The killed one's node goes with its session (1 s); the second one's stays.
  ASSERT_TRUE(waitForOnly(second->pid(), 10s));
  ASSERT_TRUE(upstreamUntilOk(c, &seq, 5s)) << "not through the second coordinator";
  for (int i = 0; i < 3; ++i) {
    client::UpstreamAck ack = upstreamAck(c, ++seq);
    EXPECT_EQ(ack.code(), client::ERROR_NONE) << ack.message();
  }
  const std::string second_pid = "-" + std::to_string(second->pid()) + "-";
  EXPECT_NE(hook_a_->requests().back().request_id.find(second_pid), std::string::npos)
      << hook_a_->requests().back().request_id;
}

TEST_F(CoordinatorDiscoveryTest, AppsFromZooKeeperFollowEditsAndRemoval) {
  writeApp("app1", hook_a_->url("/ok"), true);
  startCoordinator({});
  ASSERT_TRUE(loop_.runUntil([&] { return coordinator_->service().app("app1") != nullptr; }, 10s));
  EXPECT_EQ(coordinator_->service().app("app1")->settings().max_concurrency, 1u);  // defaults
  startRoom(discoveringRoom());
  FrameSocket& c = authed("app1", "alice", "phone");
  uint64_t seq = 0;
  ASSERT_TRUE(upstreamUntilOk(c, &seq, 5s));
  const size_t on_a = hook_a_->count("/ok");
  EXPECT_GE(on_a, 1u);

  // The webhook edited live: the next item goes to the new URL.
  writeApp("app1", hook_b_->url("/ok"), false);
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return coordinator_->service().app("app1")->settings().upstream_url == hook_b_->url("/ok");
      },
      10s));
  client::UpstreamAck ack = upstreamAck(c, ++seq);
  EXPECT_EQ(ack.code(), client::ERROR_NONE) << ack.message();
  EXPECT_EQ(hook_b_->count("/ok"), 1u);
  EXPECT_EQ(hook_a_->count("/ok"), on_a);

  // Removed while one item runs (cap 1) and one waits: the waiting one is answered
  // ERROR_UNKNOWN_APP, the running one finishes with the webhook's answer.
  writeApp("app1", hook_b_->url("/slow"), false);
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return coordinator_->service().app("app1")->settings().upstream_url ==
               hook_b_->url("/slow");
      },
      10s));
  FrameSocket& d = authed("app1", "bob", "phone");
  c.send(upstream(100, "slow"));
  ASSERT_TRUE(loop_.runUntil([&] { return hook_b_->held() == 1; }, 5s, testing::kPoll));
  d.send(upstream(200, "waits"));
  ASSERT_TRUE(loop_.runUntil([&] { return coordinator_->service().app("app1")->queued() == 1; }, 5s,
                             testing::kPoll));
  ASSERT_TRUE(zkCall([&](ZkClient::Done done) { zk_->remove("/apps/app1", -1, done); }).isOk());
  client::UpstreamAck removed = expectFrame(d, client::Frame::kUpstreamAck).upstream_ack();
  EXPECT_EQ(removed.seq(), 200u);
  EXPECT_EQ(removed.code(), client::ERROR_UNKNOWN_APP) << removed.message();
  EXPECT_EQ(coordinator_->service().app("app1"), nullptr);
  EXPECT_NE(coordinator_->statusJson().find("\"apps_finishing\":1"), std::string::npos)
      << coordinator_->statusJson();
  hook_b_->releaseSlow();
  client::UpstreamAck late = expectFrame(c, client::Frame::kUpstreamAck).upstream_ack();
  EXPECT_EQ(late.seq(), 100u);
  EXPECT_EQ(late.code(), client::ERROR_NONE) << late.message();
  EXPECT_EQ(late.reply(), "late");
  EXPECT_TRUE(loop_.runUntil(
      [&] { return coordinator_->statusJson().find("\"apps_finishing\":0") != std::string::npos; },
      5s, testing::kPoll));

  // Gone: new items are refused as an unknown app.
  client::UpstreamAck unknown = upstreamAck(c, ++seq);
  EXPECT_EQ(unknown.code(), client::ERROR_UNKNOWN_APP) << unknown.message();
  // /status tells the registration and the app directory.
  const std::string status = coordinator_->statusJson();
  EXPECT_NE(status.find("\"registered\":true"), std::string::npos) << status;
  EXPECT_NE(status.find("\"apps\":{\"known\":0"), std::string::npos) << status;
}

TEST_F(CoordinatorDiscoveryTest, TheRoomsStopSendsTheEventsOfTheConnectionsItClosed) {
  coord::AppSettings a;
  a.name = "app1";
  a.upstream_url = hook_a_->url("/ok");
  a.events_url = hook_a_->url("/events");
  startCoordinator({a});
  // Events wait 10 s for their batch: without the stop's flush they would never be sent.
  startRoom(discoveringRoom(10s));
  FrameSocket& c = authed("app1", "alice", "phone");
  uint64_t seq = 0;
  ASSERT_TRUE(upstreamUntilOk(c, &seq, 5s));  // the room has found the coordinator
  EXPECT_EQ(hook_a_->count("/events"), 0u);

  bool stopped = false;
  room_->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
  clients_.clear();
  room_.reset();
  auto events = [&] {
    std::string all;
    for (const auto& r : hook_a_->requests())
      if (r.path == "/events") all += r.body;
    return all;
  };
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return events().find(R"("event":"offline","app":"app1","user":"alice")") !=
               std::string::npos;
      },
      5s, testing::kPoll))
      << events();
  EXPECT_NE(events().find(R"("event":"online","app":"app1","user":"alice")"), std::string::npos);
}

// The config side (no ZooKeeper needed): the apps rule of every service, the caps of apps from
// ZooKeeper, and the room's coordinator.discover.
TEST(CoordinatorDiscoveryConfigTest, NoStaticAppsNeedsDiscoveryAndTakesTheDefaultCaps) {
  config::CoordinatorConfig c;
  auto none = coord::CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_FALSE(none.isOk());
  EXPECT_NE(none.status().message().find("configure discovery"), std::string::npos)
      << none.status().message();
  c.mutable_discovery()->set_zookeeper("127.0.0.1:2181");
  c.mutable_app_defaults()->set_max_concurrency(3);
  c.mutable_app_defaults()->set_timeout_ms(700);
  auto zk = coord::CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(zk.isOk()) << zk.status();
  EXPECT_TRUE(zk->discovery.enabled());
  EXPECT_TRUE(zk->apps.empty());
  EXPECT_EQ(zk->app_defaults.max_concurrency, 3u);
  EXPECT_EQ(zk->app_defaults.max_queued, 1000u);
  EXPECT_EQ(zk->app_defaults.timeout, 700ms);
  c.mutable_app_defaults()->set_max_concurrency(0);
  c.mutable_app_defaults()->set_timeout_ms(5);
  EXPECT_FALSE(coord::CoordinatorOptions::fromConfig(c, nullptr).isOk());
}

TEST(CoordinatorDiscoveryConfigTest, AnAppRecordBecomesSettingsWithTheDefaultCaps) {
  discovery::AppRecord r;
  r.name = "chat";
  r.upstream_webhooks = {{"default", "http://127.0.0.1:1/up"}, {"game", "http://127.0.0.1:1/g"}};
  r.events_webhook = "http://127.0.0.1:1/events";
  r.events = {"offline"};
  coord::AppSettings defaults;
  defaults.max_concurrency = 7;
  defaults.max_queued = 8;
  defaults.timeout = 900ms;
  auto s = coord::AppSettings::fromRecord(r, defaults);
  ASSERT_TRUE(s.isOk()) << s.status();
  EXPECT_EQ(s->name, "chat");
  EXPECT_EQ(s->urlFor(""), "http://127.0.0.1:1/up");
  EXPECT_EQ(s->urlFor("game"), "http://127.0.0.1:1/g");
  EXPECT_EQ(s->urlFor("other"), "http://127.0.0.1:1/up");
  EXPECT_TRUE(s->wantsEvent(false));
  EXPECT_FALSE(s->wantsEvent(true));
  EXPECT_EQ(s->max_concurrency, 7u);
  EXPECT_EQ(s->max_queued, 8u);
  EXPECT_EQ(s->timeout, 900ms);
  r.name = "bad name";
  EXPECT_FALSE(coord::AppSettings::fromRecord(r, defaults).isOk());
}

TEST(CoordinatorDiscoveryConfigTest, RoomCoordinatorDiscoverNeedsDiscoveryAndNoAddresses) {
  config::RoomConfig cfg;
  auto* app = cfg.add_apps();
  app->set_name("app");
  app->set_secret("0123456789abcdef");
  cfg.mutable_coordinator()->set_discover(true);
  auto no_zk = RoomOptions::fromConfig(cfg, nullptr);
  ASSERT_FALSE(no_zk.isOk());
  EXPECT_NE(no_zk.status().message().find("coordinator.discover"), std::string::npos)
      << no_zk.status().message();
  cfg.mutable_discovery()->set_zookeeper("127.0.0.1:2181");
  auto ok = RoomOptions::fromConfig(cfg, nullptr);
  ASSERT_TRUE(ok.isOk()) << ok.status();
  ASSERT_TRUE(ok->coordinator.has_value());
  EXPECT_TRUE(ok->coordinator->discover);
  EXPECT_TRUE(ok->coordinator->addresses.empty());
  cfg.mutable_coordinator()->add_addresses("127.0.0.1:7500");
  EXPECT_FALSE(RoomOptions::fromConfig(cfg, nullptr).isOk());
}

}  // namespace
}  // namespace push::room
