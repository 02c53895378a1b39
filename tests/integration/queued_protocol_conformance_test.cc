// Conformance of queued's TCP protocol with nsqd v1.3.0 (harness: queued_conformance.h): the
// magic, every command's errors with nsqd's texts, IDENTIFY, FIN/REQ/TOUCH, timeouts, deferred
// messages, channels and consumers, CLS, heartbeats, line limits.
#include <set>
#include <string>
#include <thread>

#include "tests/integration/queued_conformance.h"

namespace push::testing::conformance {
namespace {

TEST_P(QueuedConformance, BadMagicIsAnsweredWithBadProtocolAndClosed) {
  auto conn = connect(false);
  conn->send("  V1");
  expectFatal(*conn, "E_BAD_PROTOCOL");
}

TEST_P(QueuedConformance, UnknownAndEmptyCommandsAreFatal) {
  auto conn = connect();
  conn->command("FOO bar");
  expectFatal(*conn, "E_INVALID invalid command FOO");
  auto empty = connect();
  empty->command("");
  expectFatal(*empty, "E_INVALID invalid command ");
}

TEST_P(QueuedConformance, PublishErrorsCarryNsqdsTexts) {
  auto a = connect();
  a->command("PUB");
  expectFatal(*a, "E_INVALID PUB insufficient number of parameters");
  auto b = connect();
  b->withBody("PUB bad!", "x");
  expectFatal(*b, "E_BAD_TOPIC PUB topic name \"bad!\" is not valid");
  auto c = connect();
  c->withBody("MPUB bad!", "x");
  expectFatal(*c, "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"bad!\" is not valid");
  auto d = connect();
  d->send("PUB t\n" + be32(0));
  expectFatal(*d, "E_BAD_MESSAGE PUB invalid message body size 0");
  auto e = connect();
  e->send("PUB t\n" + be32(1048577));
  expectFatal(*e, "E_BAD_MESSAGE PUB message too big 1048577 > 1048576");
  auto f = connect();
  f->send("DPUB t 3600001\n" + be32(1) + "x");
  expectFatal(*f, "E_INVALID DPUB timeout 3600001 out of range 0-3600000");
  auto g = connect();
  g->send("MPUB t\n" + be32(4) + be32(0));
  expectFatal(*g, "E_BAD_BODY MPUB invalid message count 0");
  auto h = connect();
  std::string name(65, 'a');
  h->withBody("PUB " + name, "x");
  expectFatal(*h, "E_BAD_TOPIC PUB topic name \"" + name + "\" is not valid");
}

TEST_P(QueuedConformance, NamesFollowNsqdsRules) {
  publish(std::string(64, 'a'), "x");
  publish("a.b-c_D9", "x");
  publish("e#ephemeral", "x");
  auto conn = connect();
  conn->withBody("PUB #ephemeral", "x");
  expectFatal(*conn, "E_BAD_TOPIC PUB topic name \"#ephemeral\" is not valid");
}

TEST_P(QueuedConformance, IdentifyWithFeatureNegotiationAnswersNsqdsJson) {
  auto conn = connect();
  conn->withBody("IDENTIFY", R"({"client_id":"c","feature_negotiation":true})");
  Frame frame = conn->read();
  EXPECT_EQ(frame.type, kResponse);
  EXPECT_EQ(frame.data,
            R"({"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,)"
            R"("msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,)"
            R"("max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,)"
            R"("output_buffer_size":16384,"output_buffer_timeout":250})");
  conn->withBody("IDENTIFY", "{}");  // repeated before SUB: accepted
  EXPECT_EQ(conn->read().data, "OK");
}

TEST_P(QueuedConformance, IdentifyValidationErrorsInNsqdsOrder) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"heartbeat_interval":999})", "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid"},
      {R"({"output_buffer_timeout":24,"output_buffer_size":63})",
       "E_BAD_BODY IDENTIFY output buffer timeout (24) is invalid"},
      {R"({"output_buffer_size":63})", "E_BAD_BODY IDENTIFY output buffer size (63) is invalid"},
      {R"({"sample_rate":100})", "E_BAD_BODY IDENTIFY sample rate (100) is invalid"},
      {R"({"msg_timeout":999})", "E_BAD_BODY IDENTIFY msg timeout (999) is invalid"},
      {R"({"heartbeat_interval":1.5})", "E_BAD_BODY IDENTIFY failed to decode JSON body"},
      {"[1]", "E_BAD_BODY IDENTIFY failed to decode JSON body"},
  };
  for (const auto& [body, error] : cases) {
    auto conn = connect();
    conn->withBody("IDENTIFY", body);
    expectFatal(*conn, error);
  }
  auto upper = connect();
  upper->withBody("IDENTIFY", R"({"FEATURE_NEGOTIATION":true,"MSG_TIMEOUT":5000})");
  Frame frame = upper->read();
  EXPECT_NE(frame.data.find(R"("msg_timeout":5000)"), std::string::npos) << frame.data;
}

TEST_P(QueuedConformance, StateErrors) {
  auto a = connect();
  a->command("RDY 1");
  expectFatal(*a, "E_INVALID cannot RDY in current state");
  auto b = connect();
  b->command("FIN 0000000000000000");
  expectFatal(*b, "E_INVALID cannot FIN in current state");
  auto c = connect();
  c->command("CLS");
  expectFatal(*c, "E_INVALID cannot CLS in current state");
  auto d = connect();
  d->subscribe("t", "c", -1);
  d->command("SUB t c");
  expectFatal(*d, "E_INVALID cannot SUB in current state");
  auto e = connect();
  e->withBody("IDENTIFY", R"({"heartbeat_interval":-1})");
  EXPECT_EQ(e->read().data, "OK");
  e->command("SUB t c");
  expectFatal(*e, "E_INVALID cannot SUB with heartbeats disabled");
  auto f = connect();
  f->command("SUB t");
  expectFatal(*f, "E_INVALID SUB insufficient number of parameters");
  auto g = connect();
  g->command("SUB t bad!");
  expectFatal(*g, "E_BAD_CHANNEL SUB channel name \"bad!\" is not valid");
}

TEST_P(QueuedConformance, RdyAboveTheMaximumAndUnparsableAreFatal) {
  auto a = connect();
  a->subscribe("t", "c", -1);
  a->command("RDY 2501");
  expectFatal(*a, "E_INVALID RDY count 2501 out of range 0-2500");
  auto b = connect();
  b->subscribe("t", "c", -1);
  b->command("RDY -1");
  expectFatal(*b, "E_INVALID RDY could not parse count -1");
}

TEST_P(QueuedConformance, FinOfAnUnknownIdIsNotFatal) {
  auto conn = connect();
  conn->subscribe("t", "c", 0);
  conn->command("FIN 0000000000000000");
  Frame frame = conn->read();
  EXPECT_EQ(frame.type, kError);
  EXPECT_EQ(frame.data, "E_FIN_FAILED FIN 0000000000000000 failed ID not in flight");
  conn->command("REQ 0000000000000000 0");
  EXPECT_EQ(conn->read().data, "E_REQ_FAILED REQ 0000000000000000 failed ID not in flight");
  conn->command("TOUCH 0000000000000000");
  EXPECT_EQ(conn->read().data, "E_TOUCH_FAILED TOUCH 0000000000000000 failed ID not in flight");
  conn->withBody("PUB t", "still open");
  EXPECT_EQ(conn->read().data, "OK");
  conn->command("FIN 123");
  expectFatal(*conn, "E_INVALID invalid message ID");
}

TEST_P(QueuedConformance, FinOfAnotherClientsMessageSaysItIsNotOwned) {
  auto owner = connect();
  owner->subscribe("t", "c", 1);
  publish("t", "m");
  Msg msg = owner->message();
  ASSERT_EQ(msg.body, "m");
  auto other = connect();
  other->subscribe("t", "c", 0);
  other->command("FIN " + msg.id);
  EXPECT_EQ(other->read().data,
            "E_FIN_FAILED FIN " + msg.id + " failed client does not own message");
}

TEST_P(QueuedConformance, MessageFrameCarriesTimestampAttemptsIdAndBody) {
  auto consumer = connect();
  consumer->subscribe("t", "c", 1);
  auto before = std::chrono::system_clock::now();
  publish("t", "hello");
  Msg msg = consumer->message();
  EXPECT_EQ(msg.body, "hello");
  EXPECT_EQ(msg.attempts, 1);
  EXPECT_EQ(msg.id.size(), 16u);
  int64_t published_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count();
  EXPECT_NEAR(static_cast<double>(msg.timestamp), static_cast<double>(published_ns), 5e9);
  consumer->command("FIN " + msg.id);
  consumer->command("NOP");
  EXPECT_TRUE(consumer->read(300ms).timed_out) << "FIN answers nothing";
}

TEST_P(QueuedConformance, InFlightTimeoutRedeliversWithAttemptsPlusOne) {
  auto consumer = connect();
  consumer->subscribe("t", "c", 1, R"({"msg_timeout":1000})");
  publish("t", "again");
  Msg first = consumer->message();
  ASSERT_EQ(first.attempts, 1);
  auto start = std::chrono::steady_clock::now();
  // nsqd scans a channel created in the last 5 s only after its next refresh of the channel
  // list, so its first redelivery can take up to ~6 s; queued's comes after the timeout.
  Msg second = consumer->message(8s);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.attempts, 2);
  EXPECT_GE(waited, 900ms);
  consumer->command("FIN " + second.id);
  auto stats = http("GET", "/stats?format=json&topic=t");
  EXPECT_NE(stats.body.find(R"("requeue_count":0,"timeout_count":1,)"), std::string::npos)
      << stats.body;
}

TEST_P(QueuedConformance, TouchKeepsAMessageInFlight) {
  auto consumer = connect();
  consumer->subscribe("t", "c", 1, R"({"msg_timeout":1000})");
  publish("t", "touched");
  Msg msg = consumer->message();
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(500ms);  // the timeout is what is tested: time must pass
    consumer->command("TOUCH " + msg.id);
  }
  consumer->command("FIN " + msg.id);
  consumer->command("NOP");
  EXPECT_TRUE(consumer->read(1500ms).timed_out) << "a touched message must not come back";
}

TEST_P(QueuedConformance, RequeueAndDeferredPublish) {
  auto consumer = connect();
  consumer->subscribe("t", "c", 1);
  publish("t", "r");
  Msg msg = consumer->message();
  consumer->command("REQ " + msg.id + " 0");
  Msg again = consumer->message();
  EXPECT_EQ(again.id, msg.id);
  EXPECT_EQ(again.attempts, 2);
  consumer->command("REQ " + again.id + " 800");
  EXPECT_TRUE(consumer->read(400ms).timed_out) << "a REQ with a delay waits";
  // nsqd looks at a channel's deferred messages only after its 5 s channel-list refresh
  // (see InFlightTimeoutRedeliversWithAttemptsPlusOne): allow for it.
  Msg third = consumer->message(8s);
  EXPECT_EQ(third.attempts, 3);
  consumer->command("FIN " + third.id);

  auto producer = connect();
  producer->withBody("DPUB t 700", "later");
  EXPECT_EQ(producer->read().data, "OK");
  auto start = std::chrono::steady_clock::now();
  Msg deferred = consumer->message(8s);
  EXPECT_EQ(deferred.body, "later");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 600ms);
  EXPECT_EQ(deferred.attempts, 1);
}

TEST_P(QueuedConformance, ChannelsEachGetEveryMessageAndConsumersShareOne) {
  auto a1 = connect();
  a1->subscribe("t", "a", 100);
  auto a2 = connect();
  a2->subscribe("t", "a", 100);
  auto b = connect();
  b->subscribe("t", "b", 100);
  auto producer = connect();
  std::string mpub = be32(20);
  for (int i = 0; i < 20; ++i)
    mpub += be32(2) + (i < 10 ? "0" : "1") + std::to_string(i % 10);
  producer->withBody("MPUB t", mpub);
  EXPECT_EQ(producer->read().data, "OK");
  std::set<std::string> on_b, on_a;
  for (int i = 0; i < 20; ++i)
    on_b.insert(b->message().body);
  EXPECT_EQ(on_b.size(), 20u);
  // Channel a's consumers split the 20 between them; together they have all of them.
  for (int i = 0; i < 20; ++i) {
    Frame frame = a1->read(300ms);
    if (frame.type != kMessage) break;
    on_a.insert(frame.data.substr(26));
  }
  for (int i = 0; i < 20; ++i) {
    Frame frame = a2->read(300ms);
    if (frame.type != kMessage) break;
    on_a.insert(frame.data.substr(26));
  }
  EXPECT_EQ(on_a.size(), 20u);
}

TEST_P(QueuedConformance, ClsAnswersCloseWait) {
  auto conn = connect();
  conn->subscribe("t", "c", 1);
  conn->command("CLS");
  EXPECT_EQ(conn->read().data, "CLOSE_WAIT");
  conn->command("RDY 5");  // ignored while closing
  conn->withBody("PUB t", "x");
  EXPECT_EQ(conn->read().data, "OK");
}

TEST_P(QueuedConformance, HeartbeatsAndAClientThatStopsAnsweringIsClosed) {
  auto conn = connect();
  conn->withBody("IDENTIFY", R"({"heartbeat_interval":1000})");
  EXPECT_EQ(conn->read().data, "OK");
  Frame beat = conn->read(2s, true);
  EXPECT_EQ(beat.data, "_heartbeat_");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(conn->closedWithin(4s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);

  auto alive = connect();
  alive->withBody("IDENTIFY", R"({"heartbeat_interval":1000})");
  EXPECT_EQ(alive->read().data, "OK");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(alive->read(2s, true).data, "_heartbeat_");
    alive->command("NOP");
  }
  alive->withBody("PUB t", "x");
  EXPECT_EQ(alive->read().data, "OK");
}

// nsqd hands a sampling consumer a message when rand(0..99) <= sample_rate and drops the
// others from the channel: with 30, about 31% of them arrive and nothing stays queued.
TEST_P(QueuedConformance, SampleRateDeliversASampleAndDropsTheRest) {
  auto consumer = connect();
  consumer->subscribe("t", "c", 2500, R"({"sample_rate":30})");
  auto producer = connect();
  std::string mpub = be32(1000);
  for (int i = 0; i < 1000; ++i)
    mpub += be32(4) + "m" + std::to_string(100 + i % 900);
  producer->withBody("MPUB t", mpub);
  EXPECT_EQ(producer->read().data, "OK");
  int received = 0;
  while (!consumer->message(1s).id.empty())
    ++received;
  EXPECT_GT(received, 200);
  EXPECT_LT(received, 450);
  auto stats = http("GET", "/stats?format=json&topic=t&channel=c");
  EXPECT_NE(stats.body.find(R"("depth":0,)"), std::string::npos) << stats.body;
  EXPECT_NE(stats.body.find(R"("in_flight_count":)" + std::to_string(received) + ","),
            std::string::npos)
      << stats.body;
}

TEST_P(QueuedConformance, ALineLongerThan16KiBClosesSilently) {
  auto conn = connect();
  conn->command("NOP " + std::string(16400, 'x'));
  Frame frame = conn->read(3s);
  EXPECT_EQ(frame.type, -1);
  EXPECT_FALSE(frame.timed_out);
}

INSTANTIATE_TEST_SUITE_P(Daemons, QueuedConformance, ::testing::Values("queued", "nsqd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace push::testing::conformance
