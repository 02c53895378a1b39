// RoomServer with saver configured, against an in-process fake Saver (tests/support/
// room_fake_saver.h) on a real RPC server on loopback: accepted acks reach saver batched per
// (app, user), acks of ids not written to the acking connection never do, acks survive saver
// being down; at auth the user's stored messages come oldest first before any live push, missed
// untagged broadcasts after the client's last sequence come once, and a failing saver leaves
// the connection working.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "common/base/config.h"
#include "proto/broadcast.pb.h"
#include "proto/config.pb.h"
#include "services/room/ack_forwarder.h"
#include "services/room/offline_replay.h"
#include "tests/support/room_fake_saver.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using Acked = push::testing::RoomFakeSaver::Acked;

class RoomSaverTest : public testing::RoomFixture {
 protected:
  void SetUp() override {
    saver_ = std::make_unique<push::testing::RoomFakeSaver>(loop_);
    ASSERT_TRUE(saver_->start().isOk());
  }
  void TearDown() override {
    clients_.clear();
    if (room_) {  // the room first: it talks to saver until it has stopped
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
      room_.reset();
    }
    bool down = false;
    saver_->stop([&] { down = true; });
    EXPECT_TRUE(loop_.runUntil([&] { return down; }, 5s));
    saver_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RoomOptions withSaver() {
    RoomOptions o = defaultOptions();
    RoomOptions::Saver s;
    s.addresses = {saver_->address()};
    s.channel.reconnect_min = 10ms;
    s.channel.reconnect_max = 100ms;
    s.channel.connect_timeout = 200ms;
    s.timeout = 1000ms;
    s.ack_batch_interval = 20ms;
    s.replay_page = 2;
    o.saver = s;
    return o;
  }

  // Auth with a last broadcast sequence; the AuthResult is read.
  testing::FrameSocket& authedAt(const std::string& app, const std::string& user,
                                 const std::string& device, uint64_t last_broadcast_seq) {
    testing::FrameSocket& c = connect();
    client::Frame auth;
    auth.mutable_auth()->set_token(testing::token(app, user, device));
    auth.mutable_auth()->set_last_broadcast_seq(last_broadcast_seq);
    c.send(auth);
    expectFrame(c, client::Frame::kAuthResult);
    return c;
  }

  void ack(testing::FrameSocket& c, std::initializer_list<uint64_t> ids) {
    client::Frame f;
    for (uint64_t id : ids)
      f.mutable_ack()->add_message_ids(id);
    c.send(f);
  }

  Message stored(uint64_t id, const std::string& app, uint32_t qos = 1, uint32_t ttl_s = 0,
                 int64_t created_ms = 0) {
    Message m;
    m.set_id(id);
    m.set_app(app);
    m.set_payload("stored-" + std::to_string(id));
    m.set_qos(qos);
    m.set_created_ms(created_ms ? created_ms : Clock::system().wallMillis());
    m.set_ttl_s(ttl_s);
    return m;
  }

  broadcast::BroadcastMessage bcast(uint64_t seq, const std::string& app,
                                    const std::string& tag = "") {
    broadcast::BroadcastMessage b;
    b.set_message_id(1000 + seq);
    b.set_app(app);
    b.set_sequence(seq);
    b.set_payload("bcast-" + std::to_string(seq));
    b.set_created_ms(static_cast<uint64_t>(Clock::system().wallMillis()));
    b.set_tag(tag);
    return b;
  }

  // Push frames until `n` have arrived (or 5 s).
  std::vector<client::Push> pushes(testing::FrameSocket& c, size_t n) {
    std::vector<client::Push> out;
    while (out.size() < n) {
      client::Frame f = next(c);
      if (!f.has_push()) {
        ADD_FAILURE() << "expected a Push, got " << f.ShortDebugString();
        break;
      }
      out.push_back(f.push());
    }
    return out;
  }

  // Runs the loop for `d` to show that something does NOT happen (a batch that should not
  // exist would have been sent within it: the batch interval is 20 ms).
  void settle(std::chrono::milliseconds d) {
    loop_.runUntil([] { return false; }, d, testing::kPoll);
  }

  bool ackedHas(const Acked& a) {
    return std::find(saver_->acked.begin(), saver_->acked.end(), a) != saver_->acked.end();
  }

  std::unique_ptr<push::testing::RoomFakeSaver> saver_;
};

TEST_F(RoomSaverTest, AcceptedAcksReachSaverBatchedWithTheirAppAndUser) {
  startRoom(withSaver());
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  testing::FrameSocket& bob = authedAt("app2", "bob", "tablet", 0);
  for (uint64_t id : {11, 12, 13})
    deliver("app1", {"alice"}, id, "m", 1);
  deliver("app2", {"bob"}, 21, "m", 1);
  EXPECT_EQ(pushes(alice, 3).size(), 3u);
  EXPECT_EQ(pushes(bob, 1).size(), 1u);
  ack(alice, {11, 12, 13});
  ack(bob, {21});
  ASSERT_TRUE(loop_.runUntil(
      [&] { return saver_->acked.size() == 4 && room_->ackForwarder()->stats().forwarded == 4; },
      5s, testing::kPoll));
  EXPECT_TRUE(ackedHas({"app1", "alice", 11}));
  EXPECT_TRUE(ackedHas({"app1", "alice", 12}));
  EXPECT_TRUE(ackedHas({"app1", "alice", 13}));
  EXPECT_TRUE(ackedHas({"app2", "bob", 21}));
  // Batched: far fewer calls than acks, and one item per (app, user) in a call.
  EXPECT_LE(saver_->ack_requests.size(), 2u);
  for (const saver::AckRequest& r : saver_->ack_requests) {
    std::set<std::pair<std::string, std::string>> users;
    for (const saver::AckItem& item : r.items()) {
      EXPECT_TRUE(users.insert({item.app(), item.user()}).second) << r.ShortDebugString();
    }
  }
  // An id acked twice is forwarded once (the second is not pending any more).
  ack(alice, {11});
  roundTrip(alice);
  settle(60ms);
  EXPECT_EQ(saver_->acked.size(), 4u);
  EXPECT_EQ(room_->ackForwarder()->stats().forwarded, 4u);
}

TEST_F(RoomSaverTest, AnAckOfAnIdNotWrittenToThatConnectionNeverReachesSaver) {
  startRoom(withSaver());
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  testing::FrameSocket& mallory = authedAt("app1", "mallory", "phone", 0);
  deliver("app1", {"alice"}, 31, "for alice", 1);
  deliver("app1", {"alice"}, 32, "qos 0", 0);
  pushes(alice, 2);
  // Another user's id, a guessed one, and a QoS 0 id (never pending): all refused.
  ack(mallory, {31, 999});
  roundTrip(mallory);
  ack(alice, {32});
  roundTrip(alice);
  ack(alice, {31});  // the only accepted one, after the others in the forwarder's queue
  ASSERT_TRUE(loop_.runUntil([&] { return !saver_->acked.empty(); }, 5s, testing::kPoll));
  settle(60ms);  // a later batch would show up now
  ASSERT_EQ(saver_->acked.size(), 1u);
  EXPECT_EQ(saver_->acked[0], (Acked{"app1", "alice", 31}));
  EXPECT_EQ(room_->ackForwarder()->stats().accepted, 1u);
}

TEST_F(RoomSaverTest, AcksWaitWhileSaverIsDownAndArriveWhenItIsBack) {
  startRoom(withSaver());
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  for (uint64_t id : {41, 42})
    deliver("app1", {"alice"}, id, "m", 1);
  pushes(alice, 2);
  const std::string address = saver_->address();
  bool down = false;
  saver_->stop([&] { down = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return down; }, 5s));
  ack(alice, {41});
  ack(alice, {42});
  // The call fails (connection refused) and is retried with backoff.
  ASSERT_TRUE(loop_.runUntil([&] { return room_->ackForwarder()->stats().failed_calls >= 2; }, 5s,
                             testing::kPoll));
  EXPECT_EQ(room_->ackForwarder()->stats().forwarded, 0u);
  ASSERT_TRUE(saver_->start(address).isOk()) << "port " << address << " taken meanwhile";
  // Saver has them, and the room has its answer.
  ASSERT_TRUE(loop_.runUntil(
      [&] { return saver_->acked.size() == 2 && room_->ackForwarder()->stats().forwarded == 2; },
      10s, testing::kPoll));
  EXPECT_TRUE(ackedHas({"app1", "alice", 41}));
  EXPECT_TRUE(ackedHas({"app1", "alice", 42}));
  const AckForwarder::Stats s = room_->ackForwarder()->stats();
  EXPECT_EQ(s.forwarded, 2u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.backlog, 0u);
}

TEST_F(RoomSaverTest, StoredMessagesComeOldestFirstBeforeALivePushMadeDuringTheLoad) {
  startRoom(withSaver());
  saver_->storeMessage("alice", stored(103, "app1"));
  saver_->storeMessage("alice", stored(101, "app1"));
  saver_->storeMessage("alice", stored(102, "app1", 0));
  saver_->storeMessage("bob", stored(109, "app1"));  // someone else's
  saver_->hold_loads = true;
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldLoads() == 1; }, 5s, testing::kPoll));
  // Live pushes while the first page is loading: a new one, and one the replay will also
  // bring (written once).
  EXPECT_EQ(deliver("app1", {"alice"}, 200, "live", 1).connections(0), 1u);
  EXPECT_EQ(deliver("app1", {"alice"}, 103, "stored-103", 1).connections(0), 1u);
  EXPECT_TRUE(roundTrip(alice).empty()) << "a live push overtook the replay";
  saver_->releaseLoads();  // page 1: 101, 102 (page size 2), more
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldLoads() == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(saver_->load_requests.back().after_id(), 102u);
  saver_->releaseLoads();  // page 2: 103
  std::vector<client::Push> got = pushes(alice, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].message_id(), 101u);
  EXPECT_EQ(got[1].message_id(), 102u);
  EXPECT_EQ(got[1].qos(), 0u);
  EXPECT_EQ(got[2].message_id(), 103u);
  EXPECT_EQ(got[2].payload(), "stored-103");
  EXPECT_EQ(got[3].message_id(), 200u);
  EXPECT_TRUE(roundTrip(alice).empty()) << "103 written twice";
  for (const saver::LoadRequest& r : saver_->load_requests) {
    EXPECT_EQ(r.app(), "app1");
    EXPECT_EQ(r.user(), "alice");
  }
  // Replayed QoS 1 messages are acked like live ones, and the acks reach saver.
  ack(alice, {101, 103, 200});
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->acked.size() == 3; }, 5s, testing::kPoll));
  EXPECT_EQ(saver_->inbox("app1", "alice"), std::vector<uint64_t>{102});
  const OfflineReplay::Stats s = room_->replay()->stats();
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.active, 0u);
}

TEST_F(RoomSaverTest, ExpiredStoredMessagesAreNotSent) {
  startRoom(withSaver());
  const int64_t now = Clock::system().wallMillis();
  saver_->storeMessage("alice", stored(301, "app1", 1, 10, now - 60'000));  // expired 50 s ago
  saver_->storeMessage("alice", stored(302, "app1", 1, 3600, now));
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  std::vector<client::Push> got = pushes(alice, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id(), 302u);
  EXPECT_TRUE(roundTrip(alice).empty());
  EXPECT_EQ(room_->replay()->stats().expired, 1u);
}

TEST_F(RoomSaverTest, BroadcastsAfterTheLastSequenceAreReplayedOnceAndTaggedOnesNot) {
  startRoom(withSaver());
  for (uint64_t seq : {1, 2, 4, 5})
    saver_->storeBroadcast(bcast(seq, "app1"));
  saver_->storeBroadcast(bcast(3, "app1", "sports"));
  saver_->storeBroadcast(bcast(7, "app2"));
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 1);
  std::vector<client::Push> got = pushes(alice, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].broadcast_seq(), 2u);
  EXPECT_EQ(got[1].broadcast_seq(), 4u);
  EXPECT_EQ(got[2].broadcast_seq(), 5u);
  EXPECT_EQ(got[0].message_id(), 1002u);
  EXPECT_EQ(got[0].payload(), "bcast-2");
  EXPECT_TRUE(roundTrip(alice).empty()) << "a broadcast came twice, or the tagged one came";
  // Paged by sequence (page size 2).
  ASSERT_GE(saver_->load_broadcast_requests.size(), 2u);
  EXPECT_EQ(saver_->load_broadcast_requests[0].after_sequence(), 1u);
  EXPECT_EQ(saver_->load_broadcast_requests[0].app(), "app1");
  // A client that saw them all gets none; one that reports none asks for none.
  auto completed = [&](uint64_t n) {
    return loop_.runUntil([&] { return room_->replay()->stats().completed == n; }, 5s,
                          testing::kPoll);
  };
  ASSERT_TRUE(completed(1));
  testing::FrameSocket& again = authedAt("app1", "alice", "laptop", 5);
  ASSERT_TRUE(completed(2));
  EXPECT_TRUE(roundTrip(again).empty());
  EXPECT_EQ(saver_->load_broadcast_requests.back().after_sequence(), 5u);
  const size_t calls = saver_->load_broadcast_requests.size();
  testing::FrameSocket& fresh = authedAt("app1", "carol", "phone", 0);
  ASSERT_TRUE(completed(3));
  EXPECT_TRUE(roundTrip(fresh).empty());
  EXPECT_EQ(saver_->load_broadcast_requests.size(), calls);
  EXPECT_EQ(room_->replay()->stats().broadcasts, 3u);
}

TEST_F(RoomSaverTest, ABindReplaysThatAppsStoredMessagesAndBroadcasts) {
  startRoom(withSaver());
  saver_->storeMessage("alice", stored(401, "app2"));
  saver_->storeBroadcast(bcast(1, "app2"));
  saver_->storeBroadcast(bcast(2, "app2"));
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  EXPECT_TRUE(roundTrip(alice).empty());
  client::Frame bind;
  bind.mutable_bind()->set_token(testing::token("app2", "alice", "phone"));
  bind.mutable_bind()->set_last_broadcast_seq(1);
  alice.send(bind);
  EXPECT_EQ(expectFrame(alice, client::Frame::kBindResult).bind_result().code(),
            client::ERROR_NONE);
  std::vector<client::Push> got = pushes(alice, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message_id(), 401u);
  EXPECT_EQ(got[0].app(), "app2");
  EXPECT_EQ(got[1].broadcast_seq(), 2u);
  ack(alice, {401});
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->acked.size() == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(saver_->acked[0], (Acked{"app2", "alice", 401}));
}

TEST_F(RoomSaverTest, AFailingLoadLeavesTheConnectionWorking) {
  startRoom(withSaver());
  saver_->fail_loads = true;
  saver_->storeMessage("alice", stored(501, "app1"));
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 3);
  ASSERT_TRUE(loop_.runUntil([&] { return room_->replay()->stats().load_failures == 1; }, 5s,
                             testing::kPoll));
  EXPECT_TRUE(roundTrip(alice).empty());
  EXPECT_EQ(deliver("app1", {"alice"}, 502, "live", 1).connections(0), 1u);
  std::vector<client::Push> got = pushes(alice, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id(), 502u);
  ack(alice, {502});
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->acked.size() == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(room_->replay()->stats().active, 0u);
}

TEST_F(RoomSaverTest, HeldPushesAreWrittenWhenTheReplayTimesOut) {
  RoomOptions o = withSaver();
  o.saver->replay_timeout = 100ms;
  startRoom(o);
  saver_->hold_loads = true;
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldLoads() == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(deliver("app1", {"alice"}, 601, "live", 1).connections(0), 1u);
  std::vector<client::Push> got = pushes(alice, 1);  // after the timeout, without the load
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id(), 601u);
  EXPECT_EQ(room_->replay()->stats().abandoned, 1u);
  saver_->storeMessage("alice", stored(600, "app1"));
  saver_->releaseLoads();  // too late: ignored (it comes on the next load)
  settle(50ms);            // the answer reaches the room meanwhile
  EXPECT_TRUE(roundTrip(alice).empty());
}

TEST_F(RoomSaverTest, HeldPushesOverTheBoundAreWrittenAtOnce) {
  RoomOptions o = withSaver();
  o.saver->replay_hold_max = 2;
  startRoom(o);
  saver_->hold_loads = true;
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldLoads() == 1; }, 5s, testing::kPoll));
  deliver("app1", {"alice"}, 901, "live", 1);
  EXPECT_TRUE(roundTrip(alice).empty());
  deliver("app1", {"alice"}, 902, "live", 0);  // the bound: both go now, in order
  std::vector<client::Push> got = pushes(alice, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message_id(), 901u);
  EXPECT_EQ(got[1].message_id(), 902u);
  EXPECT_EQ(room_->replay()->stats().abandoned, 1u);
  deliver("app1", {"alice"}, 903, "live", 0);  // no replay any more: written at once
  EXPECT_EQ(pushes(alice, 1).at(0).message_id(), 903u);
  ack(alice, {901});
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->acked.size() == 1; }, 5s, testing::kPoll));
}

TEST_F(RoomSaverTest, AConnectionClosingMidReplayDropsItsState) {
  startRoom(withSaver());
  saver_->storeMessage("alice", stored(701, "app1"));
  saver_->hold_loads = true;
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 0);
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldLoads() == 1; }, 5s, testing::kPoll));
  deliver("app1", {"alice"}, 702, "live", 1);
  EXPECT_EQ(room_->replay()->stats().active, 1u);
  alice.close();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s, testing::kPoll));
  EXPECT_EQ(room_->replay()->stats().active, 0u);
  saver_->releaseLoads();  // the answer finds nobody
  settle(20ms);
  EXPECT_EQ(room_->replay()->stats().messages, 0u);
}

TEST_F(RoomSaverTest, WithoutSaverNothingIsLoadedOrForwarded) {
  startRoom();
  saver_->storeMessage("alice", stored(801, "app1"));
  testing::FrameSocket& alice = authedAt("app1", "alice", "phone", 4);
  deliver("app1", {"alice"}, 802, "live", 1);
  std::vector<client::Push> got = pushes(alice, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id(), 802u);
  ack(alice, {802});
  roundTrip(alice);
  settle(50ms);
  EXPECT_TRUE(saver_->load_requests.empty());
  EXPECT_TRUE(saver_->acked.empty());
  EXPECT_EQ(room_->ackForwarder(), nullptr);
}

Result<RoomOptions> optionsFromText(const std::string& text) {
  config::RoomConfig cfg;
  auto file = ConfigFile::parse(
      std::string(R"(apps { name: "app" secret: "0123456789abcdef" })") + "\n" + text, "room.conf",
      &cfg);
  if (!file.isOk()) return file.status();
  return RoomOptions::fromConfig(cfg, file->get());
}

TEST(RoomSaverOptionsTest, TheSaverSectionAndItsDefaults) {
  auto none = optionsFromText("");
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  EXPECT_FALSE(none->saver);
  // Fields without addresses: no saver (they are still range checked).
  auto no_address = optionsFromText("saver { ack_batch_max: 5 }");
  ASSERT_TRUE(no_address.isOk());
  EXPECT_FALSE(no_address->saver);

  auto defaults = optionsFromText(R"(saver { addresses: "127.0.0.1:7400" })");
  ASSERT_TRUE(defaults.isOk()) << defaults.status().toString();
  ASSERT_TRUE(defaults->saver);
  EXPECT_EQ(defaults->saver->addresses, std::vector<std::string>{"127.0.0.1:7400"});
  EXPECT_EQ(defaults->saver->timeout, 2000ms);
  EXPECT_EQ(defaults->saver->ack_batch_max, 1000u);
  EXPECT_EQ(defaults->saver->ack_batch_interval, 10ms);
  EXPECT_EQ(defaults->saver->ack_backlog_max, 100'000u);
  EXPECT_EQ(defaults->saver->replay_max_messages, 1000u);
  EXPECT_EQ(defaults->saver->replay_page, 100u);
  EXPECT_EQ(defaults->saver->replay_timeout, 2000ms);
  EXPECT_EQ(defaults->saver->replay_hold_max, 256u);

  auto set = optionsFromText(R"(cluster_key: "cluster-key-0123456789"
    saver { addresses: "saver-1:7400" addresses: "saver-2:7400" timeout_ms: 500
            ack_batch_max: 50 ack_batch_interval_ms: 5 ack_backlog_max: 2000
            replay_max_messages: 10 replay_page: 5 replay_timeout_ms: 300 replay_hold_max: 8
            channel { connections_per_endpoint: 3 } })");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  const RoomOptions::Saver& s = *set->saver;
  EXPECT_EQ(s.addresses.size(), 2u);
  EXPECT_EQ(s.timeout, 500ms);
  EXPECT_EQ(s.ack_batch_max, 50u);
  EXPECT_EQ(s.ack_batch_interval, 5ms);
  EXPECT_EQ(s.ack_backlog_max, 2000u);
  EXPECT_EQ(s.replay_max_messages, 10u);
  EXPECT_EQ(s.replay_page, 5u);
  EXPECT_EQ(s.replay_timeout, 300ms);
  EXPECT_EQ(s.replay_hold_max, 8u);
  EXPECT_EQ(s.channel.connections_per_endpoint, 3u);
  EXPECT_EQ(s.channel.cluster_key, "cluster-key-0123456789");

  auto bad = optionsFromText(R"(saver { addresses: "no-port" })");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("saver.addresses: bad address 'no-port'"),
            std::string::npos)
      << bad.status().toString();
  auto range = optionsFromText(R"(saver { addresses: "127.0.0.1:7400" replay_page: 5000 })");
  ASSERT_FALSE(range.isOk());
  EXPECT_NE(range.status().message().find("saver.replay_page"), std::string::npos)
      << range.status().toString();
}

}  // namespace
}  // namespace push::room
