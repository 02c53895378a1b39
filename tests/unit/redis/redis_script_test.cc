// RedisScript (common/redis) through a RedisRouter against real redis-servers (Single and
// Shards modes; the cluster test runs scripts on a real cluster too).

#include "common/redis/redis_script.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "common/redis/redis_router.h"
#include "tests/support/redis_server.h"

namespace push::redis {
namespace {

using namespace std::chrono_literals;

// Sets two keys and returns both: it only works when they live on one node.
constexpr char kSetBoth[] = R"(
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('MGET', KEYS[1], KEYS[2]))";

class RedisScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
  }
  void TearDown() override {
    router_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void start(RedisRouter::Mode mode, int servers) {
    RedisRouter::Options o;
    o.mode = mode;
    for (int i = 0; i < servers; ++i) {
      auto started = testing::RedisServer::start();
      ASSERT_TRUE(started.isOk()) << started.status();
      o.addresses.push_back((*started)->address());
      servers_.push_back(std::move(started).value());
    }
    auto r = RedisRouter::create(loop_, o);
    ASSERT_TRUE(r.isOk()) << r.status();
    router_ = std::move(r).value();
  }

  Result<Reply> run(const RedisScript& script, std::vector<std::string> keys,
                    std::vector<std::string> argv) {
    std::optional<Result<Reply>> out;
    script.run(*router_, std::move(keys), std::move(argv),
               [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }
  Result<Reply> command(std::string_view key, std::vector<std::string> args) {
    std::optional<Result<Reply>> out;
    router_->command(key, std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }

  net::EventLoop loop_;
  std::vector<std::unique_ptr<testing::RedisServer>> servers_;
  std::unique_ptr<RedisRouter> router_;
};

TEST(RedisScriptSha1Test, IsTheSha1OfTheSource) {
  // `echo -n "return 1" | sha1sum`, and what SCRIPT LOAD returns for it.
  EXPECT_EQ(RedisScript("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_F(RedisScriptTest, FallsBackToEvalOnceThenRunsBySha) {
  start(RedisRouter::Mode::Single, 1);
  RedisScript script(kSetBoth);
  auto first = run(script, {"{u}.a", "{u}.b"}, {"1", "2"});
  ASSERT_TRUE(first.isOk()) << first.status();
  ASSERT_EQ(first->elements.size(), 2u);
  EXPECT_EQ(first->elements[0].str, "1");
  EXPECT_EQ(first->elements[1].str, "2");
  // The EVAL cached it: the server knows the SHA now, and the next run is an EVALSHA hit.
  auto exists = command("", {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.isOk());
  ASSERT_EQ(exists->elements.size(), 1u);
  EXPECT_EQ(exists->elements[0].integer, 1);
  auto second = run(script, {"{u}.a", "{u}.b"}, {"3", "4"});
  ASSERT_TRUE(second.isOk()) << second.status();
  EXPECT_EQ(second->elements[1].str, "4");
  // A node that forgot its scripts (restart, SCRIPT FLUSH) is served by EVAL again.
  ASSERT_TRUE(command("", {"SCRIPT", "FLUSH"}).isOk());
  auto third = run(script, {"{u}.a", "{u}.b"}, {"5", "6"});
  ASSERT_TRUE(third.isOk()) << third.status();
  EXPECT_EQ(third->elements[0].str, "5");
}

TEST_F(RedisScriptTest, KeysWithDifferentTagsAreRefusedInsideTheCall) {
  start(RedisRouter::Mode::Single, 1);
  RedisScript script(kSetBoth);
  std::optional<Result<Reply>> out;
  script.run(*router_, {"{u1}.a", "{u2}.b"}, {"1", "2"},
             [&](Result<Reply> r) { out = std::move(r); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), Code::INVALID_ARGUMENT) << out->status();
}

TEST_F(RedisScriptTest, ScriptErrorsAreFailedPrecondition) {
  start(RedisRouter::Mode::Single, 1);
  RedisScript script("return redis.call('INCR', KEYS[1])");
  ASSERT_TRUE(command("s", {"SET", "s", "text"}).isOk());
  auto r = run(script, {"s"}, {});
  EXPECT_EQ(r.status().code(), Code::FAILED_PRECONDITION) << r.status();
  auto none = run(RedisScript("return 7"), {}, {});
  ASSERT_TRUE(none.isOk()) << none.status();
  EXPECT_EQ(none->integer, 7);
}

TEST_F(RedisScriptTest, ScriptOnTwoKeysOfOneTagRunsOnTheirShard) {
  start(RedisRouter::Mode::Shards, 3);
  RedisScript script(kSetBoth);
  for (int u = 0; u < 20; ++u) {
    const std::string tag = "{user" + std::to_string(u) + "}";
    auto r = run(script, {tag + ".inbox", tag + ".seq"}, {"m" + std::to_string(u), "7"});
    ASSERT_TRUE(r.isOk()) << r.status();
    // What the script wrote is what plain commands, routed key by key, read back.
    auto inbox = command(tag + ".inbox", {"GET", tag + ".inbox"});
    auto seq = command(tag + ".seq", {"GET", tag + ".seq"});
    ASSERT_TRUE(inbox.isOk() && seq.isOk());
    EXPECT_EQ(inbox->str, "m" + std::to_string(u));
    EXPECT_EQ(seq->str, "7");
  }
}

TEST_F(RedisScriptTest, GroupedKeysOfSeveralTagsRunOnTheirShardAndMixedPlacementsAreRefused) {
  start(RedisRouter::Mode::Shards, 3);
  RedisScript script(kSetBoth);
  // Pairs of users' keys: grouped by placement they run, and a plain router read of each key
  // finds the value (it was written on the key's own shard); across shards they are refused.
  int grouped = 0, refused = 0;
  for (int u = 0; u + 1 < 40; u += 2) {
    const std::string a = "{g" + std::to_string(u) + "}.k";
    const std::string b = "{g" + std::to_string(u + 1) + "}.k";
    std::optional<Result<Reply>> out;
    script.runGrouped(*router_, {a, b}, {"x" + std::to_string(u), "y" + std::to_string(u)},
                      [&](Result<Reply> r) { out = std::move(r); });
    if (router_->placementOf(a) != router_->placementOf(b)) {
      ASSERT_TRUE(out.has_value());  // refused inside the call
      EXPECT_EQ(out->status().code(), Code::INVALID_ARGUMENT) << out->status();
      ++refused;
      continue;
    }
    ASSERT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    ASSERT_TRUE(out->isOk()) << out->status();
    auto ra = command(a, {"GET", a});
    auto rb = command(b, {"GET", b});
    ASSERT_TRUE(ra.isOk() && rb.isOk());
    EXPECT_EQ(ra->str, "x" + std::to_string(u));
    EXPECT_EQ(rb->str, "y" + std::to_string(u));
    ++grouped;
  }
  EXPECT_GT(grouped, 0);
  EXPECT_GT(refused, 0);
}

TEST_F(RedisScriptTest, InSingleModeEveryKeyHasOnePlacement) {
  start(RedisRouter::Mode::Single, 1);
  RedisScript script(kSetBoth);
  std::optional<Result<Reply>> out;
  script.runGrouped(*router_, {"{u1}.a", "{u2}.b"}, {"1", "2"},
                    [&](Result<Reply> r) { out = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
  ASSERT_TRUE(out->isOk()) << out->status();
  EXPECT_EQ((*out)->elements[1].str, "2");
}

}  // namespace
}  // namespace push::redis
