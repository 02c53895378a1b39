// RedisRouter (common/redis) in Cluster mode against a real 3-master Redis Cluster on loopback
// (tests/support/redis_cluster.h: redis-cli --cluster create; skipped without redis-server and
// redis-cli). One cluster per test process (ctest runs each test in its own; making one takes
// about a second); each test uses keys of its own, so the binary run whole works too.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "common/redis/key_slot.h"
#include "common/redis/redis_router.h"
#include "common/redis/redis_script.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/redis_cluster.h"

namespace push::redis {
namespace {

using namespace std::chrono_literals;

class RedisRouterClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::RedisCluster::available()) return;
    auto started = testing::RedisCluster::start(3);
    if (!started.isOk()) {
      start_error_ = new std::string(started.status().toString());
      return;
    }
    cluster_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (!testing::RedisCluster::available()) GTEST_SKIP() << "redis-server or redis-cli not found";
    ASSERT_NE(cluster_, nullptr) << (start_error_ ? *start_error_ : "no cluster");
  }
  void TearDown() override {
    router_.reset();
    direct_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RedisRouter& router(std::vector<std::string> seeds = {}) {
    RedisRouter::Options o;
    o.mode = RedisRouter::Mode::Cluster;
    o.addresses = seeds.empty() ? cluster_->addresses() : std::move(seeds);
    o.client.reconnect_min = 20ms;
    o.client.reconnect_max = 100ms;
    o.client.timeout = 5s;
    auto r = RedisRouter::create(loop_, o);
    EXPECT_TRUE(r.isOk()) << r.status();
    router_ = std::move(r).value();
    return *router_;
  }

  Result<Reply> run(std::string_view key, std::vector<std::string> args) {
    std::optional<Result<Reply>> out;
    router_->command(key, std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 15s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }

  // A plain client to one node (no routing), as an operator's redis-cli would be.
  RedisClient& node(const std::string& address) {
    auto& c = direct_[address];
    if (!c) {
      auto made = RedisClient::create(loop_, address, {});
      EXPECT_TRUE(made.isOk());
      c = std::move(made).value();
    }
    return *c;
  }
  Result<Reply> direct(const std::string& address, std::vector<std::string> args) {
    std::optional<Result<Reply>> out;
    node(address).command(std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 15s));
    if (!out) return Status(Code::TIMEOUT, "test: no answer");
    return std::move(*out);
  }
  // The node that owns `slot`, by asking the cluster (not the router).
  std::string ownerOf(uint16_t slot) {
    auto slots = direct(cluster_->address(0), {"CLUSTER", "SLOTS"});
    EXPECT_TRUE(slots.isOk()) << slots.status();
    if (!slots.isOk()) return "";
    for (const Reply& range : slots->elements) {
      if (range.elements[0].integer <= slot && slot <= range.elements[1].integer) {
        return range.elements[2].elements[0].str + ":" +
               std::to_string(range.elements[2].elements[1].integer);
      }
    }
    return "";
  }

  static testing::RedisCluster* cluster_;
  static std::string* start_error_;
  net::EventLoop loop_;
  std::map<std::string, std::unique_ptr<RedisClient>> direct_;
  std::unique_ptr<RedisRouter> router_;
};

testing::RedisCluster* RedisRouterClusterTest::cluster_ = nullptr;
std::string* RedisRouterClusterTest::start_error_ = nullptr;

TEST_F(RedisRouterClusterTest, KeySlotAgreesWithTheCluster) {
  const std::string any = cluster_->address(0);
  for (int i = 0; i < 200; ++i) {
    const std::string key = i % 3 == 0   ? "k" + std::to_string(i * 7919)
                            : i % 3 == 1 ? "{user" + std::to_string(i) + "}.inbox"
                                         : "a{}b" + std::to_string(i);
    auto slot = direct(any, {"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(slot.isOk()) << slot.status();
    EXPECT_EQ(slot->integer, keySlot(key)) << key;
  }
}

TEST_F(RedisRouterClusterTest, ThousandKeysLandOnAllThreeMasters) {
  router();
  constexpr int kKeys = 1000;
  int set = 0;
  // All sent before the map is loaded: they wait for it, then go.
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "spread:" + std::to_string(i);
    router_->command(key, {"SET", key, std::to_string(i)}, [&](Result<Reply> r) {
      EXPECT_TRUE(r.isOk()) << r.status();
      ++set;
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return set == kKeys; }, 20s));
  EXPECT_EQ(router_->stats().moved, 0u);  // the map was right from the start
  EXPECT_GE(router_->stats().slot_refreshes, 1u);
  int got = 0, right = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "spread:" + std::to_string(i);
    router_->command(key, {"GET", key}, [&, i](Result<Reply> r) {
      ++got;
      if (r.isOk() && r->str == std::to_string(i)) ++right;
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return got == kKeys; }, 20s));
  EXPECT_EQ(right, kKeys);
  // Each master holds its share: count the keys of each master's slots on that master.
  std::map<std::string, int> expected;
  for (int i = 0; i < kKeys; ++i)
    ++expected[router_->addressOf("spread:" + std::to_string(i))];
  ASSERT_EQ(expected.size(), 3u);
  for (const auto& [address, count] : expected) {
    EXPECT_GT(count, kKeys / 10) << address;
    auto keys = direct(address, {"KEYS", "spread:*"});
    ASSERT_TRUE(keys.isOk()) << keys.status();
    EXPECT_EQ(static_cast<int>(keys->elements.size()), count) << address;
  }
}

TEST_F(RedisRouterClusterTest, ForEachPrimaryReachesTheThreeMasters) {
  router();
  std::optional<std::vector<Result<Reply>>> all;
  router_->forEachPrimary({"CLUSTER", "MYID"},
                          [&](std::vector<Result<Reply>> r) { all = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return all.has_value(); }, 15s));
  ASSERT_EQ(all->size(), 3u);
  const std::vector<std::string> primaries = router_->primaries();
  ASSERT_EQ(primaries.size(), 3u);
  EXPECT_EQ(std::set<std::string>(primaries.begin(), primaries.end()).size(), 3u);
  std::set<std::string> ids;
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*all)[i].isOk()) << (*all)[i].status();
    ids.insert((*all)[i]->str);
    // In primaries() order: the i-th answer is the i-th primary's own id.
    auto id = direct(primaries[i], {"CLUSTER", "MYID"});
    ASSERT_TRUE(id.isOk());
    EXPECT_EQ((*all)[i]->str, id->str);
  }
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(RedisRouterClusterTest, FirstSeedDownStillLoadsTheMap) {
  const std::string dead = "127.0.0.1:" + std::to_string(testing::freeLoopbackPort());
  router({dead, cluster_->address(1)});
  ASSERT_TRUE(run("seed:{x}", {"SET", "seed:{x}", "1"}).isOk());
  auto got = run("seed:{x}", {"GET", "seed:{x}"});
  ASSERT_TRUE(got.isOk()) << got.status();
  EXPECT_EQ(got->str, "1");
  EXPECT_EQ(router_->primaries().size(), 3u);
}

TEST_F(RedisRouterClusterTest, NoReachableSeedFailsTimeout) {
  RedisRouter::Options o;
  o.mode = RedisRouter::Mode::Cluster;
  o.addresses = {"127.0.0.1:" + std::to_string(testing::freeLoopbackPort())};
  o.client.timeout = 300ms;
  o.client.connect_timeout = 100ms;
  auto r = RedisRouter::create(loop_, o);
  ASSERT_TRUE(r.isOk());
  router_ = std::move(r).value();
  auto got = run("k", {"GET", "k"});
  EXPECT_EQ(got.status().code(), Code::TIMEOUT) << got.status();
}

TEST_F(RedisRouterClusterTest, ScriptOnKeysOfOneTagWorks) {
  router();
  RedisScript script(R"(
redis.call('HSET', KEYS[1], 'body', ARGV[1])
local n = redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
return {n, redis.call('ZCARD', KEYS[2])})");
  int done = 0;
  // Many tags, so the scripts run on every master (each caches the script by EVAL once).
  for (int u = 0; u < 30; ++u) {
    const std::string tag = "{script" + std::to_string(u) + "}";
    script.run(*router_, {tag + ":msg:1", tag + ":inbox"}, {"hello", "1"}, [&](Result<Reply> r) {
      ASSERT_TRUE(r.isOk()) << r.status();
      ASSERT_EQ(r->elements.size(), 2u);
      EXPECT_EQ(r->elements[1].integer, 1);
      ++done;
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return done == 30; }, 15s));
  std::set<std::string> masters;
  for (int u = 0; u < 30; ++u)
    masters.insert(router_->addressOf("{script" + std::to_string(u) + "}"));
  EXPECT_EQ(masters.size(), 3u);
  // Cross-tag keys are refused before anything is sent.
  std::optional<Code> refused;
  script.run(*router_, {"{a}:msg", "{b}:inbox"}, {"x", "1"},
             [&](Result<Reply> r) { refused = r.status().code(); });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(*refused, Code::INVALID_ARGUMENT);
}

TEST_F(RedisRouterClusterTest, MapIsRefreshedPeriodically) {
  RedisRouter::Options o;
  o.mode = RedisRouter::Mode::Cluster;
  o.addresses = cluster_->addresses();
  o.slot_refresh_interval = 150ms;
  auto r = RedisRouter::create(loop_, o);
  ASSERT_TRUE(r.isOk());
  router_ = std::move(r).value();
  EXPECT_EQ(router_->stats().slot_refreshes, 0u);  // nothing before the first use
  ASSERT_TRUE(run("periodic", {"SET", "periodic", "1"}).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return router_->stats().slot_refreshes >= 4; }, 5s))
      << router_->stats().slot_refreshes;
}

// A multi-key command on a slot whose keys are half migrated gets TRYAGAIN; the router retries
// after a delay and it succeeds once the migration is over.
TEST_F(RedisRouterClusterTest, TryagainIsRetriedUntilTheMigrationEnds) {
  router();
  const std::string a = "{tryagain}:a", b = "{tryagain}:b";
  const std::string slot = std::to_string(keySlot(a));
  ASSERT_TRUE(run(a, {"SET", a, "1"}).isOk());
  ASSERT_TRUE(run(b, {"SET", b, "2"}).isOk());
  const std::string source = router_->addressOf(a);
  std::string target;
  for (const std::string& n : cluster_->addresses()) {
    if (n != source) target = n;
  }
  const std::string target_port = target.substr(target.rfind(':') + 1);
  auto source_id = direct(source, {"CLUSTER", "MYID"});
  auto target_id = direct(target, {"CLUSTER", "MYID"});
  ASSERT_TRUE(source_id.isOk() && target_id.isOk());
  ASSERT_TRUE(direct(target, {"CLUSTER", "SETSLOT", slot, "IMPORTING", source_id->str}).isOk());
  ASSERT_TRUE(direct(source, {"CLUSTER", "SETSLOT", slot, "MIGRATING", target_id->str}).isOk());
  ASSERT_TRUE(direct(source, {"MIGRATE", "127.0.0.1", target_port, a, "0", "5000"}).isOk());
  std::optional<Result<Reply>> both;
  router_->command(a, {"MGET", a, b}, [&](Result<Reply> r) { both = std::move(r); });
  ASSERT_TRUE(loop_.runUntil([&] { return router_->stats().tryagain > 0; }, 5s));
  EXPECT_FALSE(both.has_value());
  ASSERT_TRUE(direct(source, {"MIGRATE", "127.0.0.1", target_port, b, "0", "5000"}).isOk());
  ASSERT_TRUE(direct(target, {"CLUSTER", "SETSLOT", slot, "NODE", target_id->str}).isOk());
  ASSERT_TRUE(direct(source, {"CLUSTER", "SETSLOT", slot, "NODE", target_id->str}).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return both.has_value(); }, 5s));
  ASSERT_TRUE(both->isOk()) << both->status();
  ASSERT_EQ((*both)->elements.size(), 2u);
  EXPECT_EQ((*both)->elements[0].str, "1");
  EXPECT_EQ((*both)->elements[1].str, "2");
}

TEST_F(RedisRouterClusterTest, MovedIsFollowedWithinMaxRedirects) {
  for (int max_redirects : {0, 1}) {
    RedisRouter::Options o;
    o.mode = RedisRouter::Mode::Cluster;
    o.addresses = cluster_->addresses();
    o.max_redirects = max_redirects;
    auto r = RedisRouter::create(loop_, o);
    ASSERT_TRUE(r.isOk());
    router_ = std::move(r).value();
    ASSERT_TRUE(run("hop", {"SET", "hop", "1"}).isOk());
    // A stale map: the key's slot points at a node that does not own it.
    const std::string owner = router_->addressOf("hop");
    std::string wrong;
    for (const std::string& n : cluster_->addresses()) {
      if (n != owner) wrong = n;
    }
    ASSERT_TRUE(router_->setSlotForTest(keySlot("hop"), wrong).isOk());
    auto got = run("hop", {"GET", "hop"});
    EXPECT_EQ(router_->stats().moved, 1u);
    if (max_redirects == 0) {
      // One MOVED is one hop too many.
      EXPECT_EQ(got.status().code(), Code::UNAVAILABLE) << got.status();
    } else {
      ASSERT_TRUE(got.isOk()) << got.status();
      EXPECT_EQ(got->str, "1");
      // The MOVED fixed the map: the next command goes straight to the owner.
      EXPECT_EQ(router_->addressOf("hop"), owner);
      ASSERT_TRUE(run("hop", {"GET", "hop"}).isOk());
      EXPECT_EQ(router_->stats().moved, 1u);
    }
  }
}

// A slot moves from its master to another while the router keeps writing and reading its
// keys; the migration is done by hand, as redis-cli --cluster reshard does it: SETSLOT
// IMPORTING on the target, MIGRATING on the source, MIGRATE the keys, SETSLOT NODE.
TEST_F(RedisRouterClusterTest, SlotMigratedMidTrafficLosesNothing) {
  router();
  const std::string tag = "{migrate}";
  const uint16_t slot = keySlot(tag);
  constexpr int kKeys = 200;
  auto key = [&](int i) { return tag + ":" + std::to_string(i); };

  // Every key starts at 0 and is INCRed through the router; `succeeded[i]` counts the INCRs
  // that succeeded, so at the end every key must read back exactly that.
  std::vector<int64_t> succeeded(kKeys, 0);
  int failures = 0;
  std::string first_failure;
  for (int i = 0; i < kKeys; ++i)
    ASSERT_TRUE(run(key(i), {"SET", key(i), "0"}).isOk());
  const std::string source = ownerOf(slot);
  ASSERT_FALSE(source.empty());
  ASSERT_EQ(router_->addressOf(key(0)), source);
  std::string target;
  for (const std::string& a : cluster_->addresses()) {
    if (a != source) {
      target = a;
      break;
    }
  }
  const size_t colon = target.rfind(':');
  const std::string target_host = target.substr(0, colon);
  const std::string target_port = target.substr(colon + 1);
  auto source_id = direct(source, {"CLUSTER", "MYID"});
  auto target_id = direct(target, {"CLUSTER", "MYID"});
  ASSERT_TRUE(source_id.isOk() && target_id.isOk());

  // Traffic: a pump that keeps 16 INCRs (and a GET every fourth) in flight on the slot's keys
  // until stopped; it runs while the migration steps below wait for their replies.
  bool pumping = true;
  int inflight = 0;
  int next = 0;
  std::function<void()> pump = [&] {
    while (pumping && inflight < 16) {
      const int i = next++ % kKeys;
      ++inflight;
      router_->command(key(i), {"INCR", key(i)}, [&, i](Result<Reply> r) {
        --inflight;
        if (r.isOk()) {
          ++succeeded[static_cast<size_t>(i)];
        } else if (failures++ == 0) {
          first_failure = r.status().toString();
        }
        pump();
      });
      if (i % 4 == 0) {
        ++inflight;
        router_->command(key(i), {"GET", key(i)}, [&](Result<Reply> r) {
          --inflight;
          if (!r.isOk() && failures++ == 0) first_failure = r.status().toString();
          pump();
        });
      }
    }
  };
  pump();
  auto traffic = [&](int ops) {  // lets the pump run `ops` more commands
    const int until = next + ops;
    ASSERT_TRUE(loop_.runUntil([&] { return next >= until; }, 15s));
  };
  traffic(200);

  ASSERT_TRUE(
      direct(target, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id->str})
          .isOk());
  ASSERT_TRUE(
      direct(source, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id->str})
          .isOk());
  traffic(200);
  // Half of the keys move; the router keeps hitting both halves (ASK for the moved ones).
  auto migrate = [&](int from, int to) {
    std::vector<std::string> args{"MIGRATE", target_host, target_port, "", "0", "5000", "KEYS"};
    for (int i = from; i < to; ++i)
      args.push_back(key(i));
    auto r = direct(source, std::move(args));
    ASSERT_TRUE(r.isOk()) << r.status();
  };
  for (int from = 0; from < kKeys / 2; from += 20) {
    migrate(from, from + 20);
    traffic(50);
  }
  traffic(400);
  const uint64_t ask_midway = router_->stats().ask;
  EXPECT_GT(ask_midway, 0u);
  for (int from = kKeys / 2; from < kKeys; from += 20) {
    migrate(from, from + 20);
    traffic(50);
  }
  auto left = direct(source, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)});
  ASSERT_TRUE(left.isOk());
  EXPECT_EQ(left->integer, 0);
  // The slot now belongs to the target: tell the target first, then the source, then the rest.
  ASSERT_TRUE(
      direct(target, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id->str}).isOk());
  ASSERT_TRUE(
      direct(source, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id->str}).isOk());
  for (const std::string& a : cluster_->addresses()) {
    if (a != source && a != target) {
      ASSERT_TRUE(
          direct(a, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id->str}).isOk());
    }
  }
  traffic(600);
  pumping = false;
  ASSERT_TRUE(loop_.runUntil([&] { return inflight == 0; }, 15s));

  EXPECT_EQ(failures, 0) << first_failure;
  EXPECT_GT(router_->stats().moved, 0u);  // the source said MOVED once the slot was gone
  EXPECT_EQ(router_->addressOf(key(0)), target);
  for (int i = 0; i < kKeys; ++i) {
    auto value = run(key(i), {"GET", key(i)});
    ASSERT_TRUE(value.isOk()) << value.status();
    EXPECT_EQ(value->str, std::to_string(succeeded[static_cast<size_t>(i)])) << key(i);
    // And it is on the target, read without the router.
    auto there = direct(target, {"GET", key(i)});
    ASSERT_TRUE(there.isOk());
    EXPECT_EQ(there->str, value->str);
  }
  // A new key of the slot goes straight to the target now.
  const uint64_t moved = router_->stats().moved;
  ASSERT_TRUE(run(tag + ":new", {"SET", tag + ":new", "1"}).isOk());
  EXPECT_EQ(router_->stats().moved, moved);
}

}  // namespace
}  // namespace push::redis
