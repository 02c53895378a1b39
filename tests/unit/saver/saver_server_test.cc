// SaverServer on a real loop against real redis-server and mariadbd on loopback, called through
// an rpc::Channel: the Saver contract (proto/saver.proto) end to end inside one process.
#include "services/saver/saver_server.h"
#include "tests/unit/saver/saver_test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/redis/redis_client.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/saver.pb.h"
#include "services/saver/saver_keys.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"

namespace push::saver {
namespace {

using namespace std::chrono_literals;
namespace pb = google::protobuf;

using testing::nowMs;

template <typename Req, typename Resp>
Status call(net::EventLoop& loop, Saver_Stub& stub,
            void (Saver_Stub::*method)(pb::RpcController*, const Req*, Resp*, pb::Closure*),
            const Req& request, Resp* response, std::chrono::milliseconds wait = 10s) {
  rpc::Controller controller;
  controller.setTimeout(wait);
  bool done = false;
  (stub.*method)(&controller, &request, response, rpc::newCallback([&done] { done = true; }));
  if (!loop.runUntil([&] { return done; }, wait + 1s)) return Status(Code::TIMEOUT, "no reply");
  return controller.status();
}

Message message(uint64_t id, const std::string& app, const std::string& payload, uint32_t ttl_s = 0,
                int64_t created_ms = 0) {
  Message m;
  m.set_id(id);
  m.set_app(app);
  m.set_payload(payload);
  m.set_qos(1);
  m.set_created_ms(created_ms ? created_ms : nowMs());
  m.set_ttl_s(ttl_s);
  return m;
}

class SaverServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = testing::MariaDbServer::start();
    if (db.isOk()) mariadb_ = std::move(db).value().release();
  }
  static void TearDownTestSuite() {
    delete mariadb_;
    mariadb_ = nullptr;
  }

  void SetUp() override {
    auto redis = testing::RedisServer::start();
    if (!redis.isOk()) GTEST_SKIP() << redis.status().toString();
    redis_ = std::move(redis).value();
  }

  void TearDown() override { saver_.stop(loop_); }

  SaverOptions options(bool with_mysql) {
    SaverOptions o;
    o.redis.addresses = {redis_->address()};
    o.redis.client.timeout = 1s;
    o.rpc.address = "127.0.0.1:0";
    o.recovery.check_interval = 100ms;
    o.write_behind.interval = 5ms;
    o.write_behind.min_age = 5ms;
    o.write_behind.retry = 100ms;
    if (with_mysql) {
      mysql::MySqlPool::Options m;
      m.host = "127.0.0.1";
      m.port = static_cast<uint16_t>(mariadb_->port());
      m.user = mariadb_->user();
      m.password = mariadb_->password();
      m.database = mariadb_->database();
      m.reconnect_min = 50ms;
      m.reconnect_max = 200ms;
      o.mysql = m;
    }
    return o;
  }

  void startServer(SaverOptions o) { saver_.start(loop_, std::move(o)); }

  bool waitSchema() {
    return loop_.runUntil([&] { return saver_.server->schemaVersion() > 0; }, 20s);
  }
  // The schema, and the recovery a saver runs at start on an empty Redis: that recovery first
  // writes out the write-behind, so a test about the write-behind's timing waits for it.
  bool waitSchemaAndStartupRecovery() {
    return waitSchema() && loop_.runUntil(
                               [&] {
                                 return stats().recoveries() >= 1 &&
                                        saver_.server->statusJson().find("\"recovering\":false") !=
                                            std::string::npos;
                               },
                               20s);
  }

  Status store(const Message& m, const std::vector<std::string>& users,
               StoreResponse* out = nullptr) {
    StoreRequest req;
    StoreItem* item = req.add_items();
    *item->mutable_message() = m;
    for (const auto& u : users)
      item->add_users(u);
    StoreResponse resp;
    Status st = call(loop_, *saver_.stub, &Saver_Stub::Store, req, &resp);
    if (out) *out = resp;
    return st;
  }

  LoadResponse load(const std::string& app, const std::string& user, uint64_t after = 0,
                    uint32_t limit = 0) {
    LoadRequest req;
    req.set_app(app);
    req.set_user(user);
    req.set_after_id(after);
    req.set_limit(limit);
    LoadResponse resp;
    Status st = call(loop_, *saver_.stub, &Saver_Stub::Load, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return resp;
  }

  uint32_t ack(const std::string& app, const std::string& user, std::vector<uint64_t> ids) {
    AckRequest req;
    AckItem* item = req.add_items();
    item->set_app(app);
    item->set_user(user);
    for (uint64_t id : ids)
      item->add_message_ids(id);
    AckResponse resp;
    Status st = call(loop_, *saver_.stub, &Saver_Stub::Ack, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return resp.removed();
  }

  Result<uint64_t> storeBroadcast(uint64_t id, const std::string& app, uint64_t expires_ms = 0) {
    StoreBroadcastRequest req;
    auto* b = req.mutable_broadcast();
    b->set_message_id(id);
    b->set_app(app);
    b->set_payload("b" + std::to_string(id));
    b->set_qos(1);
    b->set_created_ms(static_cast<uint64_t>(nowMs()));
    b->set_expires_ms(expires_ms);
    StoreBroadcastResponse resp;
    Status st = call(loop_, *saver_.stub, &Saver_Stub::StoreBroadcast, req, &resp);
    if (!st.isOk()) return st;
    return resp.sequence();
  }

  LoadBroadcastsResponse loadBroadcasts(const std::string& app, uint64_t after) {
    LoadBroadcastsRequest req;
    req.set_app(app);
    req.set_after_sequence(after);
    LoadBroadcastsResponse resp;
    Status st = call(loop_, *saver_.stub, &Saver_Stub::LoadBroadcasts, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return resp;
  }

  StatsResponse stats() {
    StatsResponse resp;
    EXPECT_TRUE(call(loop_, *saver_.stub, &Saver_Stub::Stats, StatsRequest(), &resp).isOk());
    return resp;
  }

  static std::vector<uint64_t> idsOf(const LoadResponse& r) {
    std::vector<uint64_t> ids;
    for (const auto& m : r.messages())
      ids.push_back(m.message().id());
    return ids;
  }

  static testing::MariaDbServer* mariadb_;
  net::EventLoop loop_;
  std::unique_ptr<testing::RedisServer> redis_;
  testing::RunningSaver saver_;
};

testing::MariaDbServer* SaverServerTest::mariadb_ = nullptr;

TEST_F(SaverServerTest, StoredMessagesLoadInOrderUntilAcked) {
  startServer(options(false));
  // Stored out of id order, loaded in id order (send order).
  for (uint64_t id : {30, 10, 20}) {
    ASSERT_TRUE(store(message(id, "app", "p" + std::to_string(id)), {"alice", "bob"}).isOk());
  }
  LoadResponse first = load("app", "alice");
  EXPECT_EQ(idsOf(first), (std::vector<uint64_t>{10, 20, 30}));
  EXPECT_EQ(first.messages(0).message().payload(), "p10");
  EXPECT_EQ(first.messages(0).loads(), 1u);
  EXPECT_FALSE(first.more());
  // Loaded again (no ack yet): counted.
  EXPECT_EQ(load("app", "alice").messages(0).loads(), 2u);
  // An ack removes for the user only, once.
  EXPECT_EQ(ack("app", "alice", {10, 30, 999}), 2u);
  EXPECT_EQ(ack("app", "alice", {10}), 0u);
  EXPECT_EQ(idsOf(load("app", "alice")), (std::vector<uint64_t>{20}));
  EXPECT_EQ(idsOf(load("app", "bob")), (std::vector<uint64_t>{10, 20, 30}));
  EXPECT_TRUE(load("other", "alice").messages().empty());
}

TEST_F(SaverServerTest, RetriedStoreCountsDuplicatesAndPagesFollowIds) {
  startServer(options(false));
  StoreResponse r;
  ASSERT_TRUE(store(message(5, "app", "x"), {"u1", "u2"}, &r).isOk());
  EXPECT_EQ(r.stored(), 2u);
  ASSERT_TRUE(store(message(5, "app", "x"), {"u1", "u2", "u3"}, &r).isOk());
  EXPECT_EQ(r.stored(), 1u);
  EXPECT_EQ(r.duplicates(), 2u);

  for (uint64_t id = 100; id < 350; ++id)
    ASSERT_TRUE(store(message(id, "app", "m"), {"pager"}).isOk());
  std::vector<uint64_t> all;
  uint64_t after = 0;
  for (int page = 0; page < 10; ++page) {
    LoadResponse resp = load("app", "pager", after, 100);
    for (uint64_t id : idsOf(resp))
      all.push_back(id);
    if (!resp.more()) break;
    after = all.back();
  }
  ASSERT_EQ(all.size(), 250u);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i], 100 + i);
}

TEST_F(SaverServerTest, AMessageLoadedMaxLoadsTimesWithoutAnAckIsDroppedAndCounted) {
  SaverOptions o = options(false);
  o.inbox.max_loads = 3;
  startServer(std::move(o));
  ASSERT_TRUE(store(message(1, "app", "never acked"), {"u"}).isOk());
  for (uint32_t i = 1; i <= 3; ++i) {
    LoadResponse r = load("app", "u");
    ASSERT_EQ(r.messages_size(), 1);
    EXPECT_EQ(r.messages(0).loads(), i);
  }
  const uint64_t dropped_before = stats().dropped_max_loads();
  LoadResponse r = load("app", "u");
  EXPECT_EQ(r.messages_size(), 0);
  EXPECT_EQ(r.dropped(), 1u);
  EXPECT_EQ(stats().dropped_max_loads(), dropped_before + 1);
  EXPECT_EQ(load("app", "u").messages_size(), 0);
}

TEST_F(SaverServerTest, ExpiredMessagesAreNeitherStoredNorLoaded) {
  startServer(options(false));
  StoreResponse r;
  // Created two seconds ago with a one-second ttl: expired on arrival.
  ASSERT_TRUE(store(message(1, "app", "late", 1, nowMs() - 2000), {"u"}, &r).isOk());
  EXPECT_EQ(r.expired(), 1u);
  EXPECT_EQ(r.stored(), 0u);
  // Expires 300 ms from now: stored, then gone once that passed, while a message stored
  // with it that lives longer keeps the user's keys (so Load itself finds it expired).
  const int64_t created = nowMs() - 700;
  ASSERT_TRUE(store(message(2, "app", "soon", 1, created), {"u"}, &r).isOk());
  EXPECT_EQ(r.stored(), 1u);
  ASSERT_TRUE(store(message(3, "app", "later", 600), {"u"}, &r).isOk());
  ASSERT_TRUE(store(message(4, "app", "alone", 1, created), {"v"}, &r).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return nowMs() > created + 1000; }, 5s));
  LoadResponse l = load("app", "u");
  EXPECT_EQ(idsOf(l), (std::vector<uint64_t>{3}));
  EXPECT_EQ(l.expired(), 1u);
  // A user whose only message expired: Redis dropped the keys themselves.
  EXPECT_EQ(load("app", "v").messages_size(), 0);
}

TEST_F(SaverServerTest, BadRequestsAreRefusedWithInvalidArgument) {
  SaverOptions o = options(false);
  o.limits.max_users_per_store = 2;
  startServer(std::move(o));
  EXPECT_EQ(store(message(1, "", "x"), {"u"}).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(store(message(0, "app", "x"), {"u"}).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(store(message(1, "app", "x"), {""}).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(store(message(1, "app", "x"), {std::string(256, 'u')}).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(store(message(1, "app", "x"), {"a", "b", "c"}).code(), Code::INVALID_ARGUMENT);
  LoadRequest req;
  LoadResponse resp;
  EXPECT_EQ(call(loop_, *saver_.stub, &Saver_Stub::Load, req, &resp).code(),
            Code::INVALID_ARGUMENT);
  EXPECT_EQ(storeBroadcast(0, "app").status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(SaverServerTest, BroadcastsGetDenseSequencesAndLoadAfterAPosition) {
  startServer(options(false));
  for (uint64_t i = 1; i <= 3; ++i) {
    auto seq = storeBroadcast(1000 + i, "app");
    ASSERT_TRUE(seq.isOk()) << seq.status().toString();
    EXPECT_EQ(*seq, i);
  }
  // A retried call gets its first sequence; another app counts on its own.
  EXPECT_EQ(*storeBroadcast(1002, "app"), 2u);
  EXPECT_EQ(*storeBroadcast(7, "other"), 1u);
  // Expired ones are not replayed.
  ASSERT_TRUE(storeBroadcast(1004, "app", static_cast<uint64_t>(nowMs() - 1)).isOk());

  LoadBroadcastsResponse r = loadBroadcasts("app", 1);
  ASSERT_EQ(r.broadcasts_size(), 2);
  EXPECT_EQ(r.broadcasts(0).sequence(), 2u);
  EXPECT_EQ(r.broadcasts(0).payload(), "b1002");
  EXPECT_EQ(r.broadcasts(1).sequence(), 3u);
  EXPECT_EQ(r.latest_sequence(), 4u);
  // A client that saw nothing gets nothing but the position.
  LoadBroadcastsResponse none = loadBroadcasts("app", 0);
  EXPECT_EQ(none.broadcasts_size(), 0);
  EXPECT_EQ(none.latest_sequence(), 4u);
  // A reconnect wave is answered from memory.
  const uint64_t hits = stats().broadcast_cache_hits();
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(loadBroadcasts("app", 2).broadcasts_size(), 1);
  EXPECT_GE(stats().broadcast_cache_hits(), hits + 40);
  // A broadcast stored after the memory was filled is seen at once.
  EXPECT_EQ(*storeBroadcast(1005, "app"), 5u);
  EXPECT_EQ(loadBroadcasts("app", 4).broadcasts(0).payload(), "b1005");
}

TEST_F(SaverServerTest, RedisDownFailsStoreWithUnavailableNeverOk) {
  startServer(options(false));
  ASSERT_TRUE(store(message(1, "app", "x"), {"u"}).isOk());
  redis_->stop();
  Status st = store(message(2, "app", "x"), {"u"});
  EXPECT_FALSE(st.isOk());
  EXPECT_TRUE(st.code() == Code::UNAVAILABLE || st.code() == Code::TIMEOUT) << st.toString();
  EXPECT_FALSE(storeBroadcast(9, "app").isOk());
}

TEST_F(SaverServerTest, RedisRestartedEmptyIsRefilledFromMySql) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  startServer(options(true));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  for (uint64_t id = 1; id <= 20; ++id) {
    ASSERT_TRUE(store(message(id, "rapp", "m" + std::to_string(id)), {"carol"}).isOk());
  }
  EXPECT_EQ(ack("rapp", "carol", {1, 2}), 2u);
  for (uint64_t i = 1; i <= 3; ++i)
    ASSERT_TRUE(storeBroadcast(500 + i, "rapp").isOk());
  // Everything written behind.
  ASSERT_TRUE(loop_.runUntil([&] { return stats().write_behind_backlog() == 0; }, 10s));

  redis_->stop();
  ASSERT_TRUE(redis_->resume().isOk());
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        StatsResponse s = stats();
        return s.recoveries() >= 2 && s.recovered_messages() >= 18;
      },
      20s));
  std::vector<uint64_t> expected;
  for (uint64_t id = 3; id <= 20; ++id)
    expected.push_back(id);
  ASSERT_TRUE(
      loop_.runUntil([&] { return idsOf(load("rapp", "carol", 0, 1000)).size() == 18; }, 10s));
  EXPECT_EQ(idsOf(load("rapp", "carol", 0, 1000)), expected);
  // Broadcasts are read back after the messages (recovered_messages says nothing of them).
  ASSERT_TRUE(
      loop_.runUntil([&] { return loadBroadcasts("rapp", 1).broadcasts_size() == 2; }, 10s));
  // The broadcast sequence goes on from where it was, never from 1 again.
  auto seq = storeBroadcast(600, "rapp");
  ASSERT_TRUE(seq.isOk()) << seq.status().toString();
  EXPECT_EQ(*seq, 4u);
  EXPECT_EQ(loadBroadcasts("rapp", 1).broadcasts_size(), 3);
}

TEST_F(SaverServerTest, MySqlDownQueuesTheWriteBehindAndCatchesUp) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  startServer(options(true));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  mariadb_->stop();
  for (uint64_t id = 1; id <= 50; ++id) {
    ASSERT_TRUE(store(message(9000 + id, "mapp", "m"), {"dave"}).isOk());  // Redis serves
  }
  EXPECT_EQ(load("mapp", "dave", 0, 1000).messages_size(), 50);
  ASSERT_TRUE(loop_.runUntil([&] { return !stats().mysql_ok(); }, 10s));
  EXPECT_GE(stats().write_behind_backlog(), 50u);
  // The backlog shows on /metrics (the admin port renders the global registry).
  const std::string metrics = metrics::Registry::global().render();
  EXPECT_NE(metrics.find("push_saver_mysql_up 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("push_saver_write_behind_backlog 5"), std::string::npos);
  ASSERT_TRUE(mariadb_->resume().isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return stats().write_behind_backlog() == 0; }, 30s));
  EXPECT_TRUE(stats().mysql_ok());
  auto count = mariadb_->rootQuery("SELECT COUNT(*) FROM " + mariadb_->database() +
                                   ".inbox WHERE app_name = 'mapp' AND user_id = 'dave'");
  ASSERT_TRUE(count.isOk()) << count.status().toString();
  EXPECT_EQ(count->substr(0, count->find('\n')), "50");
}

TEST_F(SaverServerTest, AFullWriteBehindBacklogDropsTheOldestAndCountsThem) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  SaverOptions o = options(true);
  o.write_behind.max_backlog = 20;
  o.write_behind.batch = 5;  // a cap below a batch in flight would drop the newest instead
  startServer(std::move(o));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  mariadb_->stop();
  for (uint64_t id = 1; id <= 30; ++id) {
    ASSERT_TRUE(store(message(7000 + id, "fapp", "m"), {"fred"}).isOk());
  }
  // Redis has all of them; MySQL's copy will miss the oldest ten.
  EXPECT_EQ(load("fapp", "fred", 0, 1000).messages_size(), 30);
  StatsResponse s = stats();
  EXPECT_EQ(s.write_behind_backlog(), 20u);
  EXPECT_EQ(s.write_behind_dropped(), 10u);
  ASSERT_TRUE(mariadb_->resume().isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return stats().write_behind_backlog() == 0; }, 30s));
  // Twenty rows: the newest run up to 7030, after (when a batch was in flight on a connection not
  // yet known dead as the cap was hit: a batch in flight is never dropped) one run of at most a
  // batch; it need not start at 7001, since an earlier failed batch is back in the backlog and
  // may be dropped. What went is the oldest of what was not in flight.
  auto rows = mariadb_->rootQuery("SELECT GROUP_CONCAT(message_id ORDER BY message_id) FROM " +
                                  mariadb_->database() + ".inbox WHERE app_name = 'fapp'");
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  std::vector<uint64_t> kept;
  std::stringstream list(rows->substr(0, rows->find('\n')));
  for (std::string id; std::getline(list, id, ',');)
    kept.push_back(std::stoull(id));
  ASSERT_EQ(kept.size(), 20u) << *rows;
  size_t runs = 1, first_run = 0;
  for (size_t i = 1; i < kept.size(); ++i) {
    if (kept[i] != kept[i - 1] + 1 && runs++ == 1) first_run = i;
  }
  EXPECT_EQ(kept.back(), 7030u) << *rows;
  EXPECT_TRUE(runs == 1 || (runs == 2 && first_run <= 5)) << *rows;
}

TEST_F(SaverServerTest, AStoreAckedBeforeItsBatchCostsMySqlNothing) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  SaverOptions o = options(true);
  o.write_behind.interval = 5ms;   // the write-behind looks often...
  o.write_behind.min_age = 3600s;  // ...but writes nothing younger than this
  startServer(std::move(o));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  for (uint64_t id = 1; id <= 10; ++id) {
    ASSERT_TRUE(store(message(8000 + id, "capp", "m"), {"cleo"}).isOk());
  }
  // Eight acked at once (an online client), two never.
  EXPECT_EQ(ack("capp", "cleo", {8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008}), 8u);
  EXPECT_EQ(saver_.server->statusJson().find("\"write_behind_coalesced\":8") != std::string::npos,
            true)
      << saver_.server->statusJson();
  EXPECT_EQ(stats().write_behind_backlog(), 2u);
  auto count = [&] {
    auto rows = mariadb_->rootQuery("SELECT COUNT(*) FROM " + mariadb_->database() +
                                    ".inbox WHERE app_name = 'capp'");
    return rows.isOk() ? rows->substr(0, rows->find('\n')) : rows.status().toString();
  };
  // Many ticks later the two are still waiting for their age, and MySQL has nothing.
  EXPECT_FALSE(loop_.runUntil([&] { return stats().write_behind_backlog() < 2; }, 300ms));
  EXPECT_EQ(count(), "0");
  // Shutdown does not wait for the age: the two unacked messages reach MySQL, the rest never.
  saver_.stop(loop_);
  auto rows = mariadb_->rootQuery("SELECT GROUP_CONCAT(message_id ORDER BY message_id) FROM " +
                                  mariadb_->database() + ".inbox WHERE app_name = 'capp'");
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  EXPECT_EQ(rows->substr(0, rows->find('\n')), "8009,8010");
}

TEST_F(SaverServerTest, FactsAreWrittenOnceTheyAreMinAgeOld) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  SaverOptions o = options(true);
  o.write_behind.min_age = 200ms;
  startServer(std::move(o));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  const int64_t stored_at = nowMs();
  ASSERT_TRUE(store(message(8101, "dapp", "m"), {"dora"}).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return stats().write_behind_backlog() == 0; }, 10s));
  // Not before its age (measured here on the wall clock; the write-behind ages facts on the
  // steady clock, which runs no faster).
  EXPECT_GE(nowMs() - stored_at, 200);
  auto rows = mariadb_->rootQuery("SELECT message_id FROM " + mariadb_->database() +
                                  ".inbox WHERE app_name = 'dapp'");
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  EXPECT_EQ(rows->substr(0, rows->find('\n')), "8101");
}

TEST_F(SaverServerTest, ManyUsersAndLongAckListsGoInSeveralGroupedCalls) {
  // 300 users in one Store (more than one store call holds) and one user acking 2500 ids (more
  // than one ack call holds): every pair stored once, every id acked (one Redis: one group).
  startServer(options(false));
  std::vector<std::string> users;
  for (int i = 0; i < 300; ++i)
    users.push_back("g" + std::to_string(i));
  StoreResponse stored;
  ASSERT_TRUE(store(message(8200, "gapp", "all"), users, &stored).isOk());
  EXPECT_EQ(stored.stored(), 300u);
  StoreRequest many;
  std::vector<uint64_t> ids;
  for (uint64_t id = 9000; id < 11500; ++id) {
    StoreItem* item = many.add_items();
    *item->mutable_message() = message(id, "gapp", "x");
    item->add_users("heavy");
    ids.push_back(id);
  }
  StoreResponse heavy;
  ASSERT_TRUE(call(loop_, *saver_.stub, &Saver_Stub::Store, many, &heavy).isOk());
  EXPECT_EQ(heavy.stored(), 2500u);
  // A retry is all duplicates.
  ASSERT_TRUE(store(message(8200, "gapp", "all"), users, &stored).isOk());
  EXPECT_EQ(stored.stored(), 0u);
  EXPECT_EQ(stored.duplicates(), 300u);
  // One Ack request for everyone: 300 users with one id each, and the heavy user's 2500.
  AckRequest req;
  for (const auto& u : users) {
    AckItem* item = req.add_items();
    item->set_app("gapp");
    item->set_user(u);
    item->add_message_ids(8200);
  }
  AckItem* item = req.add_items();
  item->set_app("gapp");
  item->set_user("heavy");
  for (uint64_t id : ids)
    item->add_message_ids(id);
  AckResponse acked;
  ASSERT_TRUE(call(loop_, *saver_.stub, &Saver_Stub::Ack, req, &acked).isOk());
  EXPECT_EQ(acked.removed(), 2800u);
  EXPECT_EQ(load("gapp", "heavy").messages_size(), 0);
  EXPECT_EQ(load("gapp", "g0").messages_size(), 0);
  EXPECT_EQ(load("gapp", "g299").messages_size(), 0);
}

TEST_F(SaverServerTest, ARecoveryFirstWritesOutWhatTheWriteBehindStillHolds) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  SaverOptions o = options(true);
  o.write_behind.min_age = 3600s;  // nothing reaches MySQL by age in this test
  startServer(std::move(o));
  ASSERT_TRUE(waitSchemaAndStartupRecovery());
  for (uint64_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(store(message(7100 + id, "fapp", "m"), {"eve"}).isOk());
  }
  EXPECT_EQ(ack("fapp", "eve", {7101}), 1u);
  EXPECT_EQ(stats().write_behind_backlog(), 4u);  // the acked one coalesced away
  // Redis loses everything while the four are still only in saver's backlog.
  redis_->stop();
  ASSERT_TRUE(redis_->resume().isOk());
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        StatsResponse s = stats();
        return s.recoveries() >= 2 && s.recovered_messages() >= 4;
      },
      20s))
      << saver_.server->statusJson();
  ASSERT_TRUE(loop_.runUntil([&] { return load("fapp", "eve").messages_size() == 4; }, 10s));
  EXPECT_EQ(idsOf(load("fapp", "eve")), (std::vector<uint64_t>{7102, 7103, 7104, 7105}));
}

TEST_F(SaverServerTest, AStoreNeverShortensOrDropsTheKeysExpiry) {
  startServer(options(false));
  auto client = redis::RedisClient::create(loop_, redis_->address(), {});
  ASSERT_TRUE(client.isOk());
  auto direct = [&](std::vector<std::string> args) -> Result<redis::Reply> {
    std::optional<Result<redis::Reply>> out;
    (*client)->command(std::move(args), [&](Result<redis::Reply> r) { out = std::move(r); });
    if (!loop_.runUntil([&] { return out.has_value(); }, 5s)) return Status(Code::TIMEOUT, "");
    return std::move(*out);
  };
  const UserKeys keys = userKeys("xapp", "ivy");
  const int64_t day_ms = 86'400'000;
  // A 20-day message, then the placeholder reset to 0 (as a Load makes it for data stored
  // before the placeholder held the expiry): a 1-hour message must not pull the keys in.
  ASSERT_TRUE(store(message(7201, "xapp", "long", 20 * 86'400), {"ivy"}).isOk());
  ASSERT_TRUE(direct({"HSET", keys.loads, "", "0"}).isOk());
  ASSERT_TRUE(store(message(7202, "xapp", "short", 3600), {"ivy"}).isOk());
  auto ttl = direct({"PTTL", keys.inbox});
  ASSERT_TRUE(ttl.isOk());
  EXPECT_GT(ttl->integer, 19 * day_ms);
  // The inbox alone evicted (the loads hash kept its expiry): the next store gives the new
  // inbox an expiry too, never a key that lives forever.
  ASSERT_TRUE(direct({"DEL", keys.inbox}).isOk());
  ASSERT_TRUE(store(message(7203, "xapp", "after", 3600), {"ivy"}).isOk());
  ttl = direct({"PTTL", keys.inbox});
  ASSERT_TRUE(ttl.isOk());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_EQ(idsOf(load("xapp", "ivy")), (std::vector<uint64_t>{7203}));
}

TEST_F(SaverServerTest, AUserNamedInSeveralAckItemsIsAckedOnce) {
  startServer(options(false));
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_TRUE(store(message(7300 + id, "yapp", "m"), {"jo"}).isOk());
  }
  AckRequest req;
  for (uint64_t id : {7301, 7302, 7303, 7304, 7301}) {  // the last one again
    AckItem* item = req.add_items();
    item->set_app("yapp");
    item->set_user("jo");
    item->add_message_ids(id);
  }
  AckResponse resp;
  ASSERT_TRUE(call(loop_, *saver_.stub, &Saver_Stub::Ack, req, &resp).isOk());
  EXPECT_EQ(resp.removed(), 4u);
  EXPECT_TRUE(load("yapp", "jo").messages().empty());
}

TEST_F(SaverServerTest, ExpiredRowsArePurgedFromMySql) {
  if (!mariadb_) GTEST_SKIP() << "no mariadbd";
  SaverOptions o = options(true);
  o.write_behind.purge_interval = 100ms;
  startServer(std::move(o));
  ASSERT_TRUE(waitSchema());
  const int64_t created = nowMs() - 700;  // expires 300 ms from now
  ASSERT_TRUE(store(message(6001, "papp", "short", 1, created), {"pat"}).isOk());
  ASSERT_TRUE(store(message(6002, "papp", "long", 600), {"pat"}).isOk());
  auto ids = [&] {
    auto rows = mariadb_->rootQuery("SELECT GROUP_CONCAT(message_id ORDER BY message_id) FROM " +
                                    mariadb_->database() + ".inbox WHERE app_name = 'papp'");
    return rows.isOk() ? rows->substr(0, rows->find('\n')) : rows.status().toString();
  };
  ASSERT_TRUE(loop_.runUntil([&] { return ids() == "6001,6002" || nowMs() > created + 1000; }, 5s));
  ASSERT_TRUE(loop_.runUntil([&] { return ids() == "6002"; }, 10s)) << ids();
}

TEST_F(SaverServerTest, WorksOnSeveralRedisShards) {
  auto second = testing::RedisServer::start();
  auto third = testing::RedisServer::start();
  ASSERT_TRUE(second.isOk() && third.isOk());
  SaverOptions o = options(false);
  o.redis.mode = redis::RedisRouter::Mode::Shards;
  o.redis.addresses = {redis_->address(), (*second)->address(), (*third)->address()};
  startServer(std::move(o));
  std::vector<std::string> users;
  for (int i = 0; i < 60; ++i)
    users.push_back("user" + std::to_string(i));
  ASSERT_TRUE(store(message(42, "sapp", "sharded"), users).isOk());
  for (const auto& u : users)
    EXPECT_EQ(idsOf(load("sapp", u)), (std::vector<uint64_t>{42})) << u;
  EXPECT_EQ(ack("sapp", "user3", {42}), 1u);
  EXPECT_TRUE(load("sapp", "user3").messages().empty());
  EXPECT_EQ(*storeBroadcast(1, "sapp"), 1u);
  // Every shard holds some of the users.
  for (auto* server : {redis_.get(), second->get(), third->get()}) {
    auto client = redis::RedisClient::create(loop_, server->address(), {});
    ASSERT_TRUE(client.isOk());
    int64_t keys = -1;
    (*client)->command({"DBSIZE"},
                       [&](Result<redis::Reply> r) { keys = r.isOk() ? r->integer : -2; });
    ASSERT_TRUE(loop_.runUntil([&] { return keys != -1; }, 5s));
    EXPECT_GT(keys, 0) << server->address();
  }
}

TEST_F(SaverServerTest, WorksOnARedisCluster) {
  if (!testing::RedisCluster::available()) GTEST_SKIP() << "no redis cluster tools";
  auto cluster = testing::RedisCluster::start(3);
  ASSERT_TRUE(cluster.isOk()) << cluster.status().toString();
  SaverOptions o = options(false);
  o.redis.mode = redis::RedisRouter::Mode::Cluster;
  o.redis.addresses = (*cluster)->addresses();
  startServer(std::move(o));
  std::vector<std::string> users;
  for (int i = 0; i < 60; ++i)
    users.push_back("user" + std::to_string(i));
  ASSERT_TRUE(store(message(42, "capp", "clustered"), users).isOk());
  ASSERT_TRUE(store(message(43, "capp", "second"), users).isOk());
  for (const auto& u : users) {
    EXPECT_EQ(idsOf(load("capp", u)), (std::vector<uint64_t>{42, 43})) << u;
  }
  EXPECT_EQ(ack("capp", "user7", {42}), 1u);
  EXPECT_EQ(idsOf(load("capp", "user7")), (std::vector<uint64_t>{43}));
  EXPECT_EQ(*storeBroadcast(1, "capp"), 1u);
  EXPECT_EQ(*storeBroadcast(2, "capp"), 2u);
  EXPECT_EQ(loadBroadcasts("capp", 1).broadcasts_size(), 1);
}

}  // namespace
}  // namespace push::saver
