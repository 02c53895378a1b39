// RoomServer in-process on the test's loop (no register), with raw protocol clients on
// loopback; the loop is driven with runUntil while the clients' sockets are polled.
#include "services/room/room_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/register/slot_map.h"
#include "services/room/room_metrics.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using testing::FrameSocket;
using testing::token;
using Frame = client::Frame;

class RoomServerTest : public testing::RoomFixture {
 protected:
  void bind(FrameSocket& c, const std::string& tok) {
    Frame f;
    f.mutable_bind()->set_token(tok);
    c.send(f);
  }
  client::BindResult bindResult(FrameSocket& c, const std::string& tok) {
    bind(c, tok);
    return expectFrame(c, Frame::kBindResult).bind_result();
  }
  void sendAuth(FrameSocket& c, const std::string& tok) {
    Frame f;
    f.mutable_auth()->set_token(tok);
    c.send(f);
  }
  // The connection is refused with an Error frame of `code`, then closed.
  void expectErrorAndClose(FrameSocket& c, client::ErrorCode code) {
    Frame f = expectFrame(c, Frame::kError);
    EXPECT_EQ(f.error().code(), code) << f.ShortDebugString();
    EXPECT_TRUE(waitClosed(c));
  }
};

TEST_F(RoomServerTest, AuthenticatesAndAnswersPings) {
  startRoom();
  EXPECT_EQ(room_->connectionCount(), 0u);
  FrameSocket& c = connect();
  Frame auth;
  auth.mutable_auth()->set_token(token("app1", "alice", "phone"));
  auth.mutable_auth()->set_network(client::NETWORK_WIFI);
  c.send(auth);
  Frame r = expectFrame(c, Frame::kAuthResult);
  EXPECT_EQ(r.auth_result().app(), "app1");
  EXPECT_EQ(r.auth_result().user(), "alice");
  EXPECT_EQ(r.auth_result().device(), "phone");
  EXPECT_EQ(r.auth_result().room(), room_->roomId());
  EXPECT_EQ(r.auth_result().heartbeat_interval_s(), 60u);
  const uint64_t now_ms = static_cast<uint64_t>(std::time(nullptr)) * 1000;
  EXPECT_NEAR(static_cast<double>(r.auth_result().server_time_ms()), static_cast<double>(now_ms),
              10'000.0);
  EXPECT_EQ(room_->connectionCount(), 1u);
  EXPECT_EQ(room_->sessionCount(), 1u);

  Frame ping;
  ping.mutable_ping();
  c.send(ping);
  Frame pong = expectFrame(c, Frame::kPong);
  EXPECT_GT(pong.pong().server_time_ms(), 0u);
}

// Each close is counted by how it happened: the client's EOF as peer_closed, the room's own
// close after an Error frame as local (the question at scale: who closes connections).
TEST_F(RoomServerTest, ClosesAreCountedByHow) {
  startRoom();
  using Reason = net::TcpConnection::CloseReason;
  metrics::Counter& by_peer = roomMetrics().closedBy(Reason::PeerClosed);
  metrics::Counter& by_room = roomMetrics().closedBy(Reason::Local);
  const uint64_t peer_before = by_peer.value(), room_before = by_room.value();
  FrameSocket& leaving = authed("app1", "alice", "phone");
  leaving.close();
  EXPECT_TRUE(loop_.runUntil([&] { return by_peer.value() == peer_before + 1; }, 5s));
  FrameSocket& refused = connect();
  Frame ping;
  ping.mutable_ping();
  refused.send(ping);
  expectErrorAndClose(refused, client::ERROR_AUTH_REQUIRED);
  EXPECT_TRUE(loop_.runUntil([&] { return by_room.value() == room_before + 1; }, 5s));
  EXPECT_EQ(by_peer.value(), peer_before + 1);
}

TEST_F(RoomServerTest, HeartbeatFollowsTheNetworkWithinBounds) {
  RoomOptions o = defaultOptions();
  o.heartbeat_wifi_s = 30;
  o.heartbeat_cellular_s = 900;  // above max: clamped
  o.heartbeat_unknown_s = 2;     // below min: clamped
  o.heartbeat_min_s = 5;
  o.heartbeat_max_s = 600;
  startRoom(o);
  const std::map<client::NetworkType, uint32_t> expected = {{client::NETWORK_WIFI, 30},
                                                            {client::NETWORK_ETHERNET, 30},
                                                            {client::NETWORK_CELLULAR, 600},
                                                            {client::NETWORK_UNKNOWN, 5}};
  for (auto [network, seconds] : expected) {
    FrameSocket& c = connect();
    Frame auth;
    auth.mutable_auth()->set_token(token("app1", "u", "d"));
    auth.mutable_auth()->set_network(network);
    c.send(auth);
    EXPECT_EQ(expectFrame(c, Frame::kAuthResult).auth_result().heartbeat_interval_s(), seconds)
        << client::NetworkType_Name(network);
  }
}

TEST_F(RoomServerTest, FramesBeforeAuthAreRefused) {
  startRoom();
  FrameSocket& c = connect();
  Frame ping;
  ping.mutable_ping();
  c.send(ping);
  expectErrorAndClose(c, client::ERROR_AUTH_REQUIRED);
  EXPECT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s));
}

TEST_F(RoomServerTest, BadTokensAreRefused) {
  startRoom();
  struct Case {
    std::string token;
    client::ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"garbage", client::ERROR_BAD_TOKEN},
      {auth::mintToken(testing::kSecret2, {"app1", "alice", "phone", std::time(nullptr) + 60}),
       client::ERROR_BAD_TOKEN},  // app1 claims signed with app2's secret
      {token("app1", "alice", "phone", -10), client::ERROR_TOKEN_EXPIRED},
      {auth::mintToken("whatever-secret-123", {"nope", "alice", "phone", std::time(nullptr) + 60}),
       client::ERROR_UNKNOWN_APP},
  };
  for (const Case& k : cases) {
    FrameSocket& c = connect();
    sendAuth(c, k.token);
    expectErrorAndClose(c, k.code);
  }
  EXPECT_EQ(room_->sessionCount(), 0u);
}

TEST_F(RoomServerTest, SecondAuthIsRefused) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  sendAuth(c, token("app1", "alice", "phone"));
  expectErrorAndClose(c, client::ERROR_ALREADY_AUTHENTICATED);
  EXPECT_TRUE(loop_.runUntil([&] { return room_->sessionCount() == 0; }, 5s));
}

TEST_F(RoomServerTest, AuthTimeoutClosesASilentConnection) {
  RoomOptions o = defaultOptions();
  o.auth_timeout = 200ms;
  startRoom(o);
  FrameSocket& c = connect();
  const int64_t start = loop_.nowMs();
  expectErrorAndClose(c, client::ERROR_AUTH_TIMEOUT);
  EXPECT_GE(loop_.nowMs() - start, 150);
}

TEST_F(RoomServerTest, DeliverWritesAPushToEveryConnectionOfEachTarget) {
  startRoom();
  FrameSocket& phone = authed("app1", "alice", "phone");
  FrameSocket& laptop = authed("app1", "alice", "laptop");
  FrameSocket& bob = authed("app1", "bob", "phone");
  FrameSocket& carol = authed("app2", "carol", "phone");

  DeliverResponse resp = deliver("app1", {"alice", "nobody", "bob", "carol"}, 77, "hi", 1);
  ASSERT_EQ(resp.connections_size(), 4);
  EXPECT_EQ(resp.connections(0), 2u);
  EXPECT_EQ(resp.connections(1), 0u);
  EXPECT_EQ(resp.connections(2), 1u);
  EXPECT_EQ(resp.connections(3), 0u);  // carol is on app2
  for (FrameSocket* c : {&phone, &laptop, &bob}) {
    Frame f = expectFrame(*c, Frame::kPush);
    EXPECT_EQ(f.push().message_id(), 77u);
    EXPECT_EQ(f.push().app(), "app1");
    EXPECT_EQ(f.push().payload(), "hi");
    EXPECT_EQ(f.push().qos(), 1u);
    EXPECT_EQ(f.push().created_ms(), 1234567u);
  }
  EXPECT_TRUE(roundTrip(carol).empty());

  EXPECT_EQ(deliver("no-such-app", {"alice"}).connections(0), 0u);
  EXPECT_EQ(deliver("app1", {}).connections_size(), 0);
}

TEST_F(RoomServerTest, DeliverToADeviceReachesOnlyThatDevice) {
  startRoom();
  FrameSocket& phone = authed("app1", "alice", "phone");
  FrameSocket& laptop = authed("app1", "alice", "laptop");
  DeliverResponse resp = deliver("app1", {"alice"}, 5, "for the laptop", 0, "laptop");
  EXPECT_EQ(resp.connections(0), 1u);
  EXPECT_EQ(expectFrame(laptop, Frame::kPush).push().payload(), "for the laptop");
  EXPECT_TRUE(roundTrip(phone).empty());
  EXPECT_EQ(deliver("app1", {"alice"}, 6, "x", 0, "watch").connections(0), 0u);
}

TEST_F(RoomServerTest, AcksOfQos1MessagesAreCounted) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  deliver("app1", {"alice"}, 4242, "p", 1);
  expectFrame(c, Frame::kPush);
  Frame ack;
  ack.mutable_ack()->add_message_ids(4242);
  ack.mutable_ack()->add_message_ids(999);  // unknown: counted apart, not an error
  c.send(ack);
  EXPECT_TRUE(roundTrip(c).empty());
  EXPECT_NE(room_->statusJson().find(R"("4242":{"delivered":1,"acked":1})"), std::string::npos)
      << room_->statusJson();
  // qos 0 messages are not tracked.
  deliver("app1", {"alice"}, 5000, "p", 0);
  expectFrame(c, Frame::kPush);
  EXPECT_EQ(room_->statusJson().find("\"5000\""), std::string::npos);
}

TEST_F(RoomServerTest, AcksAreTakenOnlyFromAConnectionTheMessageWasWrittenTo) {
  startRoom();
  FrameSocket& alice = authed("app1", "alice", "phone");
  FrameSocket& mallory = authed("app1", "mallory", "phone");
  deliver("app1", {"alice"}, 77, "for alice", 1);
  expectFrame(alice, Frame::kPush);
  Frame ack;
  ack.mutable_ack()->add_message_ids(77);
  mallory.send(ack);  // not written to mallory: dropped
  EXPECT_TRUE(roundTrip(mallory).empty());
  EXPECT_NE(room_->statusJson().find(R"("77":{"delivered":1,"acked":0})"), std::string::npos)
      << room_->statusJson();
  alice.send(ack);
  alice.send(ack);  // a second ack of the same delivery counts once
  EXPECT_TRUE(roundTrip(alice).empty());
  EXPECT_NE(room_->statusJson().find(R"("77":{"delivered":1,"acked":1})"), std::string::npos)
      << room_->statusJson();
}

TEST_F(RoomServerTest, AConnectionOverTheDeviceCapReplacesTheOldest) {
  RoomOptions o = defaultOptions();
  o.session_limits.max_per_device = 2;
  startRoom(o);
  FrameSocket& first = authed("app1", "alice", "phone");
  FrameSocket& second = authed("app1", "alice", "phone");
  authed("app1", "alice", "laptop");  // another device: not counted with the phone
  FrameSocket& third = authed("app1", "alice", "phone");
  Frame k = expectFrame(first, Frame::kKick);
  EXPECT_NE(k.kick().reason().find("replaced"), std::string::npos) << k.kick().reason();
  EXPECT_TRUE(waitClosed(first));
  EXPECT_EQ(room_->sessionCount(), 3u);
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 3u);
  expectFrame(second, Frame::kPush);
  expectFrame(third, Frame::kPush);
}

TEST_F(RoomServerTest, AConnectionOverTheUserCapReplacesTheOldestOfAnyDevice) {
  RoomOptions o = defaultOptions();
  o.session_limits.max_per_user = 2;
  startRoom(o);
  FrameSocket& tablet = authed("app1", "alice", "tablet");
  authed("app1", "alice", "phone");
  authed("app1", "bob", "phone");  // another user: not counted
  authed("app1", "alice", "laptop");
  expectFrame(tablet, Frame::kKick);
  EXPECT_TRUE(waitClosed(tablet));
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 2u);
  // The cap holds per app: app2 of the same user is counted apart.
  FrameSocket& other = authed("app2", "alice", "tablet");
  EXPECT_TRUE(roundTrip(other).empty());
}

TEST_F(RoomServerTest, RefuseNewestPolicyRefusesTheNewConnection) {
  RoomOptions o = defaultOptions();
  o.session_limits.max_per_device = 1;
  o.session_limits.policy = Sessions::LimitPolicy::RefuseNewest;
  startRoom(o);
  FrameSocket& first = authed("app1", "alice", "phone");
  FrameSocket& second = connect();
  sendAuth(second, token("app1", "alice", "phone"));
  expectErrorAndClose(second, client::ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_TRUE(roundTrip(first).empty());  // untouched
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 1u);
  // Bind of a capped (app, user, device) is refused in its BindResult.
  FrameSocket& other = authed("app2", "alice", "phone");
  EXPECT_EQ(bindResult(other, token("app1", "alice", "phone")).code(),
            client::ERROR_TOO_MANY_CONNECTIONS);
}

TEST_F(RoomServerTest, BindIsRefusedWhileDraining) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  room_->drain(10s, 30s, [] {});
  expectFrame(c, Frame::kReconnect);
  client::BindResult r = bindResult(c, token("app2", "alice", "phone"));
  EXPECT_EQ(r.code(), client::ERROR_DRAINING);
  EXPECT_EQ(room_->sessionCount(), 1u);
}

TEST_F(RoomServerTest, KickSendsKickAndCloses) {
  startRoom();
  FrameSocket& phone = authed("app1", "alice", "phone");
  FrameSocket& laptop = authed("app1", "alice", "laptop");
  EXPECT_EQ(room_->sessionCount(), 2u);
  EXPECT_EQ(room_->rpcService().kick("app1", "alice", "phone", "bye"), 1u);
  EXPECT_EQ(room_->sessionCount(), 1u);  // at once, before the socket closes
  Frame k = expectFrame(phone, Frame::kKick);
  EXPECT_EQ(k.kick().reason(), "bye");
  EXPECT_TRUE(waitClosed(phone));
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 1u);
  expectFrame(laptop, Frame::kPush);

  EXPECT_EQ(room_->rpcService().kick("app1", "nobody", "", ""), 0u);
  EXPECT_EQ(room_->rpcService().kick("app2", "alice", "", ""), 0u);
  EXPECT_EQ(room_->rpcService().kick("no-app", "alice", "", ""), 0u);
  EXPECT_EQ(room_->rpcService().kick("app1", "alice", "", ""), 1u);
  EXPECT_EQ(expectFrame(laptop, Frame::kKick).kick().reason(), "kicked by operator");
  EXPECT_TRUE(waitClosed(laptop));
  EXPECT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s));
  EXPECT_EQ(room_->sessionCount(), 0u);
}

TEST_F(RoomServerTest, ListSessionsPaginatesWithACursorAndFiltersBySlots) {
  startRoom();
  std::set<std::pair<std::string, std::string>> expected;
  for (int i = 0; i < 7; ++i) {
    std::string user = "user" + std::to_string(i);
    authed("app1", user, "dev");
    expected.insert({"app1", user});
  }
  FrameSocket& both = authed("app1", "multi", "dev");
  expected.insert({"app1", "multi"});
  ASSERT_EQ(bindResult(both, token("app2", "multi", "dev")).code(), client::ERROR_NONE);
  expected.insert({"app2", "multi"});
  FrameSocket& pending = connect();  // not authenticated: not a session
  (void)pending;

  std::set<std::pair<std::string, std::string>> seen;
  std::map<std::string, uint64_t> conn_of_user;
  ListSessionsRequest req;
  req.set_limit(2);
  int pages = 0;
  for (;;) {
    ListSessionsResponse resp;
    ASSERT_TRUE(room_->rpcService().listSessions(req, &resp).isOk());
    ASSERT_LT(++pages, 50);
    EXPECT_LE(resp.sessions_size(), 2 + 1);  // a connection's apps stay on one page
    for (const Session& s : resp.sessions()) {
      EXPECT_TRUE(seen.insert({s.app(), s.user()}).second) << "listed twice: " << s.user();
      EXPECT_EQ(s.room_id(), room_->roomId());
      EXPECT_EQ(s.room_address(), room_->rpcAddress().toString());
      EXPECT_EQ(s.device(), "dev");
      EXPECT_GT(s.since_ms(), 0);
      auto [it, inserted] = conn_of_user.emplace(s.user(), s.conn_id());
      if (!inserted) {
        EXPECT_EQ(it->second, s.conn_id());  // multi: one connection, two apps
      }
    }
    if (resp.done()) break;
    EXPECT_GT(resp.next_cursor(), req.cursor());
    req.set_cursor(resp.next_cursor());
  }
  EXPECT_GE(pages, 4);
  EXPECT_EQ(seen, expected);
  std::set<uint64_t> conns;
  for (auto& [user, conn] : conn_of_user)
    conns.insert(conn);
  EXPECT_EQ(conns.size(), 8u);

  // Only the slots asked for.
  const uint32_t slot = reg::slotOf("app1", "user3");
  ListSessionsRequest by_slot;
  by_slot.add_slots(slot);
  ListSessionsResponse resp;
  ASSERT_TRUE(room_->rpcService().listSessions(by_slot, &resp).isOk());
  EXPECT_TRUE(resp.done());
  size_t want = 0;
  for (auto& [app, user] : expected)
    want += reg::slotOf(app, user) == slot;
  EXPECT_EQ(static_cast<size_t>(resp.sessions_size()), want);
  bool found = false;
  for (const Session& s : resp.sessions()) {
    EXPECT_EQ(reg::slotOf(s.app(), s.user()), slot);
    found = found || s.user() == "user3";
  }
  EXPECT_TRUE(found);

  ListSessionsRequest bad;
  bad.add_slots(reg::kSlotCount);
  ListSessionsResponse ignored;
  EXPECT_EQ(room_->rpcService().listSessions(bad, &ignored).code(), Code::INVALID_ARGUMENT);
}

TEST_F(RoomServerTest, BindAddsAnAppOfTheSameUserAndDevice) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  client::BindResult r = bindResult(c, token("app2", "alice", "phone"));
  EXPECT_EQ(r.app(), "app2");
  EXPECT_EQ(r.code(), client::ERROR_NONE) << r.message();
  EXPECT_EQ(room_->sessionCount(), 2u);
  EXPECT_EQ(room_->connectionCount(), 1u);

  DeliverResponse resp = deliver("app2", {"alice"}, 9, "via bind");
  EXPECT_EQ(resp.connections(0), 1u);
  Frame f = expectFrame(c, Frame::kPush);
  EXPECT_EQ(f.push().app(), "app2");
  EXPECT_EQ(f.push().payload(), "via bind");
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 1u);  // the auth app still works
  expectFrame(c, Frame::kPush);

  // Binding a bound app again changes nothing.
  EXPECT_EQ(bindResult(c, token("app2", "alice", "phone")).code(), client::ERROR_NONE);
  EXPECT_EQ(room_->sessionCount(), 2u);
  EXPECT_EQ(deliver("app2", {"alice"}).connections(0), 1u);  // not written twice
  expectFrame(c, Frame::kPush);
  EXPECT_TRUE(roundTrip(c).empty());
}

TEST_F(RoomServerTest, BindForAnotherUserOrDeviceIsRefusedInBindResult) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  client::BindResult other_user = bindResult(c, token("app2", "mallory", "phone"));
  EXPECT_EQ(other_user.app(), "app2");
  EXPECT_EQ(other_user.code(), client::ERROR_BAD_TOKEN);
  EXPECT_NE(other_user.message().find("mallory"), std::string::npos) << other_user.message();
  client::BindResult other_device = bindResult(c, token("app2", "alice", "tablet"));
  EXPECT_EQ(other_device.code(), client::ERROR_DEVICE_MISMATCH);
  // The same user on another app is checked too when that app is already bound.
  client::BindResult bound_other_user = bindResult(c, token("app1", "mallory", "phone"));
  EXPECT_EQ(bound_other_user.code(), client::ERROR_BAD_TOKEN);
  client::BindResult unknown = bindResult(
      c,
      auth::mintToken("whatever-secret-123", {"nope", "alice", "phone", std::time(nullptr) + 60}));
  EXPECT_EQ(unknown.code(), client::ERROR_UNKNOWN_APP);
  client::BindResult expired = bindResult(c, token("app2", "alice", "phone", -5));
  EXPECT_EQ(expired.code(), client::ERROR_TOKEN_EXPIRED);
  EXPECT_EQ(bindResult(c, "garbage").code(), client::ERROR_BAD_TOKEN);
  // None of them changed the connection, which stays open.
  EXPECT_EQ(room_->sessionCount(), 1u);
  EXPECT_EQ(deliver("app2", {"alice"}).connections(0), 0u);
  EXPECT_EQ(deliver("app2", {"mallory"}).connections(0), 0u);
  EXPECT_TRUE(roundTrip(c).empty());
}

TEST_F(RoomServerTest, UnbindRemovesTheApp) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  ASSERT_EQ(bindResult(c, token("app2", "alice", "phone")).code(), client::ERROR_NONE);
  Frame unbind;
  unbind.mutable_unbind()->set_app("app2");
  c.send(unbind);
  EXPECT_TRUE(roundTrip(c).empty());  // no answer on success
  EXPECT_EQ(room_->sessionCount(), 1u);
  EXPECT_EQ(deliver("app2", {"alice"}).connections(0), 0u);
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 1u);
  expectFrame(c, Frame::kPush);

  // Unbinding an app that is not bound is an error frame, not a close.
  unbind.mutable_unbind()->set_app("app3");
  c.send(unbind);
  auto frames = roundTrip(c);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].error().code(), client::ERROR_NOT_BOUND);
  EXPECT_EQ(room_->connectionCount(), 1u);
}

TEST_F(RoomServerTest, TooManyAppsAreRefused) {
  RoomOptions o = defaultOptions();
  o.max_apps_per_connection = 2;
  startRoom(o);
  FrameSocket& c = authed("app1", "alice", "phone");
  EXPECT_EQ(bindResult(c, token("app2", "alice", "phone")).code(), client::ERROR_NONE);
  client::BindResult third = bindResult(c, token("app3", "alice", "phone"));
  EXPECT_EQ(third.code(), client::ERROR_TOO_MANY_APPS);
  EXPECT_EQ(third.app(), "app3");
  EXPECT_EQ(room_->sessionCount(), 2u);
  EXPECT_EQ(deliver("app3", {"alice"}).connections(0), 0u);
}

TEST_F(RoomServerTest, UpstreamIsRefusedUntilForwardingExists) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  Frame up;
  up.mutable_upstream()->set_seq(17);
  up.mutable_upstream()->set_payload("data");
  c.send(up);
  Frame ack = expectFrame(c, Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().seq(), 17u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  up.mutable_upstream()->set_seq(18);
  up.mutable_upstream()->set_app("app2");  // not bound
  c.send(up);
  ack = expectFrame(c, Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().seq(), 18u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_NOT_BOUND);
}

TEST_F(RoomServerTest, UnknownFrameTypesAreIgnored) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  // A Frame whose only field is number 99 (a body type from a newer client).
  const std::string body = std::string(
      "\x9a\x06\x03"
      "abc",
      6);
  Frame probe;
  ASSERT_TRUE(probe.ParseFromString(body));
  ASSERT_EQ(probe.body_case(), Frame::BODY_NOT_SET);
  std::string bytes(4, '\0');
  net::encodeLengthPrefix(static_cast<uint32_t>(body.size()), bytes.data());
  c.sendRaw(bytes + body);
  c.sendRaw(std::string(4, '\0'));  // an empty Frame: also no body
  EXPECT_TRUE(roundTrip(c).empty());
  EXPECT_EQ(deliver("app1", {"alice"}).connections(0), 1u);
  expectFrame(c, Frame::kPush);
}

TEST_F(RoomServerTest, ServerOnlyFramesFromAClientAreBadFrames) {
  startRoom();
  std::vector<Frame> frames(4);
  frames[0].mutable_push()->set_message_id(1);
  frames[1].mutable_kick();
  frames[2].mutable_auth_result();
  frames[3].mutable_reconnect();
  for (const Frame& f : frames) {
    FrameSocket& c = authed("app1", "alice", "phone");
    c.send(f);
    expectErrorAndClose(c, client::ERROR_BAD_FRAME);
  }
  EXPECT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s));
  EXPECT_EQ(room_->sessionCount(), 0u);
}

TEST_F(RoomServerTest, GarbageAndOversizedFramesClose) {
  RoomOptions o = defaultOptions();
  o.max_frame_bytes = 1024;
  startRoom(o);
  FrameSocket& garbage = authed("app1", "alice", "phone");
  garbage.sendRaw(std::string("\x00\x00\x00\x03\xff\xff\xff", 7));
  expectErrorAndClose(garbage, client::ERROR_BAD_FRAME);
  FrameSocket& big = authed("app1", "bob", "phone");
  std::string header(4, '\0');
  net::encodeLengthPrefix(5000, header.data());
  big.sendRaw(header);
  expectErrorAndClose(big, client::ERROR_FRAME_TOO_LARGE);
}

TEST_F(RoomServerTest, IpRulesRefuseWithAnErrorFrame) {
  RoomOptions o = defaultOptions();
  o.ip_filter.max_connections_per_ip = 1;
  startRoom(o);
  FrameSocket& first = authed("app1", "alice", "phone");
  FrameSocket& second = connect();
  expectErrorAndClose(second, client::ERROR_TOO_MANY_CONNECTIONS);
  first.close();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s));
  authed("app1", "alice", "phone");  // the slot was released
}

TEST_F(RoomServerTest, RefusedConnectionsAreGoneWithoutWaitingForTheClient) {
  // A refusal is not counted against its address, so it must not hold a descriptor until
  // the client closes: one address connecting R times a second would hold ~5 R of them.
  RoomOptions o = defaultOptions();
  o.ip_filter.max_connections_per_ip = 1;
  startRoom(o);
  authed("app1", "alice", "phone");
  FrameSocket& refused = connect();
  Frame f = expectFrame(refused, Frame::kError);
  EXPECT_EQ(f.error().code(), client::ERROR_TOO_MANY_CONNECTIONS);
  // The client never closes its end; the room has let go of the connection anyway.
  EXPECT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 1; }, 2s, testing::kPoll))
      << "the refused connection is still held by the room";
  EXPECT_TRUE(loop_.runUntil([&] { return refused.closed(); }, 2s, testing::kPoll));
}

TEST_F(RoomServerTest, DeniedAddressIsForbidden) {
  RoomOptions o = defaultOptions();
  o.ip_filter.deny_cidrs = {"127.0.0.0/8"};
  startRoom(o);
  expectErrorAndClose(connect(), client::ERROR_FORBIDDEN);
}

TEST_F(RoomServerTest, DrainSpreadsReconnectsAndCallsBackWhenEveryoneLeft) {
  startRoom();
  std::vector<FrameSocket*> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(&authed("app1", "u" + std::to_string(i), "d"));
  auto drained = std::make_shared<bool>(false);  // outlives a failed test: the room posts it
  room_->drain(4000ms, 30s, [drained] { *drained = true; });
  EXPECT_TRUE(room_->draining());
  std::vector<uint32_t> delays;
  for (FrameSocket* c : clients) {
    Frame f = expectFrame(*c, Frame::kReconnect);
    EXPECT_FALSE(f.reconnect().reason().empty());
    delays.push_back(f.reconnect().delay_ms());
  }
  std::sort(delays.begin(), delays.end());
  EXPECT_EQ(delays, (std::vector<uint32_t>{0, 1000, 2000, 3000}));

  // Sessions stay reachable until their clients move.
  EXPECT_EQ(deliver("app1", {"u0", "u1", "u2", "u3"}).connections(3), 1u);
  for (FrameSocket* c : clients)
    expectFrame(*c, Frame::kPush);

  for (size_t i = 0; i + 1 < clients.size(); ++i)
    clients[i]->close();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 1; }, 5s));
  EXPECT_FALSE(*drained);
  clients.back()->close();
  ASSERT_TRUE(loop_.runUntil([&] { return *drained; }, 5s));
  EXPECT_EQ(room_->connectionCount(), 0u);
  EXPECT_EQ(room_->sessionCount(), 0u);
}

TEST_F(RoomServerTest, DrainRefusesConnectionsThatHaveNotAuthenticated) {
  startRoom();
  FrameSocket& pending = connect();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 1; }, 5s, testing::kPoll));
  auto drained = std::make_shared<bool>(false);
  room_->drain(1000ms, 30s, [drained] { *drained = true; });
  expectErrorAndClose(pending, client::ERROR_DRAINING);
  ASSERT_TRUE(loop_.runUntil([&] { return *drained; }, 5s));
}

TEST_F(RoomServerTest, DrainClosesClientsThatDoNotLeaveByTheDeadline) {
  startRoom();
  FrameSocket& stubborn = authed("app1", "alice", "phone");
  auto drained = std::make_shared<bool>(false);
  room_->drain(0ms, 300ms, [drained] { *drained = true; });
  EXPECT_EQ(expectFrame(stubborn, Frame::kReconnect).reconnect().delay_ms(), 0u);
  EXPECT_TRUE(waitClosed(stubborn));
  ASSERT_TRUE(loop_.runUntil([&] { return *drained; }, 5s));
}

TEST_F(RoomServerTest, DrainWithNoClientsCallsBackOnALaterTurn) {
  startRoom();
  auto drained = std::make_shared<bool>(false);
  room_->drain(1000ms, 30s, [drained] { *drained = true; });
  EXPECT_FALSE(*drained);  // posted, not run inside drain()
  ASSERT_TRUE(loop_.runUntil([&] { return *drained; }, 5s));
}

}  // namespace
}  // namespace push::room
