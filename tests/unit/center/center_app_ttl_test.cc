// An app's offline TTL (CenterOptions::App::offline_ttl_s, from its ZooKeeper record) is the
// TTL of the messages center has saver store for it when a push gives no "ttl": CenterServer
// on a real loop with the in-process FakeSaver. Store comes before the register lookup (store,
// then send), so no register is needed: the push is answered 503 (lookup failed) after saver
// got the message, which is what is checked.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/net/event_loop.h"
#include "proto/config.pb.h"
#include "services/center/center_server.h"
#include "tests/support/fake_saver.h"
#include "tests/support/http_client.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;

constexpr char kTtlKey[] = "ttl-app-key-0123456789";
constexpr char kPlainKey[] = "plain-app-key-0123456789";

class CenterAppTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = ::push::testing::FakeSaver::start(loop_);
    ASSERT_TRUE(fake.isOk()) << fake.status().toString();
    saver_ = std::move(fake).value();
    config::CenterConfig cfg;
    // Register on a port nothing listens on: lookups fail (after the store).
    const std::string text = R"(
        http { listen { address: "127.0.0.1:0" } }
        register { shards { address: "127.0.0.1:1" slots: "0-1023" } }
        apps { name: "ttl" api_keys: ")" +
                             std::string(kTtlKey) +
                             R"(" }
        apps { name: "plain" api_keys: ")" +
                             std::string(kPlainKey) +
                             R"(" }
        saver { addresses: ")" +
                             saver_->address() +
                             R"(" timeout_ms: 2000 }
        )";
    auto file = ConfigFile::parse(text, "center.conf", &cfg);
    ASSERT_TRUE(file.isOk()) << file.status().toString();
    auto o = CenterOptions::fromConfig(cfg, file->get());
    ASSERT_TRUE(o.isOk()) << o.status().toString();
    ASSERT_EQ(o->apps.at(0).offline_ttl_s, 0u);  // a static app: saver's default
    o->apps.at(0).offline_ttl_s = 120;           // as appFromRecord sets it
    o->stop_grace = 2s;
    auto created = CenterServer::create(loop_, std::move(o).value());
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    center_ = std::move(created).value();
    ASSERT_TRUE(center_->start().isOk());
  }
  void TearDown() override {
    if (center_) {
      bool done = false;
      center_->stop([&] { done = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return done; }, 10s));
      center_.reset();
    }
    saver_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // One push on a helper thread while this thread runs the loop; its HTTP status.
  int push(const std::string& key, const std::string& body) {
    std::optional<Result<::push::testing::HttpReply>> reply;
    std::atomic<bool> finished{false};
    const std::string address = center_->address().toString();
    std::thread client([&] {
      reply.emplace(::push::testing::httpRequest(
          address, "POST", "/v1/push", body,
          {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}}, 8s));
      finished = true;
      loop_.post([] {});
    });
    const bool ok = loop_.runUntil([&] { return finished.load(); }, 10s);
    client.join();
    if (!ok || !reply->isOk()) return -1;
    return (*reply)->status;
  }

  // The ttl_s of the message of the last Store call.
  std::optional<uint32_t> lastStoredTtl() {
    if (saver_->stores().empty()) return std::nullopt;
    return saver_->stores().back().items(0).message().ttl_s();
  }

  net::EventLoop loop_;
  std::unique_ptr<::push::testing::FakeSaver> saver_;
  std::unique_ptr<CenterServer> center_;
};

TEST_F(CenterAppTtlTest, APushWithoutTtlGetsTheAppsOfflineTtl) {
  EXPECT_EQ(push(kTtlKey, R"({"app":"ttl","users":["ann"],"payload":"p","qos":1})"), 503);
  ASSERT_EQ(saver_->stores().size(), 1u);
  EXPECT_EQ(lastStoredTtl(), 120u);
}

TEST_F(CenterAppTtlTest, APushsOwnTtlWins) {
  EXPECT_EQ(push(kTtlKey, R"({"app":"ttl","users":["ann"],"payload":"p","qos":1,"ttl":600})"), 503);
  EXPECT_EQ(lastStoredTtl(), 600u);
}

TEST_F(CenterAppTtlTest, AnAppWithoutOfflineTtlLeavesItToSaver) {
  EXPECT_EQ(push(kPlainKey, R"({"app":"plain","users":["ann"],"payload":"p","qos":1})"), 503);
  EXPECT_EQ(lastStoredTtl(), 0u);
}

}  // namespace
}  // namespace push::center
