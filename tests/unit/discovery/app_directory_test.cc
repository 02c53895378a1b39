// AppDirectory (common/discovery) against a real ZooKeeper: apps created, edited and removed
// reach the callback as a full map; a malformed record keeps the previous good one; after a
// session expiry everything is listed, read and watched again.

#include "common/discovery/app_directory.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/unit/discovery/zk_fixture.h"

namespace push::discovery {
namespace {

std::string record(uint32_t push_rate, const std::string& secret = "0123456789abcdef") {
  AppRecord r;
  r.secrets.push_back(AppSecret{"k1", secret, 0});
  r.push_rate_per_s = push_rate;
  return encodeAppRecord(r);
}

class AppDirectoryTest : public ZkTest {
 protected:
  std::unique_ptr<AppDirectory> directory(ZkClient& zk) {
    auto d = AppDirectory::create(zk, [this](const AppDirectory::Apps& apps) {
      seen_ = apps;
      ++calls_;
    });
    EXPECT_TRUE(d.isOk()) << d.status();
    if (!d.isOk()) return nullptr;
    auto out = std::move(d).value();
    out->start();
    return out;
  }
  // The push rate of `app` as last delivered, 0 when absent.
  uint32_t rate(const std::string& app) const {
    auto it = seen_.find(app);
    return it != seen_.end() ? it->second.push_rate_per_s : 0;
  }
  Status put(ZkClient& zk, const std::string& app, const std::string& data) {
    Status st = wait([&](auto done) { zk.set("/apps/" + app, data, -1, done); });
    if (st.code() != Code::NOT_FOUND) return st;
    return wait([&](auto done) {
      zk.createRecursive("/apps/" + app, data, ZkClient::CreateMode::Persistent, done);
    });
  }

  AppDirectory::Apps seen_;
  int calls_ = 0;
};

TEST_F(AppDirectoryTest, BadOptionsAreInvalidArgument) {
  auto zk = client();
  ASSERT_TRUE(zk);
  EXPECT_EQ(AppDirectory::create(*zk, nullptr).status().code(), Code::INVALID_ARGUMENT);
  AppDirectory::Options o;
  o.retry_delay = std::chrono::milliseconds(0);
  EXPECT_EQ(AppDirectory::create(
                *zk, [](const auto&) {}, o)
                .status()
                .code(),
            Code::INVALID_ARGUMENT);
}

TEST_F(AppDirectoryTest, AppsCreatedEditedAndRemovedAreDelivered) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  auto dir = directory(*zk);
  // No /apps yet: an empty map, once.
  ASSERT_TRUE(loop_.runUntil([&] { return calls_ == 1; }, 5s));
  EXPECT_TRUE(seen_.empty());

  ASSERT_TRUE(put(*zk, "chat", record(100)).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 100; }, 5s));
  EXPECT_EQ(seen_.at("chat").name, "chat");
  EXPECT_EQ(dir->find("chat")->push_rate_per_s, 100u);

  ASSERT_TRUE(put(*zk, "chat", record(200)).isOk());  // edited
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 200; }, 5s));

  ASSERT_TRUE(put(*zk, "game", record(300)).isOk());  // a second app
  ASSERT_TRUE(loop_.runUntil([&] { return rate("game") == 300; }, 5s));
  EXPECT_EQ(rate("chat"), 200u);

  EXPECT_TRUE(wait([&](auto done) { zk->remove("/apps/chat", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.count("chat") == 0; }, 5s));
  EXPECT_EQ(rate("game"), 300u);
  EXPECT_EQ(dir->find("chat"), nullptr);
  EXPECT_EQ(dir->rejected(), 0u);
}

TEST_F(AppDirectoryTest, MalformedRecordKeepsThePreviousGoodOne) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  ASSERT_TRUE(put(*zk, "chat", record(100)).isOk());
  ASSERT_TRUE(put(*zk, "new", "{not json").isOk());  // never good
  auto dir = directory(*zk);
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 100; }, 5s));
  EXPECT_EQ(seen_.count("new"), 0u);
  EXPECT_EQ(dir->rejected(), 1u);
  const int calls = calls_;

  ASSERT_TRUE(put(*zk, "chat", record(100, "short")).isOk());  // a secret too short
  ASSERT_TRUE(loop_.runUntil([&] { return dir->rejected() == 2; }, 5s));
  EXPECT_EQ(rate("chat"), 100u);  // the previous record, and no delivery for nothing new
  EXPECT_EQ(calls_, calls);

  ASSERT_TRUE(put(*zk, "chat", record(150)).isOk());  // fixed
  ASSERT_TRUE(put(*zk, "new", record(50)).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 150 && rate("new") == 50; }, 5s));
  EXPECT_EQ(dir->rejected(), 2u);
}

TEST_F(AppDirectoryTest, SessionExpiryReadsAndWatchesEverythingAgain) {
  auto zk = connectedClient();
  auto writer = connectedClient();  // another session, as an operator tool would be
  ASSERT_TRUE(zk && writer);
  ASSERT_TRUE(put(*writer, "chat", record(100)).isOk());
  auto dir = directory(*zk);
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 100; }, 5s));

  bool reestablished = false;
  zk->addSessionListener([&](ZkClient::SessionEvent e) {
    if (e == ZkClient::SessionEvent::Reestablished) reestablished = true;
  });
  ASSERT_TRUE(expireSession(*zk));
  ASSERT_TRUE(loop_.runUntil([&] { return reestablished; }, 10s));
  // The old session's watches are gone; edits and new apps still arrive.
  ASSERT_TRUE(put(*writer, "chat", record(111)).isOk());
  ASSERT_TRUE(put(*writer, "game", record(222)).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return rate("chat") == 111 && rate("game") == 222; }, 10s));
  EXPECT_TRUE(wait([&](auto done) { writer->remove("/apps/game", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.count("game") == 0; }, 5s));
}

}  // namespace
}  // namespace push::discovery
