// BroadcastConsumer against a REAL push-queued (tests/support NsqDaemon): a RoomServer with
// `queued` configured subscribes bcast.<app> of each app with its own ephemeral channel, turns
// each BroadcastMessage into a Push for the app's connections, drops expired and invalid ones,
// and its channel is gone from queued once the room stops. Broadcasts are published with
// queued's HTTP /pub, the way any producer would. Skipped when push-queued is not built.
#include <gtest/gtest.h>

#include <string>

#include "common/base/clock.h"
#include "proto/broadcast.pb.h"
#include "services/room/broadcast_consumer.h"
#include "services/room/broadcast_pacer.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room::testing {
namespace {

using client::Frame;
using push::testing::httpRequest;
using push::testing::NsqDaemon;

std::string message(const std::string& app, uint64_t id, const std::string& payload,
                    uint64_t expires_ms = 0, const std::string& tag = "") {
  broadcast::BroadcastMessage m;
  m.set_message_id(id);
  m.set_app(app);
  m.set_sequence(id + 1);
  m.set_payload(payload);
  m.set_qos(1);
  m.set_created_ms(1'700'000'000'000);
  m.set_expires_ms(expires_ms);
  m.set_tag(tag);
  return m.SerializeAsString();
}

class RoomBroadcastConsumerTest : public RoomFixture {
 protected:
  void SetUp() override {
    if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
    auto d = NsqDaemon::start("queued");
    ASSERT_TRUE(d.isOk()) << d.status().toString();
    queued_ = std::move(d).value();
  }

  // A room consuming from queued, subscribed on every app's topic.
  void startConsuming() {
    RoomOptions o = defaultOptions();
    o.queued = {queued_->tcpAddress()};
    startRoom(o);
    ASSERT_NE(room_->broadcasts(), nullptr);
    ASSERT_TRUE(
        loop_.runUntil([&] { return room_->broadcasts()->stats().connections == 3; }, 10s, kPoll));
  }

  void publish(const std::string& app, const std::string& body) {
    auto reply = httpRequest(queued_->httpAddress(), "POST", "/pub?topic=bcast." + app, body);
    ASSERT_TRUE(reply.isOk()) << reply.status().toString();
    ASSERT_EQ(reply->status, 200) << reply->body;
  }

  std::string stats() {
    auto reply = httpRequest(queued_->httpAddress(), "GET", "/stats?format=json");
    return reply.isOk() ? reply->body : reply.status().toString();
  }

  std::unique_ptr<NsqDaemon> queued_;
};

TEST(BroadcastConsumerChannelTest, ChannelNamesFitNsqRules) {
  EXPECT_EQ(BroadcastConsumer::channelFor("room-12-1700000000000"),
            "room-12-1700000000000#ephemeral");
  EXPECT_EQ(BroadcastConsumer::channelFor("edge/1 12"), "room-edge_1_12#ephemeral");
  const std::string long_id = std::string(80, 'a') + "-4242-1700000000000";
  const std::string channel = BroadcastConsumer::channelFor(long_id);
  EXPECT_EQ(channel.size(), 64u);
  EXPECT_NE(channel.find("-4242-1700000000000#ephemeral"), std::string::npos) << channel;
}

TEST_F(RoomBroadcastConsumerTest, DeliversEachBroadcastToTheAppsConnectionsAsAPush) {
  startConsuming();
  FrameSocket& a = authed("app1", "alice", "phone");
  FrameSocket& b = authed("app1", "bob", "phone");
  FrameSocket& other = authed("app2", "carol", "phone");

  publish("app1", message("app1", 41, "hello everyone"));
  for (FrameSocket* c : {&a, &b}) {
    Frame f = expectFrame(*c, Frame::kPush);
    EXPECT_EQ(f.push().message_id(), 41u);
    EXPECT_EQ(f.push().broadcast_seq(), 42u);
    EXPECT_EQ(f.push().payload(), "hello everyone");
    EXPECT_EQ(f.push().qos(), 1u);
    EXPECT_EQ(f.push().created_ms(), 1'700'000'000'000u);
    EXPECT_EQ(f.push().app(), "app1");
  }
  // Finished in queued once written: nothing in flight on the room's channel.
  ASSERT_TRUE(
      loop_.runUntil([&] { return room_->broadcasts()->stats().delivered == 1; }, 5s, kPoll));
  // The other app's client got nothing; its own topic's broadcast reaches it next.
  publish("app2", message("app2", 50, "for app2"));
  EXPECT_EQ(expectFrame(other, Frame::kPush).push().message_id(), 50u);
  EXPECT_TRUE(roundTrip(a).empty());

  const std::string s = stats();
  EXPECT_NE(s.find(room_->broadcasts()->channel()), std::string::npos) << s;
  const std::string status = room_->statusJson();
  EXPECT_NE(status.find("\"broadcast\":{\"channel\":"), std::string::npos) << status;
  // A client connecting now starts from the latest sequence this room has read for its app
  // (AuthResult.broadcast_seq; sdk/PROTOCOL.md 6a); 0 for an app without broadcasts.
  auto authSeq = [&](const std::string& app) {
    FrameSocket& c = connect();
    Frame auth;
    auth.mutable_auth()->set_token(token(app, "dave", "phone"));
    c.send(auth);
    return expectFrame(c, Frame::kAuthResult).auth_result().broadcast_seq();
  };
  EXPECT_EQ(authSeq("app1"), 42u);
  EXPECT_EQ(authSeq("app2"), 51u);
  EXPECT_EQ(authSeq("app3"), 0u);
}

TEST_F(RoomBroadcastConsumerTest, ExpiredInvalidAndMisaddressedMessagesAreDroppedNotDelivered) {
  startConsuming();
  FrameSocket& a = authed("app1", "alice", "phone");
  const uint64_t past = static_cast<uint64_t>(Clock::system().wallMillis()) - 1000;
  publish("app1", message("app1", 1, "expired", past));
  publish("app1", "\xff\xff not a protobuf");
  publish("app1", message("app2", 2, "wrong topic for this app"));
  publish("app1", message("app1", 3, "bad tag", 0, "no spaces allowed"));
  const uint64_t future = static_cast<uint64_t>(Clock::system().wallMillis()) + 60'000;
  publish("app1", message("app1", 4, "fine", future));

  Frame f = expectFrame(a, Frame::kPush);
  EXPECT_EQ(f.push().message_id(), 4u);
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        const auto st = room_->broadcasts()->stats();
        return st.expired == 1 && st.invalid == 3 && st.delivered == 1;
      },
      5s, kPoll));
  EXPECT_TRUE(roundTrip(a).empty());
}

TEST_F(RoomBroadcastConsumerTest, AStoppedRoomLeavesNoChannelBehind) {
  startConsuming();
  const std::string channel = room_->broadcasts()->channel();
  ASSERT_NE(stats().find(channel), std::string::npos);
  bool stopped = false;
  room_->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
  room_.reset();
  // Ephemeral: queued deletes the channel when its last client leaves.
  ASSERT_TRUE(loop_.runUntil([&] { return stats().find(channel) == std::string::npos; }, 10s,
                             std::chrono::milliseconds(20)))
      << stats();
}

}  // namespace
}  // namespace push::room::testing
