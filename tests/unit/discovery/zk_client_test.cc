// ZkClient (common/discovery) against a real ZooKeeper (tests/support/zookeeper_server.h;
// skipped without java and the zookeeper jar).

#include "common/discovery/zk_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/discovery/zk_fixture.h"

namespace push::discovery {
namespace {

TEST(ZkClientOptionsTest, BadOptionsAreInvalidArgumentNotACrash) {
  net::EventLoop loop;
  ZkClient::Options o;
  EXPECT_EQ(ZkClient::create(loop, o).status().code(), Code::INVALID_ARGUMENT);  // no hosts
  o.hosts = "127.0.0.1:1";
  o.root = "push/c1";
  EXPECT_EQ(ZkClient::create(loop, o).status().code(), Code::INVALID_ARGUMENT);
  o.root = "/push/c1/";
  EXPECT_EQ(ZkClient::create(loop, o).status().code(), Code::INVALID_ARGUMENT);
  o.root = "/push/c1";
  o.session_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(ZkClient::create(loop, o).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(ZkClientPathTest, PathsAndNames) {
  EXPECT_TRUE(ZkClient::checkPath("/").isOk());
  EXPECT_TRUE(ZkClient::checkPath("/a/b").isOk());
  EXPECT_FALSE(ZkClient::checkPath("").isOk());
  EXPECT_FALSE(ZkClient::checkPath("a").isOk());
  EXPECT_FALSE(ZkClient::checkPath("/a/").isOk());
  EXPECT_FALSE(ZkClient::checkPath("/a//b").isOk());
  EXPECT_FALSE(ZkClient::checkPath(std::string("/a\0b", 4)).isOk());
  EXPECT_TRUE(ZkClient::checkName("room-1", "id").isOk());
  EXPECT_EQ(ZkClient::checkName("", "id").code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(ZkClient::checkName("a/b", "id").code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(ZkClient::checkName("..", "id").code(), Code::INVALID_ARGUMENT);
}

class ZkClientTest : public ZkTest {};

TEST_F(ZkClientTest, CreateGetSetChildrenDelete) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  EXPECT_NE(zk->sessionId(), 0);
  // Parents (root included) are made by createRecursive.
  EXPECT_TRUE(wait([&](auto done) {
                zk->createRecursive("/a/b/c", "hello", ZkClient::CreateMode::Persistent, done);
              }).isOk());
  EXPECT_EQ(wait([&](auto done) {
              zk->createRecursive("/a/b/c", "again", ZkClient::CreateMode::Persistent, done);
            }).code(),
            Code::ALREADY_EXISTS);

  std::optional<Result<ZkClient::Node>> node;
  zk->get("/a/b/c", false, [&](Result<ZkClient::Node> r) { node = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return node.has_value(); }, 5s));
  ASSERT_TRUE(node->isOk()) << node->status();
  EXPECT_EQ((*node)->data, "hello");
  EXPECT_EQ((*node)->version, 0);
  EXPECT_EQ((*node)->ephemeral_owner, 0);

  EXPECT_TRUE(wait([&](auto done) { zk->set("/a/b/c", "world", 0, done); }).isOk());
  EXPECT_EQ(wait([&](auto done) { zk->set("/a/b/c", "stale", 0, done); }).code(),
            Code::FAILED_PRECONDITION);  // version 0 is gone
  EXPECT_EQ(wait([&](auto done) { zk->set("/nope", "x", -1, done); }).code(), Code::NOT_FOUND);

  std::optional<Result<std::string>> created;
  zk->create("/a/b/e", "", ZkClient::CreateMode::Ephemeral,
             [&](Result<std::string> r) { created = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return created.has_value(); }, 5s));
  ASSERT_TRUE(created->isOk()) << created->status();
  EXPECT_EQ(**created, "/a/b/e");  // relative to the root

  std::optional<Result<std::vector<std::string>>> children;
  zk->getChildren("/a/b", false, [&](auto r) { children = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return children.has_value(); }, 5s));
  ASSERT_TRUE(children->isOk());
  EXPECT_EQ(**children, (std::vector<std::string>{"c", "e"}));

  node.reset();
  zk->get("/a/b/e", false, [&](Result<ZkClient::Node> r) { node = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return node.has_value(); }, 5s));
  ASSERT_TRUE(node->isOk());
  EXPECT_EQ((*node)->ephemeral_owner, zk->sessionId());
  EXPECT_EQ((*node)->data, "");

  EXPECT_EQ(wait([&](auto done) { zk->remove("/a/b", -1, done); }).code(),
            Code::FAILED_PRECONDITION);  // not empty
  EXPECT_TRUE(wait([&](auto done) { zk->remove("/a/b/c", -1, done); }).isOk());
  EXPECT_EQ(wait([&](auto done) { zk->exists("/a/b/c", false, done); }).code(), Code::NOT_FOUND);
  EXPECT_TRUE(wait([&](auto done) { zk->exists("/a/b/e", false, done); }).isOk());
  // Bad paths fail through the callback, not in the call.
  EXPECT_EQ(wait([&](auto done) { zk->exists("no-slash", false, done); }).code(),
            Code::INVALID_ARGUMENT);
  EXPECT_EQ(wait([&](auto done) { zk->remove("/a//b", -1, done); }).code(), Code::INVALID_ARGUMENT);
}

TEST_F(ZkClientTest, WatchEventsArriveOnTheLoopWithRelativePaths) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  std::vector<std::pair<ZkClient::EventType, std::string>> events;
  zk->addWatch("/w", [&](ZkClient::EventType type, const std::string& path) {
    EXPECT_TRUE(loop_.isInLoopThread());
    events.emplace_back(type, path);
  });
  EXPECT_EQ(wait([&](auto done) { zk->exists("/w", true, done); }).code(), Code::NOT_FOUND);
  EXPECT_TRUE(wait([&](auto done) {
                zk->createRecursive("/w", "1", ZkClient::CreateMode::Persistent, done);
              }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return events.size() == 1; }, 5s));
  EXPECT_EQ(events[0].first, ZkClient::EventType::Created);
  EXPECT_EQ(events[0].second, "/w");

  std::optional<Result<ZkClient::Node>> node;
  zk->get("/w", true, [&](Result<ZkClient::Node> r) { node = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return node.has_value(); }, 5s));
  EXPECT_TRUE(wait([&](auto done) { zk->set("/w", "2", -1, done); }).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return events.size() == 2; }, 5s));
  EXPECT_EQ(events[1].first, ZkClient::EventType::Changed);
}

TEST_F(ZkClientTest, DestroyedClientNeverCallsBack) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  int calls = 0;
  for (int i = 0; i < 20; ++i)
    zk->exists("/x" + std::to_string(i), true, [&](Status) { ++calls; });
  zk.reset();
  // Nothing may arrive: give anything in flight the chance to.
  loop_.runUntil([&] { return calls > 0; }, 300ms, 10ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(ZkClientTest, CallRefusedByTheLibraryIsAnsweredExactlyOnce) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  // checkPath accepts "." components; the C client refuses them (ZBADARGUMENTS) before it
  // registers a completion, so issue() answers and frees the call itself. Under ASan a second
  // free or a lost call would show.
  int answers = 0;
  std::optional<Status> status;
  for (int i = 0; i < 5; ++i) {
    zk->exists("/a/.", false, [&](Status st) {
      ++answers;
      status = st;
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return answers >= 5; }, 5s));
  EXPECT_EQ(status->code(), Code::INVALID_ARGUMENT) << *status;
  // The session still works, and nothing more arrives for the refused calls.
  EXPECT_EQ(wait([&](auto done) { zk->exists("/none", false, done); }).code(), Code::NOT_FOUND);
  EXPECT_EQ(answers, 5);
}

TEST_F(ZkClientTest, UnreachableServerStaysConnectingAndCallsFailOrWait) {
  ZkClient::Options o = options();
  o.hosts = "127.0.0.1:1";  // nothing listens there
  auto made = ZkClient::create(loop_, o);
  ASSERT_TRUE(made.isOk());
  auto zk = std::move(made).value();
  EXPECT_EQ(zk->state(), ZkClient::SessionState::Connecting);
  EXPECT_FALSE(loop_.runUntil([&] { return zk->connected(); }, 300ms, 10ms));
}

TEST_F(ZkClientTest, ExpiredSessionIsReplacedAndListenersAreTold) {
  auto zk = connectedClient();
  ASSERT_TRUE(zk);
  std::vector<ZkClient::SessionEvent> events;
  zk->addSessionListener([&](ZkClient::SessionEvent e) { events.push_back(e); });
  const int64_t first = zk->sessionId();
  ASSERT_TRUE(expireSession(*zk));
  ASSERT_TRUE(loop_.runUntil(
      [&] { return !events.empty() && events.back() == ZkClient::SessionEvent::Reestablished; },
      10s));
  EXPECT_TRUE(zk->connected());
  EXPECT_NE(zk->sessionId(), first);
  EXPECT_NE(std::find(events.begin(), events.end(), ZkClient::SessionEvent::Expired), events.end());
  // The new session works.
  EXPECT_TRUE(wait([&](auto done) {
                zk->createRecursive("/after", "", ZkClient::CreateMode::Ephemeral, done);
              }).isOk());
}

TEST_F(ZkClientTest, ServerRestartKeepsTheSession) {
  testing::ZooKeeperServer* server = privateServer();
  ASSERT_TRUE(server);
  ZkClient::Options o = options();
  o.session_timeout = 4s;  // the server's maximum: outlives a JVM restart
  auto made = ZkClient::create(loop_, o);
  ASSERT_TRUE(made.isOk());
  auto zk = std::move(made).value();
  ASSERT_TRUE(loop_.runUntil([&] { return zk->connected(); }, 10s));
  std::vector<ZkClient::SessionEvent> events;
  zk->addSessionListener([&](ZkClient::SessionEvent e) { events.push_back(e); });
  const int64_t session = zk->sessionId();
  EXPECT_TRUE(wait([&](auto done) {
                zk->createRecursive("/eph", "", ZkClient::CreateMode::Ephemeral, done);
              }).isOk());
  ASSERT_TRUE(server->restart().isOk());
  ASSERT_TRUE(loop_.runUntil(
      [&] { return !events.empty() && events.back() == ZkClient::SessionEvent::Connected; }, 10s));
  EXPECT_EQ(events.front(), ZkClient::SessionEvent::Disconnected);
  // Reconnected within the session timeout: same session, its ephemeral node still there.
  EXPECT_EQ(zk->sessionId(), session);
  EXPECT_TRUE(wait([&](auto done) { zk->exists("/eph", false, done); }).isOk());
}

}  // namespace
}  // namespace push::discovery
