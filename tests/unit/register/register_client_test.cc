// RegisterClient against two real RegisterService shards (slots 0-511 and 512-1023), each
// behind a CountingRegister on its own rpc::Server on 127.0.0.1.
#include "services/register/register_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/discovery/service_instance.h"
#include "common/net/event_loop.h"
#include "common/rpc/server.h"
#include "proto/config.pb.h"
#include "services/register/register_service.h"
#include "services/register/slot_assignment.h"
#include "tests/unit/register/register_test_util.h"

namespace push::reg {
namespace {

using namespace std::chrono_literals;
using testing::CountingRegister;
using testing::makeSession;
using testing::offlineOf;
using testing::userKey;
using testing::usersInSlots;

// A loopback port nobody listens on.
std::string deadAddress() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

struct LookupResult {
  bool done = false;
  Status status;
  std::vector<std::vector<Session>> sessions;
};

class RegisterClientTest : public ::testing::Test {
 protected:
  struct ShardServer {
    std::unique_ptr<RegisterService> service;
    std::unique_ptr<CountingRegister> counting;
    rpc::ServerPtr server;  // last: closed before the service it serves
    std::string address;
  };

  void SetUp() override {
    low_ = *SlotSet::parse("0-511");
    high_ = *SlotSet::parse("512-1023");
  }

  void TearDown() override {
    client_.reset();
    for (auto& s : shards_) {
      if (s.counting) s.counting->releaseLookups();
      if (s.counting) s.counting->releaseOnline();
      s.server.reset();
      if (s.service) s.service->close();
    }
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  // Starts the two shards (the second one down when `high_down`) and the client.
  void start(bool high_down = false, RegisterClient::Options options = {}) {
    shards_.resize(2);
    startShard(shards_[0], low_);
    if (high_down) {
      shards_[1].address = deadAddress();
    } else {
      startShard(shards_[1], high_);
    }
    options.shards = {{shards_[0].address, low_}, {shards_[1].address, high_}};
    auto client = RegisterClient::create(loop_, std::move(options));
    ASSERT_TRUE(client.isOk()) << client.status().toString();
    client_ = std::move(*client);
  }

  void startShard(ShardServer& s, const SlotSet& slots) {
    RegisterService::Options options;
    options.slots = slots;
    s.service = std::make_unique<RegisterService>(loop_, options);
    s.counting = std::make_unique<CountingRegister>(*s.service);
    s.server = rpc::Server::create(loop_, {});
    ASSERT_TRUE(s.server->addService(s.counting.get()).isOk());
    ASSERT_TRUE(s.server->start().isOk());
    s.address = s.server->address().toString();
  }

  // Puts sessions straight into the shard that owns them (no RPC).
  void seed(const std::vector<Session>& sessions) {
    for (const Session& s : sessions) {
      OnlineRequest req;
      *req.add_sessions() = s;
      OnlineResponse resp;
      auto& shard = low_.contains(slotOf(s.app(), s.user())) ? shards_[0] : shards_[1];
      shard.service->Online(nullptr, &req, &resp, rpc::newCallback([] {}));
      ASSERT_EQ(resp.accepted(), 1u);
    }
  }

  // The result lives in the fixture: a lookup a failed test left behind completes (CANCELLED)
  // in TearDown without writing to a dead stack frame.
  LookupResult& lookup(const std::vector<std::string>& users) {
    LookupResult* result = &results_.emplace_back();
    std::vector<UserKey> keys;
    for (auto& u : users)
      keys.push_back(userKey("app", u));
    client_->lookup(std::move(keys),
                    [result](const Status& st, std::vector<std::vector<Session>>&& s) {
                      EXPECT_FALSE(result->done) << "lookup completed twice";
                      result->done = true;
                      result->status = st;
                      result->sessions = std::move(s);
                    });
    return *result;
  }

  net::EventLoop loop_;
  SlotSet low_, high_;
  std::vector<ShardServer> shards_;
  std::deque<LookupResult> results_;  // stable addresses
  std::unique_ptr<RegisterClient> client_;
};

TEST_F(RegisterClientTest, RoutesUsersToTheShardOwningTheirSlot) {
  start();
  EXPECT_EQ(client_->shardCount(), 2u);
  for (auto& u : usersInSlots("app", low_, 20, "l"))
    EXPECT_EQ(client_->shardOf("app", u), 0u);
  for (auto& u : usersInSlots("app", high_, 20, "h"))
    EXPECT_EQ(client_->shardOf("app", u), 1u);
}

TEST_F(RegisterClientTest, LookupsOfOneTurnShareOneCallPerShardAndKeepTheirOrder) {
  start();
  auto lo = usersInSlots("app", low_, 3, "lo");
  auto hi = usersInSlots("app", high_, 3, "hi");
  std::vector<Session> sessions;
  uint64_t conn = 1;
  for (auto& u : lo)
    sessions.push_back(makeSession("app", u, "dev-" + u, "r1", "10.0.0.1:1", conn++));
  for (auto& u : hi)
    sessions.push_back(makeSession("app", u, "dev-" + u, "r1", "10.0.0.1:1", conn++));
  sessions.push_back(makeSession("app", hi[0], "second", "r2", "10.0.0.2:1", conn++));
  seed(sessions);

  // Five lookups in one loop turn, mixing shards and an offline user.
  std::vector<std::vector<std::string>> asks = {
      {lo[0], hi[0]}, {hi[1]}, {lo[1], "nobody", lo[2]}, {hi[2], lo[0], hi[1]}, {lo[2]}};
  std::vector<LookupResult*> results;
  for (auto& ask : asks)
    results.push_back(&lookup(ask));
  for (auto* r : results)
    EXPECT_FALSE(r->done);  // never inside lookup()
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        for (auto* r : results) {
          if (!r->done) return false;
        }
        return true;
      },
      5s));
  EXPECT_EQ(shards_[0].counting->lookup_calls, 1);
  EXPECT_EQ(shards_[1].counting->lookup_calls, 1);
  for (size_t i = 0; i < asks.size(); ++i) {
    ASSERT_TRUE(results[i]->status.isOk()) << results[i]->status.toString();
    ASSERT_EQ(results[i]->sessions.size(), asks[i].size());
    for (size_t k = 0; k < asks[i].size(); ++k) {
      const std::string& user = asks[i][k];
      const auto& got = results[i]->sessions[k];
      if (user == "nobody") {
        EXPECT_TRUE(got.empty());
        continue;
      }
      ASSERT_FALSE(got.empty()) << user;
      EXPECT_EQ(got[0].user(), user);
      EXPECT_EQ(got[0].device(), "dev-" + user);
      EXPECT_EQ(got.size(), user == hi[0] ? 2u : 1u);
    }
  }

  // A lookup in a later turn is a new call.
  LookupResult& later = lookup({lo[0]});
  ASSERT_TRUE(loop_.runUntil([&] { return later.done; }, 5s));
  EXPECT_EQ(shards_[0].counting->lookup_calls, 2);
  EXPECT_EQ(shards_[1].counting->lookup_calls, 1);  // not asked: no user there
}

TEST_F(RegisterClientTest, EmptyLookupCompletesOkOnALaterTurn) {
  start();
  LookupResult& r = lookup({});
  EXPECT_FALSE(r.done);
  ASSERT_TRUE(loop_.runUntil([&] { return r.done; }, 5s));
  EXPECT_TRUE(r.status.isOk());
  EXPECT_TRUE(r.sessions.empty());
  EXPECT_EQ(shards_[0].counting->lookup_calls + shards_[1].counting->lookup_calls, 0);
}

TEST_F(RegisterClientTest, ShardDownFailsOnlyTheLookupsThatNeedIt) {
  start(/*high_down=*/true);
  auto lo = usersInSlots("app", low_, 2, "lo");
  auto hi = usersInSlots("app", high_, 1, "hi");
  seed({makeSession("app", lo[0], "d", "r1", "10.0.0.1:1", 1)});
  LookupResult& only_low = lookup({lo[0], lo[1]});
  LookupResult& only_high = lookup({hi[0]});
  LookupResult& both = lookup({lo[1], hi[0]});
  ASSERT_TRUE(loop_.runUntil([&] { return only_low.done && only_high.done && both.done; }, 5s));
  ASSERT_TRUE(only_low.status.isOk()) << only_low.status.toString();
  EXPECT_EQ(only_low.sessions[0].size(), 1u);
  EXPECT_TRUE(only_low.sessions[1].empty());
  EXPECT_EQ(only_high.status.code(), Code::UNAVAILABLE) << only_high.status.toString();
  EXPECT_EQ(both.status.code(), Code::UNAVAILABLE) << both.status.toString();
  EXPECT_EQ(shards_[0].counting->lookup_calls, 1);

  // Now known down: the next lookups fail fast, and the up shard still answers.
  LookupResult& again_high = lookup({hi[0], lo[0]});
  LookupResult& again_low = lookup({lo[0]});
  ASSERT_TRUE(loop_.runUntil([&] { return again_high.done && again_low.done; }, 5s));
  EXPECT_EQ(again_high.status.code(), Code::UNAVAILABLE) << again_high.status.toString();
  ASSERT_TRUE(again_low.status.isOk()) << again_low.status.toString();
  EXPECT_EQ(again_low.sessions[0].size(), 1u);
}

TEST_F(RegisterClientTest, DestroyingCompletesLookupsInFlightCancelled) {
  start();
  shards_[0].counting->hold_lookups = true;
  LookupResult& r = lookup(usersInSlots("app", low_, 1));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].counting->heldLookups() == 1; }, 5s));
  client_.reset();
  loop_.runUntil([&] { return r.done; }, 5s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.status.code(), Code::CANCELLED) << r.status.toString();
}

TEST_F(RegisterClientTest, DestroyingCompletesLookupsNotSentYetCancelled) {
  // The header promises: "pending lookups complete CANCELLED" (and docs/CONVENTIONS.md §9: exactly
  // once).
  start();
  LookupResult& r = lookup(usersInSlots("app", low_, 1));
  client_.reset();  // same turn: the lookup is still queued for runBeforePoll
  loop_.runUntil([&] { return r.done; }, 1s);
  EXPECT_TRUE(r.done) << "a lookup queued when the client was destroyed never completed";
  if (r.done) {
    EXPECT_EQ(r.status.code(), Code::CANCELLED) << r.status.toString();
  }
}

TEST_F(RegisterClientTest, ManyOnlineCallsShareFewBatches) {
  start();
  auto lo = usersInSlots("app", low_, 150, "lo");
  auto hi = usersInSlots("app", high_, 50, "hi");
  uint64_t conn = 1;
  for (auto& u : lo)
    client_->online(makeSession("app", u, "d", "r1", "10.0.0.1:1", conn++));
  for (auto& u : hi)
    client_->online(makeSession("app", u, "d", "r1", "10.0.0.1:1", conn++));
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return shards_[0].service->table().sessionCount() == 150 &&
               shards_[1].service->table().sessionCount() == 50;
      },
      5s));
  EXPECT_EQ(shards_[0].counting->online_calls, 1);
  EXPECT_EQ(shards_[1].counting->online_calls, 1);
  EXPECT_EQ(shards_[0].counting->online_sizes, std::vector<int>{150});
}

TEST_F(RegisterClientTest, FullBatchGoesOutAtOnce) {
  RegisterClient::Options options;
  options.max_batch = 50;
  options.batch_interval = 10s;  // only the size can trigger a send within the test
  start(false, options);
  auto lo = usersInSlots("app", low_, 120, "lo");
  uint64_t conn = 1;
  for (auto& u : lo)
    client_->online(makeSession("app", u, "d", "r1", "10.0.0.1:1", conn++));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].counting->online_calls == 2; }, 5s));
  EXPECT_EQ(shards_[0].counting->online_sizes, (std::vector<int>{50, 50}));
  client_->flush();  // the remaining 20
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].counting->online_calls == 3; }, 5s));
  EXPECT_EQ(shards_[0].counting->online_sizes.back(), 20);
  EXPECT_EQ(shards_[0].service->table().sessionCount(), 120u);
}

TEST_F(RegisterClientTest, FlushWithDoneRunsOnceTheLastBatchIsAnswered) {
  // A room that stops waits for this: register must have its last Offline batch.
  RegisterClient::Options options;
  options.batch_interval = 10s;  // nothing leaves unless flushed
  start(false, options);
  auto lo = usersInSlots("app", low_, 3, "lo");
  auto hi = usersInSlots("app", high_, 2, "hi");
  uint64_t conn = 1;
  for (auto& u : lo)
    client_->online(makeSession("app", u, "d", "r1", "10.0.0.1:1", conn++));
  for (auto& u : hi)
    client_->online(makeSession("app", u, "d", "r1", "10.0.0.1:1", conn++));
  int done = 0;
  client_->flush([&] { ++done; });
  EXPECT_EQ(done, 0);  // never inside the call
  EXPECT_EQ(client_->batchesInFlight(), 2u);
  ASSERT_TRUE(loop_.runUntil([&] { return done == 1; }, 5s));
  // Every batch was applied by the time `done` ran.
  EXPECT_EQ(shards_[0].service->table().sessionCount(), 3u);
  EXPECT_EQ(shards_[1].service->table().sessionCount(), 2u);
  EXPECT_EQ(client_->batchesInFlight(), 0u);
  // Nothing queued: done still comes, on a later turn.
  client_->flush([&] { ++done; });
  EXPECT_EQ(done, 1);
  ASSERT_TRUE(loop_.runUntil([&] { return done == 2; }, 5s));
}

TEST_F(RegisterClientTest, FlushWithDoneAlsoEndsWhenAShardIsDown) {
  start(/*high_down=*/true);
  client_->online(makeSession("app", usersInSlots("app", high_, 1)[0], "d", "r1", "10.0.0.1:1", 1));
  bool done = false;
  client_->flush([&] { done = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return done; }, 10s));
}

TEST_F(RegisterClientTest, OfflineAfterOnlineInOneBatchLeavesTheSessionAbsent) {
  start();
  auto lo = usersInSlots("app", low_, 2, "lo");
  Session gone = makeSession("app", lo[0], "d", "r1", "10.0.0.1:1", 1);
  Session stays = makeSession("app", lo[1], "d", "r1", "10.0.0.1:1", 2);
  client_->online(gone);
  client_->online(stays);
  client_->offline(offlineOf(gone));
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return shards_[0].counting->online_calls == 1 && shards_[0].counting->offline_calls == 1;
      },
      5s));
  EXPECT_EQ(shards_[0].service->table().sessionCount(), 1u);
  std::vector<Session> found;
  shards_[0].service->table().lookup("app", lo[0], &found);
  EXPECT_TRUE(found.empty());
  shards_[0].service->table().lookup("app", lo[1], &found);
  EXPECT_EQ(found.size(), 1u);
  EXPECT_EQ(shards_[1].counting->online_calls + shards_[1].counting->offline_calls, 0);
}

TEST_F(RegisterClientTest, FailedBatchIsReportedWithItsShard) {
  start(/*high_down=*/true);
  std::vector<std::pair<size_t, Code>> failures;
  client_->setOnBatchFailed(
      [&](size_t shard, const Status& st) { failures.emplace_back(shard, st.code()); });
  client_->online(makeSession("app", usersInSlots("app", low_, 1)[0], "d", "r1", "10.0.0.1:1", 1));
  client_->online(makeSession("app", usersInSlots("app", high_, 1)[0], "d", "r1", "10.0.0.1:1", 2));
  ASSERT_TRUE(loop_.runUntil([&] { return !failures.empty(); }, 5s));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].service->table().sessionCount() == 1; }, 5s));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].first, 1u);
  EXPECT_EQ(failures[0].second, Code::UNAVAILABLE);
}

// Batches wait session_timeout for their answer, not the channel's shorter timeout: a
// register slow for a moment costs no failed batch (each costs the room a full pull of its
// sessions), while a lookup still fails at the channel's.
TEST_F(RegisterClientTest, BatchesWaitTheSessionTimeoutAndLookupsTheChannels) {
  RegisterClient::Options options;
  options.channel.timeout = 200ms;
  options.session_timeout = 10s;
  start(/*high_down=*/false, options);
  std::vector<Status> failures;
  client_->setOnBatchFailed([&](size_t, const Status& st) { failures.push_back(st); });
  CountingRegister& low = *shards_[0].counting;
  low.hold_online = true;
  low.hold_lookups = true;
  const std::string user = usersInSlots("app", low_, 1)[0];
  client_->online(makeSession("app", user, "d", "r1", "10.0.0.1:1", 1));
  ASSERT_TRUE(loop_.runUntil([&] { return low.heldOnline() == 1; }, 5s));
  // The lookup leaves after the batch and times out at 200 ms: by then the batch is older
  // than the channel's timeout too.
  LookupResult& r = lookup({user});
  ASSERT_TRUE(loop_.runUntil([&] { return r.done; }, 5s));
  EXPECT_EQ(r.status.code(), Code::TIMEOUT) << r.status.toString();
  EXPECT_TRUE(failures.empty()) << failures.front().toString();
  bool flushed = false;
  client_->flush([&] { flushed = true; });
  low.releaseOnline();
  ASSERT_TRUE(loop_.runUntil([&] { return flushed; }, 5s));
  EXPECT_TRUE(failures.empty());
}

TEST_F(RegisterClientTest, HeartbeatGoesToEveryShard) {
  start();
  std::vector<size_t> answered;
  RoomHeartbeatRequest req;
  req.set_room_id("r1");
  req.set_room_address(deadAddress());  // the shards' pulls fail; not what this test checks
  client_->heartbeat(req, [&](size_t shard, const Status& st, bool resync) {
    EXPECT_TRUE(st.isOk()) << st.toString();
    EXPECT_TRUE(resync);  // a room the shards did not know
    answered.push_back(shard);
  });
  ASSERT_TRUE(loop_.runUntil([&] { return answered.size() == 2; }, 5s));
  std::sort(answered.begin(), answered.end());
  EXPECT_EQ(answered, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(shards_[0].counting->heartbeat_calls, 1);
  EXPECT_EQ(shards_[1].counting->heartbeat_calls, 1);
}

TEST_F(RegisterClientTest, SetShardsRoutesQueuedAndNewChangesByTheNewMap) {
  start();
  const std::string high_user = usersInSlots("app", high_, 1)[0];
  const std::string low_user = usersInSlots("app", low_, 1)[0];
  // Queued for the high shard, not sent yet, when the low shard takes every slot.
  client_->online(makeSession("app", high_user, "d", "r1", "10.0.0.1:1", 1));
  shards_[0].service->setSlots(SlotSet::all());
  auto moved = client_->setShards({{shards_[0].address, SlotSet::all()}});
  ASSERT_TRUE(moved.isOk()) << moved.status();
  EXPECT_TRUE(*moved);
  EXPECT_EQ(client_->shardCount(), 1u);
  client_->online(makeSession("app", low_user, "d", "r1", "10.0.0.1:1", 2));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].service->table().sessionCount() == 2; }, 5s))
      << "the queued change did not follow its slot to the new owner";
  EXPECT_EQ(shards_[1].counting->online_calls, 0);
  LookupResult& r = lookup({high_user, low_user});
  ASSERT_TRUE(loop_.runUntil([&] { return r.done; }, 5s));
  ASSERT_TRUE(r.status.isOk()) << r.status;
  EXPECT_EQ(r.sessions[0].size(), 1u);
  EXPECT_EQ(r.sessions[1].size(), 1u);
  EXPECT_EQ(shards_[1].counting->lookup_calls, 0);

  // The same map again: nothing moved.
  auto again = client_->setShards({{shards_[0].address, SlotSet::all()}});
  ASSERT_TRUE(again.isOk());
  EXPECT_FALSE(*again);
  // Back to two shards: the high slots moved again.
  auto split = client_->setShards({{shards_[0].address, low_}, {shards_[1].address, high_}});
  ASSERT_TRUE(split.isOk());
  EXPECT_TRUE(*split);
  EXPECT_EQ(client_->shardOf("app", high_user), 1u);
}

TEST_F(RegisterClientTest, SentCallbacksRunOnceTheirSessionIsTakenAndFollowAMovedSlot) {
  RegisterClient::Options options;
  options.batch_interval = 10s;  // nothing leaves by itself within the test
  start(false, options);
  const std::string high_user = usersInSlots("app", high_, 1)[0];
  const std::string low_user = usersInSlots("app", low_, 1)[0];
  std::vector<std::string> sent;  // "<user>:<ok>", in the order they ran
  const auto note = [&](const std::string& user) {
    return [&sent, user](bool ok) { sent.push_back(user + ":" + (ok ? "1" : "0")); };
  };
  client_->online(makeSession("app", high_user, "d", "r1", "10.0.0.1:1", 1), note(high_user));
  client_->online(makeSession("app", low_user, "d", "r1", "10.0.0.1:1", 2));  // asks nothing
  // The high slots move to the low shard while the change is queued: its callback goes with
  // it and runs when the new owner has the session, not on the old shard's answer.
  shards_[0].service->setSlots(SlotSet::all());
  ASSERT_TRUE(client_->setShards({{shards_[0].address, SlotSet::all()}}).isOk());
  EXPECT_TRUE(sent.empty());
  client_->flush();
  ASSERT_TRUE(loop_.runUntil([&] { return !sent.empty(); }, 5s));
  EXPECT_EQ(sent, std::vector<std::string>{high_user + ":1"});
  EXPECT_EQ(shards_[0].service->table().sessionCount(), 2u);
  // No register known: the change is dropped and says so at once.
  ASSERT_TRUE(client_->setShards({}).isOk());
  client_->online(makeSession("app", "carol", "d", "r1", "10.0.0.1:1", 3), note("carol"));
  EXPECT_EQ(sent.back(), "carol:0");
}

TEST_F(RegisterClientTest, SetShardsRefusesAMapThatDoesNotCoverEverySlotOnce) {
  start();
  auto partial = client_->setShards({{shards_[0].address, low_}});
  ASSERT_FALSE(partial.isOk());
  EXPECT_EQ(partial.status().code(), Code::INVALID_ARGUMENT);
  auto overlapping =
      client_->setShards({{shards_[0].address, SlotSet::all()}, {shards_[1].address, high_}});
  ASSERT_FALSE(overlapping.isOk());
  auto malformed = client_->setShards({{"not an address", SlotSet::all()}});
  ASSERT_FALSE(malformed.isOk());
  // Still the old map.
  EXPECT_EQ(client_->shardCount(), 2u);
  const std::string high_user = usersInSlots("app", high_, 1)[0];
  client_->online(makeSession("app", high_user, "d", "r1", "10.0.0.1:1", 1));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[1].service->table().sessionCount() == 1; }, 5s));
}

TEST_F(RegisterClientTest, WithNoShardsChangesAreReportedDroppedAndLookupsFail) {
  start();
  std::vector<Code> failures;
  client_->setOnBatchFailed([&](size_t, const Status& st) { failures.push_back(st.code()); });
  auto none = client_->setShards({});
  ASSERT_TRUE(none.isOk());
  EXPECT_TRUE(*none);
  client_->online(makeSession("app", "alice", "d", "r1", "10.0.0.1:1", 1));
  client_->offline(offlineOf(makeSession("app", "bob", "d", "r1", "10.0.0.1:1", 2)));
  EXPECT_EQ(failures, (std::vector<Code>{Code::UNAVAILABLE, Code::UNAVAILABLE}));
  LookupResult& r = lookup({"alice"});
  ASSERT_TRUE(loop_.runUntil([&] { return r.done; }, 5s));
  EXPECT_EQ(r.status.code(), Code::UNAVAILABLE);
  bool flushed = false;
  client_->flush([&] { flushed = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return flushed; }, 5s));

  // Registers back: new channels, routing as before.
  auto back = client_->setShards({{shards_[0].address, low_}, {shards_[1].address, high_}});
  ASSERT_TRUE(back.isOk());
  EXPECT_TRUE(*back);
  const std::string low_user = usersInSlots("app", low_, 1)[0];
  client_->online(makeSession("app", low_user, "d", "r1", "10.0.0.1:1", 3));
  ASSERT_TRUE(loop_.runUntil([&] { return shards_[0].service->table().sessionCount() == 1; }, 5s));
}

TEST_F(RegisterClientTest, SessionsRefusedAsWrongSlotAreReportedAsAFailedBatch) {
  // The client thinks the low shard owns everything; the shard itself owns only the low half
  // (they see different register lists for a moment). The room must learn it, to resync.
  start();
  std::vector<Code> failures;
  client_->setOnBatchFailed([&](size_t, const Status& st) { failures.push_back(st.code()); });
  ASSERT_TRUE(client_->setShards({{shards_[0].address, SlotSet::all()}}).isOk());
  client_->online(makeSession("app", usersInSlots("app", high_, 1)[0], "d", "r1", "10.0.0.1:1", 1));
  ASSERT_TRUE(loop_.runUntil([&] { return !failures.empty(); }, 5s));
  EXPECT_EQ(failures[0], Code::FAILED_PRECONDITION);
  EXPECT_EQ(shards_[0].service->table().sessionCount(), 0u);
}

config::RegisterClientConfig shardsConfig(
    const std::vector<std::pair<std::string, std::string>>& shards) {
  config::RegisterClientConfig c;
  for (auto& [address, slots] : shards) {
    auto* s = c.add_shards();
    s->set_address(address);
    s->set_slots(slots);
  }
  return c;
}

TEST(RegisterClientOptionsTest, AcceptsShardsCoveringEverySlotOnce) {
  auto o = RegisterClient::Options::fromConfig(
      shardsConfig({{"127.0.0.1:1", "0-99,512-1023"}, {"127.0.0.1:2", "100-511"}}));
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_EQ(o->shards.size(), 2u);
  EXPECT_EQ(o->shards[0].slots.toString(), "0-99,512-1023");
  EXPECT_EQ(o->shards[1].address, "127.0.0.1:2");
  auto one = RegisterClient::Options::fromConfig(shardsConfig({{"127.0.0.1:1", ""}}));
  ASSERT_TRUE(one.isOk()) << one.status().toString();  // empty slots: all of them
  EXPECT_EQ(one->shards[0].slots.count(), kSlotCount);
}

TEST(RegisterClientOptionsTest, RejectsOverlappingShards) {
  auto o = RegisterClient::Options::fromConfig(
      shardsConfig({{"127.0.0.1:1", "0-600"}, {"127.0.0.1:2", "500-1023"}}));
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("overlap"), std::string::npos) << o.status().message();
  EXPECT_NE(o.status().message().find("127.0.0.1:2"), std::string::npos) << o.status().message();
}

TEST(RegisterClientOptionsTest, RejectsIncompleteCoverage) {
  auto o = RegisterClient::Options::fromConfig(
      shardsConfig({{"127.0.0.1:1", "0-511"}, {"127.0.0.1:2", "512-1000"}}));
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("1001 of 1024"), std::string::npos) << o.status().message();
}

TEST(RegisterClientOptionsTest, RejectsNoShardsAndBadSlots) {
  EXPECT_EQ(RegisterClient::Options::fromConfig(shardsConfig({})).status().code(),
            Code::INVALID_ARGUMENT);
  auto bad = RegisterClient::Options::fromConfig(shardsConfig({{"127.0.0.1:9", "0-2000"}}));
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("127.0.0.1:9"), std::string::npos)
      << bad.status().message();
}

TEST(RegisterClientOptionsTest, DiscoverTakesNoShards) {
  config::RegisterClientConfig c;
  c.set_discover(true);
  c.mutable_channel()->set_connect_timeout_ms(700);
  auto o = RegisterClient::Options::fromConfig(c);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->discover);
  EXPECT_TRUE(o->shards.empty());
  EXPECT_EQ(o->channel.connect_timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(o->session_timeout, std::chrono::milliseconds(5000));  // the default
  c.set_session_timeout_ms(1500);
  EXPECT_EQ(RegisterClient::Options::fromConfig(c)->session_timeout,
            std::chrono::milliseconds(1500));

  c.add_shards()->set_address("127.0.0.1:1");
  auto both = RegisterClient::Options::fromConfig(c);
  ASSERT_FALSE(both.isOk());
  EXPECT_EQ(both.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(both.status().message().find("shards and discover"), std::string::npos)
      << both.status().message();
}

discovery::ServiceInstance registerInstance(const std::string& id, const std::string& rpc) {
  discovery::ServiceInstance r;
  r.id = id;
  if (!rpc.empty()) r.endpoints["rpc"] = rpc;
  r.endpoints["admin"] = "127.0.0.1:9";
  return r;
}

// The map rooms and centers follow is the one registers with `slots: "auto"` own.
TEST(RegisterClientOptionsTest, ShardsOfInstancesGiveEachRegisterItsOwnSlots) {
  const std::vector<discovery::ServiceInstance> registers = {
      registerInstance("register-1-100", "127.0.0.1:5001"),
      registerInstance("register-2-200", "127.0.0.1:5002"),
      registerInstance("register-3-300", "127.0.0.1:5003")};
  auto shards = RegisterClient::shardsOfInstances(registers);
  ASSERT_TRUE(shards.isOk()) << shards.status().toString();
  ASSERT_EQ(shards->size(), 3u);
  const std::vector<std::string> ids = {"register-1-100", "register-2-200", "register-3-300"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*shards)[i].address, registers[i].endpoints.at("rpc"));
    EXPECT_EQ((*shards)[i].slots, slotsOf(ids, ids[i]));
    EXPECT_GT((*shards)[i].slots.count(), 0u);
  }
  // A client takes that map as it is (it covers every slot once).
  net::EventLoop loop;
  RegisterClient::Options o;
  o.discover = true;
  auto client = RegisterClient::create(loop, o);
  ASSERT_TRUE(client.isOk());
  auto moved = (*client)->setShards(*shards);
  ASSERT_TRUE(moved.isOk()) << moved.status().toString();
  EXPECT_TRUE(*moved);
  EXPECT_EQ((*client)->shardCount(), 3u);
  client->reset();
  (void)loop.shutdown();

  EXPECT_TRUE(RegisterClient::shardsOfInstances({}).value().empty());
  auto no_rpc = RegisterClient::shardsOfInstances(
      {registerInstance("register-1-100", "127.0.0.1:5001"), registerInstance("register-9", "")});
  ASSERT_FALSE(no_rpc.isOk());
  EXPECT_EQ(no_rpc.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(no_rpc.status().message().find("register-9 has no rpc endpoint"), std::string::npos)
      << no_rpc.status().message();
}

}  // namespace
}  // namespace push::reg
