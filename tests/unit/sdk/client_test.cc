#include "sdk/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include "common/net/host_resolver.h"
#include "proto/client.pb.h"
#include "tests/unit/net/net_test_util.h"
#include "tests/unit/sdk/fake_room.h"
#include "tests/unit/sdk/sdk_test_util.h"

namespace push::sdk::testing {
namespace {

using ClientTest = ClientTestBase;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(ClientTest, AuthenticatesAndGoesOnline) {
  startClient(options());
  ASSERT_TRUE(online());
  ASSERT_EQ(room_.accepted(), 1u);
  const client::Auth& auth = room_.conn(0).auths.at(0);
  EXPECT_EQ(auth.token(), "tok");
  EXPECT_EQ(auth.network(), client::NETWORK_WIFI);
  EXPECT_EQ(auth.client_version(), "push-sdk-cpp/0.1");
  EXPECT_EQ(room_.conn(0).frames.at(0), client::Frame::kAuth);  // Auth comes first

  auto states = rec_.states();
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].first, State::Connecting);
  EXPECT_EQ(states[0].second, "server=" + room_.address());
  EXPECT_EQ(states[1].first, State::Authenticating);
  EXPECT_EQ(states[2].first, State::Online);
  EXPECT_TRUE(contains(states[2].second, "room=fake-0")) << states[2].second;
  EXPECT_TRUE(contains(states[2].second, "heartbeat=1")) << states[2].second;
  EXPECT_EQ(client_->state(), State::Online);
}

TEST_F(ClientTest, QosOnePushIsDeliveredOnceAndAckedAfterTheCallbackReturned) {
  Gate gate;
  rec_.on_message_hook = [&](const Message&) { gate.wait(); };
  startClient(options());
  ASSERT_TRUE(online());
  room_.push(room_.conn(0), 7, "demo", "hello", 1);
  ASSERT_TRUE(until([&] { return gate.waiting(); }));
  // The callback has not returned: no Ack may have been written yet.
  EXPECT_FALSE(until([&] { return !room_.conn(0).acked.empty(); }, 300ms));
  gate.open();
  ASSERT_TRUE(until([&] { return !room_.conn(0).acked.empty(); }));
  EXPECT_EQ(room_.conn(0).acked, std::vector<uint64_t>{7});
  auto messages = rec_.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].id, 7u);
  EXPECT_EQ(messages[0].app, "demo");
  EXPECT_EQ(messages[0].payload, "hello");
  EXPECT_EQ(messages[0].qos, 1u);
  EXPECT_EQ(messages[0].created_ms, 1700000000000u);
}

TEST_F(ClientTest, DuplicateIsNotDeliveredAgainButAckedAgain) {
  startClient(options());
  ASSERT_TRUE(online());
  FakeRoom::Conn& c = room_.conn(0);
  room_.push(c, 7, "demo", "one", 1);
  room_.push(c, 8, "demo", "fire and forget", 0);
  ASSERT_TRUE(until([&] { return c.acked.size() == 1; }));
  room_.push(c, 7, "demo", "one", 1);  // the ack was "lost": the platform sends it again
  ASSERT_TRUE(until([&] { return c.acked.size() == 2; }));
  EXPECT_EQ(c.acked, (std::vector<uint64_t>{7, 7}));
  EXPECT_EQ(rec_.messageCount(7), 1u);
  EXPECT_EQ(rec_.messageCount(8), 1u);  // qos 0: delivered, never acked
  EXPECT_EQ(rec_.messages().size(), 2u);
}

TEST_F(ClientTest, AcksOfOneReadGoOutInOneFrame) {
  startClient(options());
  ASSERT_TRUE(online());
  FakeRoom::Conn& c = room_.conn(0);
  for (uint64_t id = 1; id <= 5; ++id)
    room_.push(c, id, "demo", "m", 1);  // one write
  ASSERT_TRUE(until([&] { return c.acked.size() == 5; }));
  EXPECT_EQ(c.acked, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_LE(c.ack_frames, 2);  // normally 1; 2 if the kernel split the write
}

TEST_F(ClientTest, ManualAckWaitsForTheApp) {
  ClientOptions o = options();
  o.auto_ack = false;
  startClient(o);
  ASSERT_TRUE(online());
  FakeRoom::Conn& c = room_.conn(0);
  room_.push(c, 5, "demo", "m", 1);
  ASSERT_TRUE(until([&] { return rec_.messageCount(5) == 1; }));
  room_.push(c, 5, "demo", "m", 1);  // a duplicate before the app acked: not acked for it
  EXPECT_FALSE(until([&] { return !c.acked.empty(); }, 300ms));
  ASSERT_TRUE(client_->ack(5).isOk());
  ASSERT_TRUE(until([&] { return c.acked.size() == 1; }));
  room_.push(c, 5, "demo", "m", 1);  // a duplicate after the app acked: acked again
  ASSERT_TRUE(until([&] { return c.acked.size() == 2; }));
  EXPECT_EQ(rec_.messageCount(5), 1u);
}

TEST_F(ClientTest, PingsAtTheProposedInterval) {
  room_.heartbeat_s = 1;
  startClient(options());
  ASSERT_TRUE(online());
  FakeRoom::Conn& c = room_.conn(0);
  ASSERT_TRUE(until([&] { return c.ping_ms.size() >= 3; }, 6s));
  std::vector<int64_t> gaps = {c.ping_ms[0] - c.auth_result_ms, c.ping_ms[1] - c.ping_ms[0],
                               c.ping_ms[2] - c.ping_ms[1]};
  for (int64_t gap : gaps) {
    EXPECT_GE(gap, 700);
    EXPECT_LE(gap, 1600);
  }
  EXPECT_EQ(room_.accepted(), 1u);  // the Pongs keep it alive
}

TEST_F(ClientTest, SilentRoomIsDetectedAfterTwoAndAHalfIntervals) {
  room_.heartbeat_s = 1;
  room_.answer_pings = false;
  startClient(options());
  ASSERT_TRUE(online());
  ASSERT_TRUE(until([&] { return room_.authenticated() >= 2; }, 8s));
  const FakeRoom::Conn& first = room_.conn(0);
  ASSERT_NE(first.closed_ms, 0);
  const int64_t silent_for = first.closed_ms - first.auth_result_ms;
  EXPECT_GE(silent_for, 2300);
  EXPECT_LE(silent_for, 3800);
  EXPECT_GE(first.ping_ms.size(), 2u);  // it asked twice before giving up
  EXPECT_EQ(rec_.errorCount(kErrorHeartbeatTimeout), 1u);
}

// The room's heartbeat proposal is kept within the client's bounds (ClientOptions): a broken
// or hostile room can make it neither ping every second nor wait forever.
TEST_F(ClientTest, NoHeartbeatProposedUsesTheDefault) {
  room_.heartbeat_s = 0;
  ClientOptions o = options();
  o.default_heartbeat_s = 45;
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_TRUE(contains(rec_.states().back().second, "heartbeat=45")) << rec_.states().back().second;
}

TEST_F(ClientTest, HugeHeartbeatProposalIsCappedAtTheMaximum) {
  room_.heartbeat_s = 1'000'000'000;
  startClient(options());  // heartbeat_max_s 3600 (the default)
  ASSERT_TRUE(online());
  EXPECT_TRUE(contains(rec_.states().back().second, "heartbeat=3600"))
      << rec_.states().back().second;
}

TEST_F(ClientTest, HeartbeatProposalBelowTheMinimumUsesTheMinimum) {
  room_.heartbeat_s = 1;
  ClientOptions o = options();
  o.heartbeat_min_s = 5;  // the default
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_TRUE(contains(rec_.states().back().second, "heartbeat=5")) << rec_.states().back().second;
  // No Ping at the proposed 1 s cadence: the first is due 5 s after the AuthResult.
  EXPECT_FALSE(until([&] { return !room_.conn(0).ping_ms.empty(); }, 2500ms));
}

// A Reconnect delay is honoured up to max_reconnect_delay.
TEST_F(ClientTest, HugeReconnectDelayIsCapped) {
  ClientOptions o = options();
  o.max_reconnect_delay = 300ms;
  startClient(o);
  ASSERT_TRUE(online());
  const int64_t asked = steadyMs();
  room_.reconnect(room_.conn(0), 1'000'000'000);  // ~11.6 days
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }, 5s));
  const int64_t waited = room_.conn(1).accepted_ms - asked;
  EXPECT_GE(waited, 250);
  EXPECT_LE(waited, 3000);
  EXPECT_EQ(client_->state(), State::Online);
}

TEST_F(ClientTest, ZeroReconnectDelayMovesAtOnce) {
  startClient(options());
  ASSERT_TRUE(online());
  const int64_t asked = steadyMs();
  room_.reconnect(room_.conn(0), 0);
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }, 5s));
  EXPECT_LE(room_.conn(1).accepted_ms - asked, 1000);
  EXPECT_EQ(rec_.stateCount(State::Backoff), 0u);
}

TEST_F(ClientTest, ReconnectsWithGrowingBackoffWhenTheRoomCloses) {
  room_.on_accept = [&](FakeRoom::Conn& c) { room_.close(c); };
  ClientOptions o = options();
  o.backoff_initial = 200ms;
  startClient(o);
  ASSERT_TRUE(until([&] { return room_.accepted() >= 4; }, 10s));
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < 4; ++i) {
    gaps.push_back(room_.conn(i).accepted_ms - room_.conn(i - 1).accepted_ms);
  }
  EXPECT_GE(gaps[0], 150);  // 200 ms +-20%
  EXPECT_GT(gaps[1], gaps[0]);
  EXPECT_GT(gaps[2], gaps[1]);
  EXPECT_LE(gaps[2], 2000);  // 800 ms +-20%, plus slack
  EXPECT_GE(rec_.stateCount(State::Backoff), 3u);
  EXPECT_GE(rec_.errorCount(kErrorConnectionLost), 3u);
}

TEST_F(ClientTest, BackoffStartsOverAfterALongEnoughConnection) {
  int closes = 0;
  room_.on_accept = [&](FakeRoom::Conn& c) {
    if (closes < 3) {
      ++closes;
      room_.close(c);
    }
  };
  ClientOptions o = options();
  o.backoff_initial = 200ms;
  o.backoff_reset_after = 300ms;
  startClient(o);
  ASSERT_TRUE(until([&] { return room_.authenticated() >= 1; }, 10s));  // after 3 failures
  FakeRoom::Conn& c = room_.conn(3);
  // Stay up past backoff_reset_after, then drop: the next delay is the initial one again.
  ASSERT_TRUE(until([&] { return c.ping_ms.size() >= 1; }, 5s));
  const int64_t dropped = steadyMs();
  room_.close(c);
  ASSERT_TRUE(until([&] { return room_.accepted() >= 5; }, 5s));
  EXPECT_LE(room_.conn(4).accepted_ms - dropped, 600);  // 200 ms +-20% (not 1600)
}

TEST_F(ClientTest, RotatesToTheNextServerOnFailure) {
  ClientOptions o = options();
  o.servers = {"127.0.0.1:1", room_.address()};  // nothing listens on port 1
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_GE(rec_.errorCount(kErrorConnectFailed), 1u);
  EXPECT_EQ(room_.accepted(), 1u);
}

// "LOCALHOST" is not special-cased (only "localhost" is): it goes through the resolver,
// which finds it in /etc/hosts (case-insensitive), with no DNS server involved.
TEST_F(ClientTest, ConnectsToAHostName) {
  const std::string port = room_.address().substr(room_.address().rfind(':') + 1);
  ClientOptions o = options();
  o.servers = {"LOCALHOST:" + port};
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_EQ(room_.accepted(), 1u);
  auto states = rec_.states();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states[0].second, "server=LOCALHOST:" + port);
}

// A name no resolver knows (".invalid" is reserved): the lookup fails or runs into
// connect_timeout; either way it is a connect failure and the next server is tried.
TEST_F(ClientTest, UnresolvableNameIsAConnectFailureAndTheNextServerIsTried) {
  ClientOptions o = options();
  o.servers = {"no-such-room.invalid:7100", room_.address()};
  o.connect_timeout = 300ms;
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_GE(rec_.errorCount(kErrorConnectFailed), 1u);
  EXPECT_EQ(room_.accepted(), 1u);
}

// One connection attempt has one deadline, connect_timeout, for the lookup and every address
// the name has (sdk/client.h): a name whose four addresses all hang (a listener whose accept
// queue is full drops the SYNs) fails after about connect_timeout, not four times it, and the
// next server is tried. The lookup is the resolver's test hook: no DNS involved.
TEST_F(ClientTest, OneAttemptHasOneDeadlineForEveryAddressOfAName) {
  net::testing::Fd listener;
  std::vector<net::testing::Fd> fillers;
  net::InetAddress hanging;
  if (!net::testing::fullListener(&listener, &fillers, &hanging)) {
    GTEST_SKIP() << "could not fill a listen backlog on this kernel";
  }
  net::HostResolver::setLookupForTest(
      [hanging](const std::string&, uint16_t) -> Result<std::vector<net::InetAddress>> {
        return std::vector<net::InetAddress>(4, hanging);
      });
  // The system lookup is back when the test ends, also when an ASSERT ends it early.
  struct HookReset {
    ~HookReset() { net::HostResolver::setLookupForTest(nullptr); }
  } const hook_reset;
  ClientOptions o = options();
  o.servers = {"four-addresses.invalid:7100", room_.address()};
  o.connect_timeout = 1s;
  const auto begin = std::chrono::steady_clock::now();
  startClient(o);
  ASSERT_TRUE(until([&] { return rec_.errorCount(kErrorConnectFailed) >= 1; }, 10s));
  const auto failed_after = std::chrono::steady_clock::now() - begin;
  ASSERT_TRUE(online());
  EXPECT_EQ(room_.accepted(), 1u);
  EXPECT_GE(failed_after, 900ms);
  // Four full connect_timeouts (the old behaviour) would be 4 s.
  EXPECT_LT(failed_after, 3s);
}

TEST_F(ClientTest, BadTokenWaitsForANewToken) {
  room_.on_auth = [&](FakeRoom::Conn& c, const client::Auth& auth) {
    if (auth.token() == "good") {
      room_.sendAuthResult(c);
    } else {
      room_.sendError(c, client::ERROR_BAD_TOKEN, "signature does not match", true);
    }
  };
  ClientOptions o = options();
  o.token = "bad";
  startClient(o);
  ASSERT_TRUE(until([&] { return rec_.saw(State::NeedsToken); }));
  EXPECT_EQ(client_->state(), State::NeedsToken);
  EXPECT_EQ(rec_.errorCount(client::ERROR_BAD_TOKEN), 1u);
  // No reconnect with the same token, even long after the backoff would have fired.
  EXPECT_FALSE(until([&] { return room_.accepted() >= 2; }, 1s));
  ASSERT_TRUE(client_->setToken("good").isOk());
  ASSERT_TRUE(online());
  ASSERT_EQ(room_.accepted(), 2u);
  EXPECT_EQ(room_.conn(1).auths.at(0).token(), "good");
}

TEST_F(ClientTest, KickedClientDoesNotReconnect) {
  startClient(options());
  ASSERT_TRUE(online());
  room_.kick(room_.conn(0), "operator said so");
  ASSERT_TRUE(until([&] { return rec_.saw(State::Kicked); }));
  ASSERT_TRUE(until([&] { return !room_.conn(0).open(); }));
  EXPECT_FALSE(until([&] { return room_.accepted() >= 2; }, 1s));
  EXPECT_EQ(client_->state(), State::Kicked);
  auto states = rec_.states();
  EXPECT_EQ(states.back().second, "reason=operator said so");
  // The app decides to come back.
  ASSERT_TRUE(client_->connect().isOk());
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  ASSERT_TRUE(until([&] { return rec_.stateCount(State::Online) == 2; }));
}

TEST_F(ClientTest, ReconnectOpensTheNewConnectionBeforeClosingTheOld) {
  room_.on_auth = [&](FakeRoom::Conn& c, const client::Auth&) {
    room_.sendAuthResult(c);
    if (c.index == 1) {
      // The same message on both connections while both are open.
      room_.push(c, 42, "demo", "both", 1);
      room_.push(room_.conn(0), 42, "demo", "both", 1);
    }
  };
  startClient(options());
  ASSERT_TRUE(online());
  const int64_t asked = steadyMs();
  room_.reconnect(room_.conn(0), 200);
  FakeRoom::Conn& old_conn = room_.conn(0);
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2 && !old_conn.open(); }));
  FakeRoom::Conn& new_conn = room_.conn(1);
  EXPECT_GE(new_conn.accepted_ms - asked, 180);                  // waited for delay_ms
  EXPECT_LE(new_conn.auth_result_ms, old_conn.closed_ms);        // make before break
  EXPECT_GE(old_conn.closed_ms - new_conn.auth_result_ms, 400);  // switch_grace 500 ms
  ASSERT_TRUE(until([&] { return !new_conn.acked.empty(); }));
  EXPECT_EQ(rec_.messageCount(42), 1u);
  EXPECT_EQ(rec_.stateCount(State::Online), 2u);
  EXPECT_TRUE(contains(rec_.states().back().second, "room=fake-1"));
  EXPECT_EQ(client_->state(), State::Online);
  // Nothing but the old connection went away.
  EXPECT_FALSE(until([&] { return room_.accepted() > 2; }, 300ms));
  EXPECT_EQ(rec_.stateCount(State::Backoff), 0u);
}

TEST_F(ClientTest, UpstreamGetsItsAck) {
  startClient(options());
  auto first = client_->sendUpstream("", "queued before online");
  ASSERT_TRUE(first.isOk());
  ASSERT_TRUE(online());
  auto second = client_->sendUpstream("demo", "hello");
  ASSERT_TRUE(second.isOk());
  EXPECT_NE(*first, *second);
  ASSERT_TRUE(until([&] { return rec_.upstreamAcks().size() == 2; }));
  auto acks = rec_.upstreamAcks();
  EXPECT_EQ(acks[0].seq, *first);
  EXPECT_EQ(acks[1].seq, *second);
  EXPECT_EQ(acks[0].code, 0);
  EXPECT_EQ(acks[1].code, 0);
  const auto& ups = room_.conn(0).upstreams;
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[0].payload(), "queued before online");
  EXPECT_EQ(ups[0].app(), "");
  EXPECT_EQ(ups[1].payload(), "hello");
  EXPECT_EQ(ups[1].app(), "demo");
}

TEST_F(ClientTest, UnansweredUpstreamFailsWhenTheConnectionDrops) {
  room_.answer_upstream = false;
  startClient(options());
  ASSERT_TRUE(online());
  auto seq = client_->sendUpstream("", "lost?");
  ASSERT_TRUE(seq.isOk());
  ASSERT_TRUE(until([&] { return room_.conn(0).upstreams.size() == 1; }));
  room_.close(room_.conn(0));
  ASSERT_TRUE(until([&] { return rec_.upstreamAcks().size() == 1; }));
  EXPECT_EQ(rec_.upstreamAcks()[0].seq, *seq);
  EXPECT_EQ(rec_.upstreamAcks()[0].code, kErrorConnectionLost);
}

TEST_F(ClientTest, UpstreamIsBounded) {
  ClientOptions o = options();
  o.max_pending_upstream = 2;
  o.max_frame_bytes = 1024;
  startClient(o);
  EXPECT_EQ(client_->sendUpstream("", std::string(2000, 'x')).status().code(),
            Code::INVALID_ARGUMENT);
  EXPECT_TRUE(client_->sendUpstream("", "a").isOk());
  EXPECT_TRUE(client_->sendUpstream("", "b").isOk());
  EXPECT_EQ(client_->sendUpstream("", "c").status().code(), Code::OVERLOADED);
  ASSERT_TRUE(until([&] { return rec_.upstreamAcks().size() == 2; }));
  EXPECT_TRUE(client_->sendUpstream("", "d").isOk());  // room again once answered
}

TEST_F(ClientTest, OversizedFrameFromTheRoomIsAProtocolError) {
  ClientOptions o = options();
  o.max_frame_bytes = 1024;
  startClient(o);
  ASSERT_TRUE(online());
  room_.push(room_.conn(0), 1, "demo", std::string(2000, 'x'), 1);
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  EXPECT_EQ(rec_.errorCount(kErrorProtocol), 1u);
  EXPECT_EQ(rec_.messageCount(1), 0u);
}

TEST_F(ClientTest, DrainingErrorMovesToTheNextServer) {
  room_.on_auth = [&](FakeRoom::Conn& c, const client::Auth&) {
    if (c.index == 0) {
      room_.sendError(c, client::ERROR_DRAINING, "room is draining", true);
    } else {
      room_.sendAuthResult(c);
    }
  };
  startClient(options());
  ASSERT_TRUE(online());
  EXPECT_EQ(rec_.errorCount(client::ERROR_DRAINING), 1u);
  EXPECT_EQ(rec_.stateCount(State::NeedsToken), 0u);
}

TEST_F(ClientTest, BindIsSentAgainAfterEveryReconnect) {
  auto binds = [&](const FakeRoom::Conn& c) {
    return std::count(c.frames.begin(), c.frames.end(), client::Frame::kBind);
  };
  startClient(options());
  ASSERT_TRUE(online());
  ASSERT_TRUE(client_->bind("other-app-token").isOk());
  // Answer the Bind by hand (the fake room only records it).
  ASSERT_TRUE(until([&] { return binds(room_.conn(0)) == 1; }));
  client::Frame result;
  result.mutable_bind_result()->set_app("other");
  result.mutable_bind_result()->set_code(client::ERROR_NONE);
  room_.send(room_.conn(0), result);
  ASSERT_TRUE(until([&] { return rec_.binds().size() == 1; }));
  EXPECT_EQ(std::get<0>(rec_.binds()[0]), "other");
  room_.close(room_.conn(0));
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2 && binds(room_.conn(1)) == 1; }));
}

TEST_F(ClientTest, CloseFromACallbackStopsCallbacks) {
  std::atomic<int> after_close{0};
  std::atomic<bool> closed{false};
  rec_.on_message_hook = [&](const Message&) {
    if (closed) ++after_close;
    client_->close();  // on the SDK thread: returns at once
    closed = true;
  };
  startClient(options());
  ASSERT_TRUE(online());
  for (uint64_t id = 1; id <= 3; ++id)
    room_.push(room_.conn(0), id, "demo", "m", 1);
  ASSERT_TRUE(until([&] { return !room_.conn(0).open(); }));
  EXPECT_EQ(rec_.messages().size(), 1u);
  EXPECT_EQ(after_close.load(), 0);
  EXPECT_EQ(client_->state(), State::Closed);
  EXPECT_EQ(client_->connect().code(), Code::CANCELLED);
}

TEST(ClientOptionsTest, RejectsBadOptions) {
  ClientOptions o;
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);  // no servers
  for (const char* bad :
       {"example.com", "example.com:0", "example.com:65536", "-bad.com:1", "bad-.com:1", "a..b:1",
        "bad host:1", "[::1:1", "10.1:7100", "256.1.1.1:7100", "2130706433:7100"}) {
    o.servers = {bad};
    EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT) << bad;
  }
  o.servers = {"push.example.com:7100", "Push-1.example.com.:7100", "localhost:1"};
  EXPECT_TRUE(Client::create(o).isOk());
  o.servers = {"127.0.0.1:7100"};
  EXPECT_TRUE(Client::create(o).isOk());
  o.max_frame_bytes = 10;
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
  o.max_frame_bytes = 64 * 1024;
  o.backoff_jitter = 1.5;
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
  o.backoff_jitter = 0.2;
  ASSERT_TRUE(Client::create(o).isOk());
  // Heartbeat bounds: 1..3600 s each, min <= default <= max.
  for (auto [min, def, max] :
       {std::tuple{0u, 60u, 3600u}, std::tuple{5u, 60u, 3601u}, std::tuple{61u, 60u, 3600u},
        std::tuple{5u, 60u, 59u}, std::tuple{5u, 0u, 3600u}}) {
    ClientOptions h = o;
    h.heartbeat_min_s = min;
    h.default_heartbeat_s = def;
    h.heartbeat_max_s = max;
    EXPECT_EQ(Client::create(h).status().code(), Code::INVALID_ARGUMENT)
        << min << " " << def << " " << max;
  }
  ClientOptions r = o;
  r.max_reconnect_delay = std::chrono::hours(2);
  EXPECT_EQ(Client::create(r).status().code(), Code::INVALID_ARGUMENT);
  r.max_reconnect_delay = -1ms;
  EXPECT_EQ(Client::create(r).status().code(), Code::INVALID_ARGUMENT);
  r.max_reconnect_delay = 0ms;
  EXPECT_TRUE(Client::create(r).isOk());
}

TEST(ClientOptionsTest, NamesStatesAndErrors) {
  EXPECT_STREQ(stateName(State::NeedsToken), "needs_token");
  EXPECT_STREQ(errorName(client::ERROR_BAD_TOKEN), "ERROR_BAD_TOKEN");
  EXPECT_STREQ(errorName(kErrorHeartbeatTimeout), "SDK_HEARTBEAT_TIMEOUT");
  EXPECT_STREQ(errorName(999), "UNKNOWN");
}

TEST(ClientLifecycleTest, CloseWithoutConnectAndTwice) {
  ClientOptions o;
  o.servers = {"127.0.0.1:1"};
  auto c = Client::create(o);
  ASSERT_TRUE(c.isOk());
  (*c)->close();
  (*c)->close();
  EXPECT_EQ((*c)->state(), State::Closed);
  EXPECT_EQ((*c)->setToken("t").code(), Code::CANCELLED);
}

}  // namespace
}  // namespace push::sdk::testing
