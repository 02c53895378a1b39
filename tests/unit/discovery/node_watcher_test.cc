// NodeWatcher (common/discovery) against a real ZooKeeper: a config node created, changed,
// deleted and created again, and a watcher that outlives an expired session.

#include "common/discovery/node_watcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/discovery/zk_fixture.h"

namespace push::discovery {
namespace {

class NodeWatcherTest : public ZkTest {
 protected:
  std::unique_ptr<NodeWatcher> watcher(ZkClient& zk, const std::string& path) {
    auto w = NodeWatcher::create(zk, path, [this](Result<std::string> r) { seen_.push_back(r); });
    EXPECT_TRUE(w.isOk()) << w.status();
    if (!w.isOk()) return nullptr;
    auto out = std::move(w).value();
    out->start();
    return out;
  }
  // "<bytes>" or "NOT_FOUND" per delivery.
  std::vector<std::string> text() const {
    std::vector<std::string> out;
    for (const auto& r : seen_)
      out.push_back(r.isOk() ? *r : std::string(codeName(r.status().code())));
    return out;
  }
  std::vector<Result<std::string>> seen_;
};

TEST_F(NodeWatcherTest, BadPathIsInvalidArgument) {
  auto zk = client();
  ASSERT_TRUE(zk);
  auto noop = [](Result<std::string>) {};
  EXPECT_EQ(NodeWatcher::create(*zk, "", noop).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(NodeWatcher::create(*zk, "config/room", noop).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(NodeWatcher::create(*zk, "/config/", noop).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(NodeWatcher::create(*zk, "/config/room", nullptr).status().code(),
            Code::INVALID_ARGUMENT);
}

TEST_F(NodeWatcherTest, SeesCreatedChangedDeletedAndCreatedAgain) {
  auto zk = client();
  auto admin = client();
  auto w = watcher(*zk, "/config/room");
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 1; }, 10s));
  EXPECT_EQ(text(), (std::vector<std::string>{"NOT_FOUND"}));
  EXPECT_FALSE(w->exists());

  EXPECT_TRUE(wait([&](auto done) {
                admin->createRecursive("/config/room", "v1", ZkClient::CreateMode::Persistent,
                                       done);
              }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 2; }, 10s));
  EXPECT_EQ(text().back(), "v1");
  EXPECT_TRUE(w->exists());

  EXPECT_TRUE(wait([&](auto done) { admin->set("/config/room", "v2", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 3; }, 10s));
  EXPECT_EQ(text().back(), "v2");
  EXPECT_EQ(w->version(), 1);

  EXPECT_TRUE(wait([&](auto done) { admin->remove("/config/room", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 4; }, 10s));
  EXPECT_EQ(text().back(), "NOT_FOUND");

  EXPECT_TRUE(wait([&](auto done) {
                admin->create("/config/room", "v3", ZkClient::CreateMode::Persistent,
                              [done](Result<std::string> r) { done(r.status()); });
              }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 5; }, 10s));
  EXPECT_EQ(text().back(), "v3");
  // Nothing more than that (no duplicate deliveries).
  loop_.runUntil([&] { return seen_.size() > 5; }, 200ms, 10ms);
  EXPECT_EQ(text(), (std::vector<std::string>{"NOT_FOUND", "v1", "v2", "NOT_FOUND", "v3"}));
}

TEST_F(NodeWatcherTest, WatchesAgainAfterSessionExpiry) {
  auto zk = client();
  auto admin = client();
  EXPECT_TRUE(wait([&](auto done) {
                admin->createRecursive("/apps/demo", "s1", ZkClient::CreateMode::Persistent, done);
              }).isOk());
  auto w = watcher(*zk, "/apps/demo");
  ASSERT_TRUE(loop_.runUntil([&] { return seen_.size() == 1; }, 10s));
  EXPECT_EQ(text().back(), "s1");
  ASSERT_TRUE(expireSession(*zk));
  ASSERT_TRUE(loop_.runUntil([&] { return zk->connected(); }, 10s));
  EXPECT_TRUE(wait([&](auto done) { admin->set("/apps/demo", "s2", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return !seen_.empty() && text().back() == "s2"; }, 5s));
}

}  // namespace
}  // namespace push::discovery
