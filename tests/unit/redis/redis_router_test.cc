// RedisRouter (common/redis) in Single and Shards modes against real redis-servers started per
// test on free ports. Cluster mode: redis_router_cluster_test.cc.

#include "common/redis/redis_router.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "tests/support/redis_server.h"

namespace push::redis {
namespace {

using namespace std::chrono_literals;

class RedisRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
  }
  void TearDown() override {
    router_.reset();
    direct_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void startServers(int n) {
    for (int i = 0; i < n; ++i) {
      auto started = testing::RedisServer::start();
      ASSERT_TRUE(started.isOk()) << started.status();
      servers_.push_back(std::move(started).value());
    }
  }
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (const auto& s : servers_)
      out.push_back(s->address());
    return out;
  }

  RedisRouter& router(RedisRouter::Mode mode) {
    RedisRouter::Options o;
    o.mode = mode;
    o.addresses = addresses();
    o.client.reconnect_min = 20ms;
    o.client.reconnect_max = 100ms;
    auto r = RedisRouter::create(loop_, o);
    EXPECT_TRUE(r.isOk()) << r.status();
    router_ = std::move(r).value();
    return *router_;
  }

  Result<Reply> run(std::string_view key, std::vector<std::string> args) {
    std::optional<Result<Reply>> out;
    router_->command(key, std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }

  // A plain client to server `i`, to look at what the router wrote there.
  Result<Reply> direct(size_t i, std::vector<std::string> args) {
    while (direct_.size() <= i)
      direct_.push_back(nullptr);
    if (!direct_[i]) {
      auto c = RedisClient::create(loop_, servers_[i]->address(), {});
      EXPECT_TRUE(c.isOk());
      direct_[i] = std::move(c).value();
    }
    std::optional<Result<Reply>> out;
    direct_[i]->command(std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }

  net::EventLoop loop_;
  std::vector<std::unique_ptr<testing::RedisServer>> servers_;
  std::vector<std::unique_ptr<RedisClient>> direct_;
  std::unique_ptr<RedisRouter> router_;
};

TEST_F(RedisRouterTest, OptionsAreChecked) {
  RedisRouter::Options o;
  EXPECT_EQ(RedisRouter::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);  // none
  o.addresses = {"127.0.0.1:1", "127.0.0.1:2"};
  EXPECT_EQ(RedisRouter::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);  // Single: 2
  o.mode = RedisRouter::Mode::Shards;
  o.addresses = {"127.0.0.1:1", "127.0.0.1:1"};
  EXPECT_EQ(RedisRouter::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);  // twice
  o.addresses = {"not-an-address"};
  EXPECT_EQ(RedisRouter::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
  o.addresses = {"127.0.0.1:1"};
  o.max_redirects = -1;
  EXPECT_EQ(RedisRouter::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(RedisRouterTest, SingleModeBehavesLikeTheClient) {
  startServers(1);
  router(RedisRouter::Mode::Single);
  ASSERT_TRUE(run("k", {"SET", "k", "v"}).isOk());
  auto got = run("k", {"GET", "k"});
  ASSERT_TRUE(got.isOk()) << got.status();
  EXPECT_EQ(got->str, "v");
  auto bad = run("k", {"INCR", "k"});
  EXPECT_EQ(bad.status().code(), Code::FAILED_PRECONDITION) << bad.status();
  // Every key goes to the one node, whatever its tag.
  ASSERT_TRUE(run("{a}x", {"SET", "{a}x", "1"}).isOk());
  ASSERT_TRUE(run("{b}y", {"SET", "{b}y", "2"}).isOk());
  auto size = direct(0, {"DBSIZE"});
  ASSERT_TRUE(size.isOk());
  EXPECT_EQ(size->integer, 3);
  EXPECT_EQ(router_->primaries(), addresses());
  EXPECT_EQ(router_->addressOf("anything"), servers_[0]->address());
  std::optional<std::vector<Result<Reply>>> all;
  router_->forEachPrimary({"PING"}, [&](std::vector<Result<Reply>> r) { all = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return all.has_value(); }, 5s));
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE((*all)[0].isOk());
  // No arguments: refused inside the call, as by the client.
  std::optional<Code> empty;
  router_->command("k", {}, [&](Result<Reply> r) { empty = r.status().code(); });
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, Code::INVALID_ARGUMENT);
}

TEST_F(RedisRouterTest, DestroyingTheRouterCancelsWhatIsPending) {
  startServers(2);
  router(RedisRouter::Mode::Shards);
  int cancelled = 0;
  for (int i = 0; i < 10; ++i) {
    router_->command("k" + std::to_string(i), {"PING"}, [&](Result<Reply> r) {
      if (r.status().code() == Code::CANCELLED) ++cancelled;
    });
  }
  std::vector<Result<Reply>> fanout;
  router_->forEachPrimary({"PING"}, [&](std::vector<Result<Reply>> r) { fanout = std::move(r); });
  router_.reset();
  EXPECT_EQ(cancelled, 10);
  ASSERT_EQ(fanout.size(), 2u);
  EXPECT_EQ(fanout[0].status().code(), Code::CANCELLED);
}

TEST_F(RedisRouterTest, ShardsSpreadKeysAndKeepTagsTogether) {
  startServers(3);
  router(RedisRouter::Mode::Shards);
  constexpr int kKeys = 300;
  int done = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key:" + std::to_string(i);
    router_->command(key, {"SET", key, std::to_string(i)}, [&](Result<Reply> r) {
      EXPECT_TRUE(r.isOk()) << r.status();
      ++done;
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return done == kKeys; }, 10s));
  // Every instance got a fair share, and each key is where addressOf() says.
  int64_t total = 0;
  for (size_t s = 0; s < servers_.size(); ++s) {
    auto size = direct(s, {"DBSIZE"});
    ASSERT_TRUE(size.isOk());
    EXPECT_GT(size->integer, kKeys / 10) << servers_[s]->address();
    total += size->integer;
  }
  EXPECT_EQ(total, kKeys);
  for (int i = 0; i < kKeys; i += 7) {
    const std::string key = "key:" + std::to_string(i);
    const std::string owner = router_->addressOf(key);
    for (size_t s = 0; s < servers_.size(); ++s) {
      auto exists = direct(s, {"EXISTS", key});
      ASSERT_TRUE(exists.isOk());
      EXPECT_EQ(exists->integer, servers_[s]->address() == owner ? 1 : 0) << key;
    }
  }
  // Keys sharing a tag share an instance, for many tags (so not by luck).
  std::set<std::string> owners;
  for (int u = 0; u < 30; ++u) {
    const std::string tag = "{user" + std::to_string(u) + "}";
    ASSERT_TRUE(run(tag + ".a", {"SET", tag + ".a", "1"}).isOk());
    ASSERT_TRUE(run(tag + ".b", {"SET", tag + ".b", "2"}).isOk());
    EXPECT_EQ(router_->addressOf(tag + ".a"), router_->addressOf(tag + ".b"));
    owners.insert(router_->addressOf(tag + ".a"));
    // A multi-key command on them works: both are on the node the first routes to.
    auto both = run(tag + ".a", {"MGET", tag + ".a", tag + ".b"});
    ASSERT_TRUE(both.isOk()) << both.status();
    ASSERT_EQ(both->elements.size(), 2u);
    EXPECT_EQ(both->elements[0].str, "1") << tag;
    EXPECT_EQ(both->elements[1].str, "2") << tag;
  }
  EXPECT_EQ(owners.size(), 3u);
  // The ring depends on the set of addresses, not their order.
  RedisRouter::Options o;
  o.mode = RedisRouter::Mode::Shards;
  o.addresses = {addresses()[2], addresses()[0], addresses()[1]};
  auto reordered = RedisRouter::create(loop_, o);
  ASSERT_TRUE(reordered.isOk());
  for (int i = 0; i < 100; ++i) {
    const std::string key = "key:" + std::to_string(i);
    EXPECT_EQ((*reordered)->addressOf(key), router_->addressOf(key));
  }
}

TEST_F(RedisRouterTest, ForEachPrimaryReachesEveryShardInOrder) {
  startServers(3);
  router(RedisRouter::Mode::Shards);
  for (size_t s = 0; s < servers_.size(); ++s) {
    for (size_t k = 0; k <= s; ++k)
      ASSERT_TRUE(direct(s, {"SET", "only" + std::to_string(k), "x"}).isOk());
  }
  std::optional<std::vector<Result<Reply>>> all;
  router_->forEachPrimary({"DBSIZE"}, [&](std::vector<Result<Reply>> r) { all = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return all.has_value(); }, 5s));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(router_->primaries(), addresses());
  for (size_t s = 0; s < 3; ++s) {
    ASSERT_TRUE((*all)[s].isOk());
    EXPECT_EQ((*all)[s]->integer, static_cast<int64_t>(s + 1));
  }
}

TEST_F(RedisRouterTest, OneShardDownFailsOnlyItsKeys) {
  startServers(3);
  router(RedisRouter::Mode::Shards);
  const std::string down = servers_[1]->address();
  servers_[1]->stop(/*kill=*/true);
  int ok = 0, failed = 0, wrong = 0;
  constexpr int kKeys = 120;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const bool on_down = router_->addressOf(key) == down;
    router_->command(key, {"SET", key, "v"}, [&, on_down](Result<Reply> r) {
      if (on_down) {
        r.isOk() ? ++wrong : ++failed;
        EXPECT_TRUE(r.status().code() == Code::UNAVAILABLE || r.status().code() == Code::TIMEOUT)
            << r.status();
      } else {
        r.isOk() ? ++ok : ++wrong;
      }
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return ok + failed + wrong == kKeys; }, 10s));
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(failed, 0);
  EXPECT_GT(ok, 0);
  auto a = direct(0, {"DBSIZE"});
  auto c = direct(2, {"DBSIZE"});
  ASSERT_TRUE(a.isOk() && c.isOk());
  EXPECT_EQ(a->integer + c->integer, ok);
}

}  // namespace
}  // namespace push::redis
