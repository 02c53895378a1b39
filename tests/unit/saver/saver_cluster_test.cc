// SaverServer on a real 3-master Redis Cluster while the slot of a group of users migrates
// from one master to another by hand (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE ... KEYS,
// SETSLOT NODE), with Store, Load and Ack calls in flight through the saver the whole time
// (issue 16 item 6: "a cluster slot migrating mid-traffic (MOVED/ASK) loses nothing").
//
// What may fail: while a user's keys are on two nodes (or some of the three are missing on
// the node asked), Redis answers a script over them TRYAGAIN; the router retries a few times
// and then the call fails UNAVAILABLE. The contract (proto/saver.proto) lets a Store, Load or
// Ack fail and the caller retry it (all three are idempotent); the driver here does so. What
// must never happen: a call that fails otherwise, a call that still fails after the slot has
// moved, a Store answered OK whose message is not loaded afterwards, an acked message loaded
// again, a load out of id order or with a message twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/net/event_loop.h"
#include "common/redis/key_slot.h"
#include "common/redis/redis_client.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/saver.pb.h"
#include "services/saver/saver_keys.h"
#include "services/saver/saver_server.h"
#include "tests/support/redis_cluster.h"
#include "tests/unit/saver/saver_test_util.h"

namespace push::saver {
namespace {

using namespace std::chrono_literals;
using redis::Reply;

using testing::nowMs;

Message message(uint64_t id, const std::string& app) {
  Message m;
  m.set_id(id);
  m.set_app(app);
  m.set_payload("p" + std::to_string(id));
  m.set_qos(1);
  m.set_created_ms(nowMs());
  return m;
}

// `count` users of `app` whose keys (one hash tag each) all fall into one slot, and the slot.
std::vector<std::string> usersOfOneSlot(const std::string& app, size_t count, uint16_t* slot) {
  std::vector<std::string> users{"m0"};
  *slot = redis::keySlot(userKeys(app, users[0]).inbox);
  // About one name in 16384 matches: a few hundred thousand tries at most.
  for (int i = 1; users.size() < count && i < 10'000'000; ++i) {
    std::string user = "m" + std::to_string(i);
    if (redis::keySlot(userKeys(app, user).inbox) == *slot) users.push_back(std::move(user));
  }
  return users;
}

class SaverClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::RedisCluster::available()) return;
    auto cluster = testing::RedisCluster::start(3);
    if (cluster.isOk()) {
      cluster_ = std::move(cluster).value().release();
    } else {
      start_error_ = new std::string(cluster.status().toString());
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (!testing::RedisCluster::available()) GTEST_SKIP() << "no redis cluster tools";
    ASSERT_NE(cluster_, nullptr) << (start_error_ ? *start_error_ : "no cluster");
  }

  void TearDown() override {
    saver_.stop(loop_);
    direct_.clear();
  }

  void startServer() {
    SaverOptions o;
    o.redis.mode = redis::RedisRouter::Mode::Cluster;
    o.redis.addresses = cluster_->addresses();
    o.redis.client.timeout = 5s;
    o.rpc.address = "127.0.0.1:0";
    // Messages kept unacked are loaded many times here; they must not be dropped for that.
    o.inbox.max_loads = 1000;
    saver_.start(loop_, std::move(o));
  }

  // A command on one node, not through the router.
  Result<Reply> direct(const std::string& address, std::vector<std::string> args) {
    auto& c = direct_[address];
    if (!c) {
      RedisClient::Options o;
      o.timeout = 10s;
      auto made = redis::RedisClient::create(loop_, address, o);
      if (!made.isOk()) return made.status();
      c = std::move(made).value();
    }
    std::optional<Result<Reply>> out;
    c->command(std::move(args), [&](Result<Reply> r) { out = std::move(r); });
    if (!loop_.runUntil([&] { return out.has_value(); }, 15s)) {
      return Status(Code::TIMEOUT, "test: no answer");
    }
    return std::move(*out);
  }

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

  // Migrates `slot` to another master while `driver` keeps calls in flight; `split_first`:
  // the first user's inbox key moves alone and its other keys only after a while.
  void migrateUnderTraffic(const std::string& app, bool split_first);

  using RedisClient = redis::RedisClient;
  static testing::RedisCluster* cluster_;
  static std::string* start_error_;
  net::EventLoop loop_;
  std::map<std::string, std::unique_ptr<RedisClient>> direct_;
  testing::RunningSaver saver_;
};

testing::RedisCluster* SaverClusterTest::cluster_ = nullptr;
std::string* SaverClusterTest::start_error_ = nullptr;

// Keeps Store, Load and Ack calls in flight through the saver and records what the saver
// claimed: which (user, id) pairs were stored, which acked, what every load returned.
class Driver {
 public:
  Driver(net::EventLoop& loop, Saver_Stub& stub, std::string app, std::vector<std::string> users)
      : loop_(loop), stub_(stub), app_(std::move(app)), users_(std::move(users)) {}

  // Every message goes to 3 users; ids that are multiples of 4 are never acked (they must be
  // loaded at the end), the others are acked once loaded.
  static bool kept(uint64_t id) { return id % 4 == 0; }

  void start() {
    pumping_ = true;
    pump();
  }
  void stop() { pumping_ = false; }
  bool idle() const { return inflight_ == 0; }
  uint64_t issued() const { return issued_; }
  // Calls whose status was not OK (each was retried), and those that gave up.
  const std::vector<std::string>& failures() const { return failures_; }
  const std::vector<std::string>& unexpectedFailures() const { return unexpected_failures_; }
  const std::vector<std::string>& violations() const { return violations_; }
  int gaveUp() const { return gave_up_; }
  int failuresAfterSwitch() const { return failures_after_switch_; }
  uint64_t finishedFor(const std::string& user) const {
    auto it = finished_per_user_.find(user);
    return it == finished_per_user_.end() ? 0 : it->second;
  }
  // From now on a failed call is an error (the slot has one owner again).
  void slotSettled() { settled_ = true; }

  // Per user: stored and not acked (what a final Load must return, in id order).
  std::set<uint64_t> expected(const std::string& user) const {
    std::set<uint64_t> out;
    auto s = stored_.find(user);
    if (s == stored_.end()) return out;
    auto a = acked_.find(user);
    for (uint64_t id : s->second) {
      if (a == acked_.end() || !a->second.count(id)) out.insert(id);
    }
    return out;
  }
  size_t storedCount() const {
    size_t n = 0;
    for (const auto& [user, ids] : stored_)
      n += ids.size();
    return n;
  }
  size_t ackedCount() const {
    size_t n = 0;
    for (const auto& [user, ids] : acked_)
      n += ids.size();
    return n;
  }
  uint64_t loads() const { return loads_ok_; }
  // "user/id" of every Store sent (retried) after that user's ack of it was answered OK.
  const std::vector<std::string>& restoredAfterAck() const { return restored_after_ack_; }

 private:
  static constexpr int kInflight = 12;
  static constexpr int kMaxAttempts = 300;

  void pump() {
    while (pumping_ && inflight_ < kInflight) {
      const uint64_t n = issued_++;
      const std::string& user = users_[n % users_.size()];
      if (n % 3 == 0) {
        storeNew();
      } else if (n % 3 == 2 && !to_ack_[user].empty()) {
        ackSome(user);
      } else {
        load(user);
      }
    }
  }

  bool retryOrGiveUp(int attempts, const std::string& what, const Status& st, bool issued_settled,
                     const std::vector<std::string>& users) {
    const std::string text = what + ": " + st.toString();
    failures_.push_back(text);
    // Legitimate only while a user's keys are split across nodes (TRYAGAIN) or redirected more
    // often than the router follows: reported UNAVAILABLE (or TIMEOUT), never as anything else.
    const bool expected_kind = (st.code() == Code::UNAVAILABLE || st.code() == Code::TIMEOUT) &&
                               (st.message().find("TRYAGAIN") != std::string::npos ||
                                st.message().find("redirects") != std::string::npos);
    if (!expected_kind) unexpected_failures_.push_back(text);
    if (issued_settled) ++failures_after_switch_;
    for (const auto& u : users)
      ++finished_per_user_[u];
    if (attempts >= kMaxAttempts) {
      ++gave_up_;
      return false;
    }
    return true;
  }

  void storeNew() {
    const uint64_t id = ++next_id_;
    auto req = std::make_shared<StoreRequest>();
    StoreItem* item = req->add_items();
    *item->mutable_message() = message(id, app_);
    for (int k = 0; k < 3; ++k)
      item->add_users(users_[(id + static_cast<uint64_t>(k)) % users_.size()]);
    for (const auto& u : item->users())
      attempted_[u].insert(id);
    sendStore(req, 1);
  }

  void sendStore(std::shared_ptr<StoreRequest> req, int attempt) {
    for (const auto& u : req->items(0).users()) {
      if (acked_[u].count(req->items(0).message().id())) {
        restored_after_ack_.push_back(u + "/" + std::to_string(req->items(0).message().id()));
      }
    }
    struct Call {
      rpc::Controller controller;
      StoreResponse response;
    };
    auto call = std::make_shared<Call>();
    call->controller.setTimeout(15s);
    ++inflight_;
    const bool settled = settled_;
    stub_.Store(&call->controller, req.get(), &call->response,
                rpc::newCallback([this, call, req, attempt, settled] {
                  --inflight_;
                  const StoreItem& item = req->items(0);
                  std::vector<std::string> users(item.users().begin(), item.users().end());
                  const Status st = call->controller.status();
                  if (st.isOk()) {
                    const uint32_t n = call->response.stored() + call->response.duplicates();
                    if (n != static_cast<uint32_t>(item.users_size())) {
                      violations_.push_back("store of " + std::to_string(item.message().id()) +
                                            " answered " + std::to_string(n) + " pairs");
                    }
                    for (const auto& u : users) {
                      stored_[u].insert(item.message().id());
                      ++finished_per_user_[u];
                    }
                  } else if (retryOrGiveUp(attempt, "store", st, settled, users)) {
                    ++issued_;
                    return sendStore(req, attempt + 1);
                  }
                  pump();
                }));
  }

  void load(const std::string& user) {
    auto req = std::make_shared<LoadRequest>();
    req->set_app(app_);
    req->set_user(user);
    req->set_limit(1000);
    sendLoad(req, 1);
  }

  void sendLoad(std::shared_ptr<LoadRequest> req, int attempt) {
    struct Call {
      rpc::Controller controller;
      LoadResponse response;
      std::set<uint64_t> acked_before;  // acks answered OK before this load was sent
    };
    auto call = std::make_shared<Call>();
    call->controller.setTimeout(15s);
    call->acked_before = acked_[req->user()];
    ++inflight_;
    const bool settled = settled_;
    stub_.Load(
        &call->controller, req.get(), &call->response,
        rpc::newCallback([this, call, req, attempt, settled] {
          --inflight_;
          const std::string& user = req->user();
          const Status st = call->controller.status();
          if (!st.isOk()) {
            if (retryOrGiveUp(attempt, "load " + user, st, settled, {user})) {
              ++issued_;
              return sendLoad(req, attempt + 1);
            }
            return pump();
          }
          ++loads_ok_;
          ++finished_per_user_[user];
          const LoadResponse& r = call->response;
          if (r.dropped() != 0 || r.expired() != 0 || r.more()) {
            violations_.push_back("load " + user + ": dropped/expired/more " +
                                  std::to_string(r.dropped()) + "/" + std::to_string(r.expired()) +
                                  "/" + std::to_string(r.more()));
          }
          uint64_t last = 0;
          for (const StoredMessage& m : r.messages()) {
            const uint64_t id = m.message().id();
            if (id <= last) {
              violations_.push_back("load " + user + ": " + std::to_string(id) + " after " +
                                    std::to_string(last));
            }
            last = id;
            if (!attempted_[user].count(id)) {
              violations_.push_back("load " + user + ": never stored " + std::to_string(id));
            }
            if (call->acked_before.count(id)) {
              violations_.push_back("load " + user + ": acked " + std::to_string(id) + " again");
            }
            if (m.message().payload() != "p" + std::to_string(id)) {
              violations_.push_back("load " + user + ": payload of " + std::to_string(id));
            }
            // Acked only once its Store was answered OK, as a client acks only what center
            // sent after the store succeeded (store, then send). A message a Load returns
            // while its Store is still being retried (it failed for another user of the same
            // call) is not acked yet: the retry would store it again for this user, since
            // ZADD NX cannot tell "acked" from "never stored" (at-least-once, not loss).
            if (!kept(id) && !acked_[user].count(id) && stored_[user].count(id)) {
              to_ack_[user].insert(id);
            }
          }
          pump();
        }));
  }

  void ackSome(const std::string& user) {
    auto req = std::make_shared<AckRequest>();
    AckItem* item = req->add_items();
    item->set_app(app_);
    item->set_user(user);
    auto& queue = to_ack_[user];
    for (auto it = queue.begin(); it != queue.end() && item->message_ids_size() < 8;) {
      item->add_message_ids(*it);
      it = queue.erase(it);
    }
    sendAck(req, 1);
  }

  void sendAck(std::shared_ptr<AckRequest> req, int attempt) {
    struct Call {
      rpc::Controller controller;
      AckResponse response;
    };
    auto call = std::make_shared<Call>();
    call->controller.setTimeout(15s);
    ++inflight_;
    const bool settled = settled_;
    stub_.Ack(
        &call->controller, req.get(), &call->response,
        rpc::newCallback([this, call, req, attempt, settled] {
          --inflight_;
          const AckItem& item = req->items(0);
          const Status st = call->controller.status();
          if (st.isOk()) {
            for (uint64_t id : item.message_ids())
              acked_[item.user()].insert(id);
            ++finished_per_user_[item.user()];
          } else if (retryOrGiveUp(attempt, "ack " + item.user(), st, settled, {item.user()})) {
            ++issued_;
            return sendAck(req, attempt + 1);
          }
          pump();
        }));
  }

  net::EventLoop& loop_;
  Saver_Stub& stub_;
  const std::string app_;
  const std::vector<std::string> users_;
  bool pumping_ = false;
  bool settled_ = false;
  int inflight_ = 0;
  uint64_t issued_ = 0;
  uint64_t next_id_ = 0;
  uint64_t loads_ok_ = 0;
  int gave_up_ = 0;
  int failures_after_switch_ = 0;
  std::map<std::string, std::set<uint64_t>> attempted_, stored_, acked_, to_ack_;
  std::map<std::string, uint64_t> finished_per_user_;
  std::vector<std::string> failures_, unexpected_failures_, violations_;
  std::vector<std::string> restored_after_ack_;
};

void SaverClusterTest::migrateUnderTraffic(const std::string& app, bool split_first) {
  startServer();
  ASSERT_NE(saver_.stub, nullptr);
  uint16_t slot = 0;
  const std::vector<std::string> users = usersOfOneSlot(app, 6, &slot);
  ASSERT_EQ(users.size(), 6u);
  const std::string slot_text = std::to_string(slot);

  const std::string source = ownerOf(slot);
  ASSERT_FALSE(source.empty());
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

  Driver driver(loop_, *saver_.stub, app, users);
  driver.start();
  auto traffic = [&](uint64_t ops) {
    const uint64_t until = driver.issued() + ops;
    ASSERT_TRUE(loop_.runUntil([&] { return driver.issued() >= until; }, 60s));
  };
  traffic(300);
  // Every user has all three keys now (stored, loaded, some acked): what moves is real data.
  for (const std::string& u : users) {
    auto n = direct(source, {"EXISTS", userKeys(app, u).inbox, userKeys(app, u).bodies});
    ASSERT_TRUE(n.isOk()) << n.status();
    EXPECT_EQ(n->integer, 2) << u;
  }

  ASSERT_TRUE(
      direct(target, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source_id->str}).isOk());
  ASSERT_TRUE(
      direct(source, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", target_id->str}).isOk());
  traffic(100);

  auto migrate = [&](const std::vector<std::string>& keys) {
    std::vector<std::string> args{"MIGRATE", target_host, target_port, "", "0", "5000", "KEYS"};
    args.insert(args.end(), keys.begin(), keys.end());
    auto r = direct(source, std::move(args));
    ASSERT_TRUE(r.isOk()) << r.status();  // "OK", or "NOKEY" when none of them is there
  };
  size_t first_whole = 0;
  if (split_first) {
    // The first user's inbox alone: its scripts now find some keys on each node (TRYAGAIN)
    // until the rest follows. Traffic on that user meanwhile, then the other two keys.
    const UserKeys k = userKeys(app, users[0]);
    migrate({k.inbox});
    const uint64_t before = driver.finishedFor(users[0]);
    traffic(150);
    EXPECT_TRUE(loop_.runUntil([&] { return driver.finishedFor(users[0]) >= before + 3; }, 20s));
    migrate({k.bodies, k.loads});
    traffic(100);
    first_whole = 1;
  }
  // One user per MIGRATE, all three keys together.
  for (size_t i = first_whole; i < users.size(); ++i) {
    const UserKeys k = userKeys(app, users[i]);
    migrate({k.inbox, k.bodies, k.loads});
    traffic(60);
  }
  // Whatever is left on the source (keys remade while their user's batch was on the way),
  // by user.
  for (int round = 0; round < 20; ++round) {
    auto left = direct(source, {"CLUSTER", "GETKEYSINSLOT", slot_text, "1000"});
    ASSERT_TRUE(left.isOk()) << left.status();
    if (left->elements.empty()) break;
    std::vector<std::string> keys;
    for (const Reply& key : left->elements)
      keys.push_back(key.str);
    migrate(keys);
    traffic(20);
  }
  auto count = direct(source, {"CLUSTER", "COUNTKEYSINSLOT", slot_text});
  ASSERT_TRUE(count.isOk());
  EXPECT_EQ(count->integer, 0);

  // The slot now belongs to the target: the target first, then the source, then the rest.
  ASSERT_TRUE(direct(target, {"CLUSTER", "SETSLOT", slot_text, "NODE", target_id->str}).isOk());
  ASSERT_TRUE(direct(source, {"CLUSTER", "SETSLOT", slot_text, "NODE", target_id->str}).isOk());
  for (const std::string& a : cluster_->addresses()) {
    if (a != source && a != target) {
      ASSERT_TRUE(direct(a, {"CLUSTER", "SETSLOT", slot_text, "NODE", target_id->str}).isOk());
    }
  }
  driver.slotSettled();
  traffic(600);
  driver.stop();
  ASSERT_TRUE(loop_.runUntil([&] { return driver.idle(); }, 120s));

  std::string failures;
  for (size_t i = 0; i < driver.failures().size() && i < 10; ++i)
    failures += "\n  " + driver.failures()[i];
  std::string unexpected;
  for (const auto& f : driver.unexpectedFailures())
    unexpected += "\n  " + f;
  std::string violations;
  for (const auto& v : driver.violations())
    violations += "\n  " + v;
  EXPECT_EQ(driver.gaveUp(), 0) << failures;
  EXPECT_TRUE(driver.unexpectedFailures().empty()) << unexpected;
  EXPECT_EQ(driver.failuresAfterSwitch(), 0) << failures;
  EXPECT_TRUE(driver.violations().empty()) << violations;
  std::string restored;
  for (const auto& x : driver.restoredAfterAck())
    restored += " " + x;
  EXPECT_TRUE(restored.empty()) << "stored again after an ack:" << restored;
  EXPECT_GT(driver.storedCount(), 500u);
  EXPECT_GT(driver.ackedCount(), 100u);
  std::cout << "[ stats    ] stored pairs " << driver.storedCount() << ", acked "
            << driver.ackedCount() << ", loads " << driver.loads() << ", failed calls retried "
            << driver.failures().size() << failures << "\n";

  // The data is on the target, read without the router or the saver, and none on the source.
  EXPECT_EQ(ownerOf(slot), target);
  count = direct(source, {"CLUSTER", "COUNTKEYSINSLOT", slot_text});
  ASSERT_TRUE(count.isOk());
  EXPECT_EQ(count->integer, 0);
  for (const std::string& u : users) {
    const std::set<uint64_t> want = driver.expected(u);
    const UserKeys k = userKeys(app, u);
    auto card = direct(target, {"ZCARD", k.inbox});
    ASSERT_TRUE(card.isOk()) << card.status();
    EXPECT_EQ(static_cast<size_t>(card->integer), want.size()) << u;
    auto bodies = direct(target, {"HLEN", k.bodies});
    ASSERT_TRUE(bodies.isOk()) << bodies.status();
    EXPECT_EQ(static_cast<size_t>(bodies->integer), want.size()) << u;
  }

  // Every message stored and not acked loads exactly once, in id order; acked ones never.
  for (const std::string& u : users) {
    LoadRequest req;
    req.set_app(app);
    req.set_user(u);
    req.set_limit(1000);
    LoadResponse resp;
    rpc::Controller controller;
    controller.setTimeout(10s);
    bool done = false;
    saver_.stub->Load(&controller, &req, &resp, rpc::newCallback([&done] { done = true; }));
    ASSERT_TRUE(loop_.runUntil([&] { return done; }, 15s));
    ASSERT_TRUE(controller.status().isOk()) << controller.status().toString();
    std::vector<uint64_t> got;
    for (const StoredMessage& m : resp.messages())
      got.push_back(m.message().id());
    const std::set<uint64_t> want = driver.expected(u);
    EXPECT_EQ(got, std::vector<uint64_t>(want.begin(), want.end())) << u;
    EXPECT_FALSE(want.empty()) << u;  // the kept ones (ids % 4 == 0) at least
    for (uint64_t id : want) {
      if (!Driver::kept(id)) continue;
      EXPECT_TRUE(std::binary_search(got.begin(), got.end(), id)) << u << " " << id;
    }
  }
}

// A user with stored messages that were never loaded (the common offline case: inbox and
// bodies, no load counts yet), and one whose loaded messages were all acked before new ones
// came: their Load and Ack work while their slot is MIGRATING and after their keys moved, not
// only once the slot has a single owner again. (Redis answers TRYAGAIN to a script whose
// keys are partly missing on a migrating or importing node; the three keys of a user must
// therefore exist together.)
TEST_F(SaverClusterTest, UsersNeverLoadedAreServedWhileTheirSlotMigrates) {
  startServer();
  ASSERT_NE(saver_.stub, nullptr);
  const std::string app = "freshapp";
  uint16_t slot = 0;
  const std::vector<std::string> users = usersOfOneSlot(app, 2, &slot);
  ASSERT_EQ(users.size(), 2u);
  const std::string slot_text = std::to_string(slot);
  const std::string source = ownerOf(slot);
  ASSERT_FALSE(source.empty());
  std::string target = source == cluster_->address(0) ? cluster_->address(1) : cluster_->address(0);
  auto source_id = direct(source, {"CLUSTER", "MYID"});
  auto target_id = direct(target, {"CLUSTER", "MYID"});
  ASSERT_TRUE(source_id.isOk() && target_id.isOk());

  auto rpc = [&](auto method, const auto& req, auto* resp) {
    rpc::Controller controller;
    controller.setTimeout(10s);
    bool done = false;
    ((*saver_.stub).*method)(&controller, &req, resp, rpc::newCallback([&done] { done = true; }));
    EXPECT_TRUE(loop_.runUntil([&] { return done; }, 15s));
    return controller.status();
  };
  auto store = [&](uint64_t id, const std::string& user) {
    StoreRequest req;
    StoreItem* item = req.add_items();
    *item->mutable_message() = message(id, app);
    item->add_users(user);
    StoreResponse resp;
    return rpc(&Saver_Stub::Store, req, &resp);
  };
  auto load = [&](const std::string& user, std::vector<uint64_t>* ids) {
    LoadRequest req;
    req.set_app(app);
    req.set_user(user);
    LoadResponse resp;
    Status st = rpc(&Saver_Stub::Load, req, &resp);
    ids->clear();
    for (const StoredMessage& m : resp.messages())
      ids->push_back(m.message().id());
    return st;
  };
  auto ack = [&](const std::string& user, std::vector<uint64_t> ids) {
    AckRequest req;
    AckItem* item = req.add_items();
    item->set_app(app);
    item->set_user(user);
    for (uint64_t id : ids)
      item->add_message_ids(id);
    AckResponse resp;
    return rpc(&Saver_Stub::Ack, req, &resp);
  };

  // users[0]: stored, never loaded. users[1]: loaded and acked everything, then new ones.
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_TRUE(store(id, users[0]).isOk());
    ASSERT_TRUE(store(id, users[1]).isOk());
  }
  std::vector<uint64_t> ids;
  ASSERT_TRUE(load(users[1], &ids).isOk());
  ASSERT_TRUE(ack(users[1], ids).isOk());
  for (uint64_t id = 5; id <= 8; ++id)
    ASSERT_TRUE(store(id, users[1]).isOk());
  for (const std::string& u : users) {
    const UserKeys k = userKeys(app, u);
    auto n = direct(source, {"EXISTS", k.inbox, k.bodies, k.loads});
    ASSERT_TRUE(n.isOk()) << n.status();
    EXPECT_EQ(n->integer, 3) << u << ": a user's three keys exist together";
  }

  ASSERT_TRUE(
      direct(target, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source_id->str}).isOk());
  ASSERT_TRUE(
      direct(source, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", target_id->str}).isOk());

  // Migrating, nothing moved yet.
  Status st = load(users[0], &ids);
  EXPECT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4}));
  st = load(users[1], &ids);
  EXPECT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(ids, (std::vector<uint64_t>{5, 6, 7, 8}));
  st = ack(users[0], {1});
  EXPECT_TRUE(st.isOk()) << st.toString();

  // users[0]'s keys moved (all of them, one MIGRATE), users[1]'s not yet.
  const size_t colon = target.rfind(':');
  const UserKeys k = userKeys(app, users[0]);
  auto moved = direct(source, {"MIGRATE", target.substr(0, colon), target.substr(colon + 1), "",
                               "0", "5000", "KEYS", k.inbox, k.bodies, k.loads});
  ASSERT_TRUE(moved.isOk()) << moved.status();
  st = load(users[0], &ids);
  EXPECT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(ids, (std::vector<uint64_t>{2, 3, 4}));
  st = ack(users[0], {2, 3, 4});
  EXPECT_TRUE(st.isOk()) << st.toString();
  st = ack(users[1], {5});
  EXPECT_TRUE(st.isOk()) << st.toString();

  // Put the slot back as it was (the suite's cluster is shared): the rest moves, the target
  // owns the slot.
  auto left = direct(source, {"CLUSTER", "GETKEYSINSLOT", slot_text, "100"});
  ASSERT_TRUE(left.isOk());
  if (!left->elements.empty()) {
    std::vector<std::string> args{
        "MIGRATE", target.substr(0, colon), target.substr(colon + 1), "", "0", "5000", "KEYS"};
    for (const Reply& key : left->elements)
      args.push_back(key.str);
    ASSERT_TRUE(direct(source, std::move(args)).isOk());
  }
  for (const std::string& a : {target, source}) {
    ASSERT_TRUE(direct(a, {"CLUSTER", "SETSLOT", slot_text, "NODE", target_id->str}).isOk());
  }
  for (const std::string& a : cluster_->addresses()) {
    if (a != source && a != target) {
      ASSERT_TRUE(direct(a, {"CLUSTER", "SETSLOT", slot_text, "NODE", target_id->str}).isOk());
    }
  }
  st = load(users[0], &ids);
  EXPECT_TRUE(st.isOk()) << st.toString();
  EXPECT_TRUE(ids.empty());
  {
    const UserKeys k0 = userKeys(app, users[0]);
    auto n = direct(target, {"EXISTS", k0.inbox, k0.bodies, k0.loads});
    ASSERT_TRUE(n.isOk()) << n.status();
    EXPECT_EQ(n->integer, 0) << "every message acked: no key of the user is left";
  }
  st = load(users[1], &ids);
  EXPECT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(ids, (std::vector<uint64_t>{6, 7, 8}));
}

TEST_F(SaverClusterTest, SlotMigratedUserByUserMidTrafficLosesNothing) {
  migrateUnderTraffic("migapp", /*split_first=*/false);
}

TEST_F(SaverClusterTest, UserKeysSplitAcrossTwoMigrateCallsLoseNothing) {
  migrateUnderTraffic("splitapp", /*split_first=*/true);
}

}  // namespace
}  // namespace push::saver
