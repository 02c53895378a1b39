// Center's apps from ZooKeeper (issue 17): push-center with no static `apps` and a `discovery`
// block, as a real process, with push-register and push-room (LocalCluster, its own center
// off) and a real ZooKeeper (the run's shared one under ctest, else one for this binary). The
// test writes app records apps/<app> the way pushctl does and checks, through center's HTTP
// API, that they apply live: a new app's key works within 2 s, keys rotate, a deleted app gets
// 401, a lowered rate limit gives 429 sooner, a malformed record keeps the previous one, and a
// static app list still means ZooKeeper's records are not read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/discovery/app_record.h"
#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/subprocess.h"
#include "tests/support/zookeeper_server.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

const std::string kKey1 = "live-key-one-0123456789";
const std::string kKey2 = "live-key-two-0123456789";
const std::string kOtherKey = "other-key-0123456789ab";

class CenterAppsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { zk_address_ = ZooKeeperServer::sharedOrStart(&own_zk_); }
  static void TearDownTestSuite() {
    own_zk_.reset();
    zk_address_.clear();
  }

  void SetUp() override {
    if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    ASSERT_FALSE(zk_address_.empty()) << "ZooKeeper did not start";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = "/push/center_apps." + std::string(info->name()) + "." + std::to_string(::getpid());
    LocalCluster::Options o;
    o.websocket = false;
    o.start_center = false;
    auto c = LocalCluster::start(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
  }
  void TearDown() override {
    if (center_) {
      center_->sendSignal(SIGTERM);
      EXPECT_EQ(center_->wait(), 0);
      center_.reset();
    }
    zk_.reset();
    (void)loop_.shutdown();
  }

  // push-center with no static apps: its apps are ZooKeeper's. `extra`: more config text.
  void startCenter(const std::string& extra = "") {
    const std::string path = cluster_->dir() + "/center-live.conf";
    std::ofstream(path) << "http { listen { address: \"127.0.0.1:0\" } }\n"
                           "register { shards { address: \"" +
                               cluster_->registerAddress() +
                               "\" slots: \"0-1023\" } }\n"
                               "discovery { zookeeper: \"" +
                               zk_address_ + "\" root: \"" + root_ +
                               "\" session_timeout_ms: 2000 }\n"
                               // The tests poll with keys center does not know yet: 401s
                               // that must not turn into the limiter's 429.
                               "auth_failure_burst: 1000000 auth_failures_per_minute: 1000000\n" +
                               cluster_->clusterKeyConfig() + extra;
    auto p = Subprocess::start({binPath("push-center"), "--config", path});
    ASSERT_TRUE(p.isOk()) << p.status().toString();
    center_ = std::move(p).value();
    auto address = center_->waitForLine("HTTP_ADDRESS");
    ASSERT_TRUE(address.isOk()) << address.status().toString();
    address_ = *address;
  }

  discovery::ZkClient& zk() {
    if (!zk_) {
      discovery::ZkClient::Options o;
      o.hosts = zk_address_;
      o.root = root_;
      auto c = discovery::ZkClient::create(loop_, o);
      EXPECT_TRUE(c.isOk()) << c.status().toString();
      zk_ = std::move(c).value();
      EXPECT_TRUE(loop_.runUntil([&] { return zk_->connected(); }, 10s));
    }
    return *zk_;
  }

  // Creates or replaces apps/<name> with `data` (as pushctl does).
  void putApp(const std::string& name, const std::string& data) {
    const std::string path = "/apps/" + name;
    std::optional<Status> created;
    zk().createRecursive(path, data, discovery::ZkClient::CreateMode::Persistent,
                         [&](Status st) { created = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return created.has_value(); }, 10s));
    if (created->code() != Code::ALREADY_EXISTS) {
      ASSERT_TRUE(created->isOk()) << created->toString();
      return;
    }
    std::optional<Status> set;
    zk().set(path, data, -1, [&](Status st) { set = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return set.has_value(); }, 10s));
    ASSERT_TRUE(set->isOk()) << set->toString();
  }
  void putRecord(discovery::AppRecord record) {
    if (record.secrets.empty()) record.secrets.push_back({"s1", "secret-0123456789abcdef", 0});
    putApp(record.name, discovery::encodeAppRecord(record));
  }
  void deleteApp(const std::string& name) {
    std::optional<Status> removed;
    zk().remove("/apps/" + name, -1, [&](Status st) { removed = st; });
    ASSERT_TRUE(loop_.runUntil([&] { return removed.has_value(); }, 10s));
    ASSERT_TRUE(removed->isOk()) << removed->toString();
  }

  static discovery::AppRecord record(const std::string& name, std::vector<std::string> keys) {
    discovery::AppRecord r;
    r.name = name;
    r.api_keys = std::move(keys);
    return r;
  }

  // POST /v1/push of `app` to one user never connected, with `key`: the HTTP status.
  int push(const std::string& app, const std::string& key, std::string* body = nullptr) {
    auto r = httpRequest(
        address_, "POST", "/v1/push", R"({"app":")" + app + R"(","users":["ann"],"payload":"p"})",
        {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
    if (!r.isOk()) return -1;
    if (body) *body = r->body;
    return r->status;
  }
  std::string status() {
    auto r = httpRequest(address_, "GET", "/status");
    return r.isOk() ? r->body : "";
  }

  static inline std::string zk_address_;
  static inline std::unique_ptr<ZooKeeperServer> own_zk_;
  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Subprocess> center_;
  std::string address_;
  net::EventLoop loop_;
  std::unique_ptr<discovery::ZkClient> zk_;
};

TEST_F(CenterAppsE2eTest, AnAppWrittenAfterCenterStartedIsUsableWithinTwoSeconds) {
  ASSERT_NO_FATAL_FAILURE(startCenter());
  EXPECT_EQ(push("live", kKey1), 401);  // nothing in ZooKeeper yet
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  const auto written = std::chrono::steady_clock::now();
  std::string body;
  ASSERT_TRUE(eventually([&] { return push("live", kKey1, &body) == 200; }, 10s)) << body;
  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - written)
                           .count();
  std::printf("a new app's key worked %lld ms after its record was written\n",
              static_cast<long long>(took_ms));
  EXPECT_LT(took_ms, 2000);
  EXPECT_NE(body.find("\"offline\""), std::string::npos) << body;
  // The key names its app: another app's name in the body is still refused.
  EXPECT_EQ(push("other", kKey1), 401);
  const std::string st = status();
  EXPECT_NE(st.find("\"apps_source\":\"zookeeper\""), std::string::npos) << st;
  EXPECT_NE(st.find("\"live\":{\"active\":true"), std::string::npos) << st;
  EXPECT_NE(st.find("\"api_keys\":1"), std::string::npos) << st;
  EXPECT_NE(st.find("\"offline_ttl_s\":604800"), std::string::npos) << st;  // the default
}

TEST_F(CenterAppsE2eTest, AKeyAddedAndTheOldOneRemovedLive) {
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  ASSERT_NO_FATAL_FAILURE(startCenter());
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 200; }));
  // Rotation: both keys for a while, then the new one alone.
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1, kKey2})));
  ASSERT_TRUE(eventually([&] { return push("live", kKey2) == 200; }));
  EXPECT_EQ(push("live", kKey1), 200);
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey2})));
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 401; }));
  EXPECT_EQ(push("live", kKey2), 200);
}

TEST_F(CenterAppsE2eTest, ADeletedAppGets401AndAnotherAppIsUntouched) {
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  ASSERT_NO_FATAL_FAILURE(putRecord(record("other", {kOtherKey})));
  ASSERT_NO_FATAL_FAILURE(startCenter());
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 200; }));
  ASSERT_TRUE(eventually([&] { return push("other", kOtherKey) == 200; }));
  ASSERT_NO_FATAL_FAILURE(deleteApp("live"));
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 401; }));
  auto user = httpRequest(address_, "GET", "/v1/apps/live/users/ann", "",
                          {{"Authorization", "Bearer " + kKey1}});
  ASSERT_TRUE(user.isOk());
  EXPECT_EQ(user->status, 401);
  EXPECT_EQ(push("other", kOtherKey), 200);
  const std::string st = status();
  EXPECT_NE(st.find("\"live\":{\"active\":false"), std::string::npos) << st;
  // Written again: back, under the same key.
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 200; }));
}

// How many pushes in a row get through before the first 429 (at most `limit`).
int pushesBefore429(const std::function<int()>& push_once, int limit) {
  for (int i = 0; i < limit; ++i) {
    if (push_once() == 429) return i;
  }
  return limit;
}

TEST_F(CenterAppsE2eTest, ARateLimitLoweredLiveGives429Sooner) {
  discovery::AppRecord r = record("live", {kKey1});
  r.push_rate_per_s = 1;
  r.push_burst = 40;
  ASSERT_NO_FATAL_FAILURE(putRecord(r));
  ASSERT_NO_FATAL_FAILURE(startCenter());
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 200; }));
  // The burst of 40 (one spent above, about one refilled per second): many pushes pass.
  const int before = pushesBefore429([&] { return push("live", kKey1); }, 60);
  EXPECT_GE(before, 30);
  EXPECT_LT(before, 60);  // the limit is there at all
  // Lowered to a burst of 3 and a slow refill, then the bucket refills for the new limit.
  r.push_burst = 3;
  ASSERT_NO_FATAL_FAILURE(putRecord(r));
  ASSERT_TRUE(eventually([&] { return status().find("\"push_burst\":3") != std::string::npos; }));
  std::this_thread::sleep_for(3100ms);  // a refill at 1/s: what the test measures, not a sync
  const int after = pushesBefore429([&] { return push("live", kKey1); }, 60);
  EXPECT_LE(after, 4);
  EXPECT_GE(after, 1);
  auto r429 =
      httpRequest(address_, "POST", "/v1/push", R"({"app":"live","users":["ann"],"payload":"p"})",
                  {{"Authorization", "Bearer " + kKey1}, {"Content-Type", "application/json"}});
  ASSERT_TRUE(r429.isOk());
  EXPECT_EQ(r429->status, 429);
  EXPECT_FALSE(r429->header("Retry-After").empty());
}

TEST_F(CenterAppsE2eTest, AMalformedRecordKeepsThePreviousOne) {
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  ASSERT_NO_FATAL_FAILURE(startCenter());
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 200; }));
  // Not JSON, then JSON that breaks a rule (a short key): both ignored, kKey1 keeps working.
  ASSERT_NO_FATAL_FAILURE(putApp("live", "{not json"));
  ASSERT_NO_FATAL_FAILURE(putApp(
      "live",
      R"({"secrets":[{"id":"s","secret":"secret-0123456789abcdef"}],"api_keys":["short"]})"));
  // A second app written after the bad versions: once it works, center has read them.
  ASSERT_NO_FATAL_FAILURE(putRecord(record("other", {kOtherKey})));
  ASSERT_TRUE(eventually([&] { return push("other", kOtherKey) == 200; }));
  EXPECT_EQ(push("live", kKey1), 200);
  EXPECT_EQ(push("live", "short"), 401);
  // A good edit applies again.
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey2})));
  ASSERT_TRUE(eventually([&] { return push("live", kKey1) == 401; }));
  EXPECT_EQ(push("live", kKey2), 200);
}

TEST_F(CenterAppsE2eTest, WithAStaticAppListZooKeepersRecordsAreNotRead) {
  ASSERT_NO_FATAL_FAILURE(putRecord(record("live", {kKey1})));
  // A static app listed: ZooKeeper's records are not read.
  ASSERT_NO_FATAL_FAILURE(
      startCenter("apps { name: \"static\" secret: \"static-secret-0123456789\" api_keys: \"" +
                  kOtherKey + "\" }\n"));
  EXPECT_EQ(push("static", kOtherKey), 200);
  // Its ZooKeeper session is up and its node written: had it watched apps/, the watch would be
  // set on this session. It made no app directory at all (no "known" count in its status).
  ASSERT_TRUE(eventually([&] { return status().find("\"registered\":true") != std::string::npos; }))
      << status();
  const std::string st = status();
  EXPECT_EQ(st.find("\"known\":"), std::string::npos) << st;
  EXPECT_EQ(push("live", kKey1), 401);
  EXPECT_NE(st.find("\"apps_source\":\"static\""), std::string::npos) << st;
}

}  // namespace
}  // namespace push::testing
