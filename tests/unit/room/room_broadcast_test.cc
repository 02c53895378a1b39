// BroadcastPacer inside a real RoomServer, with real TCP clients: who gets a broadcast (the
// app's Active connections, or a tag's subscribers), in order, many per pass, paced, and a
// client that does not read is closed at its output limit while the others get everything.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "services/room/broadcast_pacer.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room::testing {
namespace {

using client::Frame;

std::string broadcastFrame(const std::string& app, uint64_t seq, const std::string& payload,
                           const std::string& tag = "") {
  Frame f;
  client::Push* p = f.mutable_push();
  p->set_message_id(1000 + seq);
  p->set_app(app);
  p->set_payload(payload);
  p->set_broadcast_seq(seq);
  p->set_tag(tag);
  return f.SerializeAsString();
}

class RoomBroadcastTest : public RoomFixture {
 protected:
  // App indexes follow RoomFixture's configuration order.
  static constexpr uint16_t kApp1 = 0, kApp2 = 1;

  void subscribe(FrameSocket& c, const std::string& app, const std::string& tag) {
    Frame f;
    f.mutable_subscribe()->set_seq(1);
    f.mutable_subscribe()->set_app(app);
    f.mutable_subscribe()->add_tags(tag);
    c.send(f);
    ASSERT_EQ(expectFrame(c, Frame::kSubscribeResult).subscribe_result().code(),
              client::ERROR_NONE);
  }
  // Waits until every broadcast enqueued so far has been written everywhere.
  void drainPacer() {
    ASSERT_TRUE(loop_.runUntil([&] { return room_->pacer().pending() == 0; }, 10s, kPoll));
  }
  // The broadcast sequences `c` received, in order, up to a Ping round trip.
  std::vector<uint64_t> seqsOf(FrameSocket& c) {
    std::vector<uint64_t> seqs;
    for (const Frame& f : roundTrip(c)) {
      EXPECT_TRUE(f.has_push()) << f.ShortDebugString();
      seqs.push_back(f.push().broadcast_seq());
    }
    return seqs;
  }
};

TEST_F(RoomBroadcastTest, ReachesEveryActiveConnectionOfTheAppAndNoOther) {
  startRoom();
  FrameSocket& a = authed("app1", "alice", "phone");
  FrameSocket& b = authed("app1", "bob", "phone");
  FrameSocket& other = authed("app2", "carol", "phone");
  FrameSocket& bound = authed("app2", "dave", "phone");  // app2, then Bind app1
  Frame bind;
  bind.mutable_bind()->set_token(token("app1", "dave", "phone"));
  bound.send(bind);
  ASSERT_EQ(expectFrame(bound, Frame::kBindResult).bind_result().code(), client::ERROR_NONE);
  FrameSocket& unauthenticated = connect();

  room_->pacer().enqueue(1, kApp1, "", broadcastFrame("app1", 7, "to-app1"));
  drainPacer();

  for (FrameSocket* c : {&a, &b, &bound}) {
    Frame f = expectFrame(*c, Frame::kPush);
    EXPECT_EQ(f.push().broadcast_seq(), 7u);
    EXPECT_EQ(f.push().message_id(), 1007u);
    EXPECT_EQ(f.push().app(), "app1");
    EXPECT_EQ(f.push().payload(), "to-app1");
  }
  EXPECT_TRUE(seqsOf(other).empty());
  EXPECT_EQ(room_->pacer().deliveries(), 3u);
  // An unauthenticated connection gets nothing either (a broadcast is not a way in).
  EXPECT_FALSE(unauthenticated.hasFrame());
  EXPECT_NE(room_->statusJson().find("\"writes\":3"), std::string::npos) << room_->statusJson();
}

TEST_F(RoomBroadcastTest, TagBroadcastReachesExactlyTheSubscribersOfThatAppsTag) {
  startRoom();
  FrameSocket& news = authed("app1", "alice", "phone");
  FrameSocket& sport = authed("app1", "bob", "phone");
  FrameSocket& none = authed("app1", "carol", "phone");
  FrameSocket& other_app = authed("app2", "dave", "phone");
  subscribe(news, "app1", "news");
  subscribe(sport, "app1", "sport");
  subscribe(other_app, "app2", "news");  // same tag name, other app

  room_->pacer().enqueue(1, kApp1, "news", broadcastFrame("app1", 1, "n", "news"));
  drainPacer();

  Frame f = expectFrame(news, Frame::kPush);
  EXPECT_EQ(f.push().tag(), "news");
  EXPECT_EQ(f.push().broadcast_seq(), 1u);
  EXPECT_TRUE(seqsOf(news).empty());
  EXPECT_TRUE(seqsOf(sport).empty());
  EXPECT_TRUE(seqsOf(none).empty());
  EXPECT_TRUE(seqsOf(other_app).empty());
  EXPECT_EQ(room_->pacer().deliveries(), 1u);
}

TEST_F(RoomBroadcastTest, ManyBroadcastsArriveInOrderAndShareOnePassPerBatch) {
  startRoom();
  std::vector<FrameSocket*> clients;
  for (int i = 0; i < 5; ++i)
    clients.push_back(&authed("app1", "u" + std::to_string(i), "d"));
  constexpr uint64_t kCount = 200;
  for (uint64_t seq = 1; seq <= kCount; ++seq) {
    room_->pacer().enqueue(seq, kApp1, "", broadcastFrame("app1", seq, "m"));
  }
  drainPacer();
  // Default batch 128: two passes over the connections for 200 broadcasts, not 200.
  EXPECT_EQ(room_->pacer().passes(), 2u);
  for (FrameSocket* c : clients) {
    std::vector<uint64_t> seqs = seqsOf(*c);
    ASSERT_EQ(seqs.size(), kCount);
    for (uint64_t i = 0; i < kCount; ++i)
      EXPECT_EQ(seqs[i], i + 1);
  }
}

TEST_F(RoomBroadcastTest, APassMixingAppsGivesEachConnectionExactlyItsOwnInOrder) {
  startRoom();
  FrameSocket& one = authed("app1", "alice", "phone");
  FrameSocket& two = authed("app2", "bob", "phone");
  FrameSocket& both = authed("app1", "carol", "phone");
  Frame bind;
  bind.mutable_bind()->set_token(token("app2", "carol", "phone"));
  both.send(bind);
  ASSERT_EQ(expectFrame(both, Frame::kBindResult).bind_result().code(), client::ERROR_NONE);
  // One pass: odd sequences to app1, even ones to app2.
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    const bool odd = seq % 2 == 1;
    room_->pacer().enqueue(seq, odd ? kApp1 : kApp2, "",
                           broadcastFrame(odd ? "app1" : "app2", seq, "m"));
  }
  drainPacer();
  EXPECT_EQ(room_->pacer().passes(), 1u);
  EXPECT_EQ(seqsOf(one), (std::vector<uint64_t>{1, 3, 5, 7, 9}));
  EXPECT_EQ(seqsOf(two), (std::vector<uint64_t>{2, 4, 6, 8, 10}));
  EXPECT_EQ(seqsOf(both), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(room_->pacer().deliveries(), 20u);
}

TEST_F(RoomBroadcastTest, ABroadcastToManyConnectionsIsWrittenInSlicesOfAFewHundredWrites) {
  startRoom();
  std::vector<FrameSocket*> clients;
  for (int i = 0; i < 300; ++i)
    clients.push_back(&authed("app1", "s" + std::to_string(i), "d"));
  const uint64_t slices_before = room_->pacer().slices();
  room_->pacer().enqueue(1, kApp1, "", broadcastFrame("app1", 1, "m"));
  drainPacer();
  // A write weighs 64 units of a 16384-unit slice: 300 of them take two slices, and the loop
  // runs its timers and I/O between them (a heartbeat to the register is not held up by a
  // broadcast to every connection). Counted as one unit each, they took one slice.
  EXPECT_GE(room_->pacer().slices() - slices_before, 2u);
  for (FrameSocket* c : clients)
    EXPECT_EQ(seqsOf(*c), std::vector<uint64_t>{1});
}

TEST_F(RoomBroadcastTest, PacingSpreadsDeliveriesOverTime) {
  RoomOptions o = defaultOptions();
  o.broadcast_rate_per_s = 1000;  // the lowest the config allows
  startRoom(o);
  std::vector<FrameSocket*> clients;
  for (int i = 0; i < 10; ++i)
    clients.push_back(&authed("app1", "u" + std::to_string(i), "d"));
  const auto started = std::chrono::steady_clock::now();
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    room_->pacer().enqueue(seq, kApp1, "", broadcastFrame("app1", seq, "m"));
  }
  drainPacer();
  const auto took = std::chrono::steady_clock::now() - started;
  // 400 deliveries at 1000/s with a 10 ms burst: at least ~0.39 s. A lower bound only (a
  // loaded machine may take longer); without pacing this takes a few milliseconds.
  EXPECT_GE(took, 300ms);
  for (FrameSocket* c : clients)
    EXPECT_EQ(seqsOf(*c).size(), 40u);
}

TEST_F(RoomBroadcastTest, AClientThatDoesNotReadIsClosedAtItsLimitAndTheOthersGetEverything) {
  RoomOptions o = defaultOptions();
  o.limits.high_watermark = 128u << 10;
  o.limits.low_watermark = 64u << 10;
  o.limits.hard_limit = 256u << 10;
  startRoom(o);
  FrameSocket& slow = authed("app1", "slow", "d");  // never reads until the end
  std::vector<FrameSocket*> readers;
  for (int i = 0; i < 3; ++i)
    readers.push_back(&authed("app1", "r" + std::to_string(i), "d"));
  // 300 x 60 KB = 18 MB: more than loopback's socket buffers hold for the reader that does not
  // read, so its output queue passes the hard limit.
  const std::string payload(60'000, 'x');
  constexpr uint64_t kCount = 300;
  for (uint64_t seq = 1; seq <= kCount; ++seq) {
    room_->pacer().enqueue(seq, kApp1, "", broadcastFrame("app1", seq, payload));
  }
  std::vector<uint64_t> got(readers.size(), 0);
  auto readAll = [&] {
    for (size_t i = 0; i < readers.size(); ++i) {
      while (readers[i]->hasFrame()) {
        Frame f = readers[i]->pop();
        EXPECT_EQ(f.push().broadcast_seq(), got[i] + 1);
        ++got[i];
      }
    }
    for (uint64_t n : got) {
      if (n < kCount) return false;
    }
    return true;
  };
  ASSERT_TRUE(loop_.runUntil(readAll, 30s, kPoll)) << got[0] << " " << got[1] << " " << got[2];
  // The slow one was closed: what it reads now ends in EOF, well short of everything.
  ASSERT_TRUE(loop_.runUntil([&] { return slow.closed(); }, 10s, kPoll));
  EXPECT_LT(slow.frames().size(), kCount);
}

}  // namespace
}  // namespace push::room::testing
