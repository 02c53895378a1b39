// Conformance of queued with nsqd v1.3.0: every case sends the same bytes to a daemon and
// expects the same bytes back, and runs twice: against queued and against the real nsqd
// (skipped with a message when ../shared/peers/nsq/nsqd is absent). The expected strings are
// what nsqd v1.3.0 answers (captured from the binary), so a case that passes on both shows
// queued answering byte for byte as nsqd does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/http/http_server.h"
#include "common/http/router.h"
#include "common/net/event_loop.h"
#include "common/queue/codec/codec_chain.h"
#include "common/queue/codec/deflate_codec.h"
#include "common/queue/codec/snappy_codec.h"
#include "common/queue/codec/tls_codec.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"
#include "tests/unit/queue/codec/tls_test_util.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kResponse = 0;
constexpr int kError = 1;
constexpr int kMessage = 2;

struct Frame {
  int type = -1;  // -1: the connection closed (or the read timed out: see `timed_out`)
  std::string data;
  bool timed_out = false;
};

struct Msg {
  int64_t timestamp = 0;
  int attempts = 0;
  std::string id;
  std::string body;
};

std::string be32(uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  return std::string(b, 4);
}

// A blocking NSQ V2 connection: raw bytes in, frames out.
class Raw {
 public:
  explicit Raw(const std::string& address, bool magic = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (magic) send("  V2");
  }
  ~Raw() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& plain) {
    if (!codec_) return sendRaw(plain);
    std::string wire;
    EXPECT_TRUE(codec_->encode(plain, &wire).isOk());
    sendRaw(wire);
  }
  void sendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  void command(const std::string& line) { send(line + "\n"); }
  void withBody(const std::string& line, const std::string& body) {
    send(line + "\n" + be32(static_cast<uint32_t>(body.size())) + body);
  }

  // The next frame, skipping heartbeats unless asked for them.
  Frame read(std::chrono::milliseconds timeout = 5s, bool keep_heartbeats = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (in_.size() >= 4) {
        uint32_t size = ntohl(*reinterpret_cast<const uint32_t*>(in_.data()));
        if (in_.size() >= 4 + size) {
          Frame frame;
          frame.type = static_cast<int>(ntohl(*reinterpret_cast<const uint32_t*>(in_.data() + 4)));
          frame.data = in_.substr(8, size - 4);
          in_.erase(0, 4 + size);
          if (!keep_heartbeats && frame.type == kResponse && frame.data == "_heartbeat_") continue;
          return frame;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Frame{-1, "", true};
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return Frame{-1, "", true};
      char buffer[65536];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return Frame{};
      receive(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  // True when the peer closed the connection within `timeout` (frames before it are dropped).
  bool closedWithin(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Frame frame = read(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::steady_clock::now()),
                         true);
      if (frame.type == -1) return !frame.timed_out;
    }
    return false;
  }
  Msg message(std::chrono::milliseconds timeout = 5s) {
    Frame frame = read(timeout);
    Msg msg;
    if (frame.type != kMessage || frame.data.size() < 26) return msg;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(frame.data.data());
    for (int i = 0; i < 8; ++i)
      msg.timestamp = (msg.timestamp << 8) | p[i];
    msg.attempts = (p[8] << 8) | p[9];
    msg.id = frame.data.substr(10, 16);
    msg.body = frame.data.substr(26);
    return msg;
  }
  // From now on bytes both ways go through `codec` (TLS or compression negotiated by
  // IDENTIFY). Bytes already received after the last whole frame are decoded by it too.
  void setCodec(std::unique_ptr<queue::StreamCodec> codec) {
    codec_ = std::move(codec);
    std::string pending;
    pending.swap(in_);
    if (!pending.empty()) receive(pending);
  }
  void startTls(std::shared_ptr<queue::TlsContext> context) {
    auto tls = queue::TlsCodec::create(std::move(context));
    std::string hello;
    EXPECT_TRUE(tls->start(&hello).isOk());
    std::unique_ptr<queue::StreamCodec> codec = std::move(tls);
    std::string pending;
    pending.swap(in_);
    codec_ = std::move(codec);
    sendRaw(hello);
    if (!pending.empty()) receive(pending);
  }

  // IDENTIFY with `json`, SUB, RDY: a consumer.
  void subscribe(const std::string& topic, const std::string& channel, int rdy,
                 const std::string& identify = "") {
    if (!identify.empty()) {
      withBody("IDENTIFY", identify);
      EXPECT_EQ(read().data, "OK");
    }
    command("SUB " + topic + " " + channel);
    EXPECT_EQ(read().data, "OK");
    if (rdy >= 0) command("RDY " + std::to_string(rdy));
  }

 private:
  void receive(std::string_view raw) {
    if (!codec_) {
      in_.append(raw);
      return;
    }
    std::string to_peer;
    Status status = codec_->decode(raw, &in_, &to_peer);
    EXPECT_TRUE(status.isOk()) << status.toString();
    if (!to_peer.empty()) sendRaw(to_peer);
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string in_;  // decoded bytes not yet framed
  std::unique_ptr<queue::StreamCodec> codec_;
};

class QueuedConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { start({}); }

  void start(const std::vector<std::string>& flags) {
    daemon_.reset();
    if (NsqDaemon::binaryFor(GetParam()).empty()) {
      GTEST_SKIP() << GetParam() << " binary not found (nsqd: set NSQD_BIN or install "
                   << "../shared/peers/nsq/nsqd); skipping the comparison run";
    }
    auto started = NsqDaemon::start(GetParam(), flags);
    ASSERT_TRUE(started.isOk()) << started.status().toString();
    daemon_ = std::move(started).value();
  }
  std::unique_ptr<Raw> connect(bool magic = true) {
    return std::make_unique<Raw>(daemon_->tcpAddress(), magic);
  }
  void publish(const std::string& topic, const std::string& body) {
    auto producer = connect();
    producer->withBody("PUB " + topic, body);
    ASSERT_EQ(producer->read().data, "OK");
  }
  HttpReply http(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = httpRequest(daemon_->httpAddress(), method, path, body);
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    return reply.isOk() ? *reply : HttpReply{};
  }
  void expectFatal(Raw& conn, const std::string& error) {
    Frame frame = conn.read();
    EXPECT_EQ(frame.type, kError) << frame.data;
    EXPECT_EQ(frame.data, error);
    EXPECT_TRUE(conn.closedWithin(3s)) << "a fatal error must close the connection";
  }

  std::unique_ptr<NsqDaemon> daemon_;
};

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

TEST_P(QueuedConformance, ALineLongerThan16KiBClosesSilently) {
  auto conn = connect();
  conn->command("NOP " + std::string(16400, 'x'));
  Frame frame = conn->read(3s);
  EXPECT_EQ(frame.type, -1);
  EXPECT_FALSE(frame.timed_out);
}

TEST_P(QueuedConformance, EphemeralChannelGoesWithItsLastClient) {
  {
    auto conn = connect();
    conn->subscribe("t", "e#ephemeral", 0);
    auto stats = http("GET", "/stats?format=json&topic=t");
    EXPECT_NE(stats.body.find("e#ephemeral"), std::string::npos);
  }
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = http("GET", "/stats?format=json&topic=t").body.find("e#ephemeral") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone);
}

TEST_P(QueuedConformance, HttpApiAnswersAsNsqd) {
  HttpReply ping = http("GET", "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "OK");
  HttpReply pub = http("POST", "/pub?topic=h", "one");
  EXPECT_EQ(pub.status, 200);
  EXPECT_EQ(pub.body, "OK");
  EXPECT_EQ(pub.header("X-Nsq-Content-Type"), "nsq; version=1.0");
  EXPECT_EQ(http("POST", "/pub?topic=bad!", "x").body, R"({"message":"INVALID_TOPIC"})");
  EXPECT_EQ(http("POST", "/pub", "x").body, R"({"message":"MISSING_ARG_TOPIC"})");
  EXPECT_EQ(http("POST", "/pub?topic=h", "").body, R"({"message":"MSG_EMPTY"})");
  EXPECT_EQ(http("POST", "/pub?topic=h&defer=-1", "x").body, R"({"message":"INVALID_DEFER"})");
  HttpReply mpub = http("POST", "/mpub?topic=h", "two\nthree\n\nfour");
  EXPECT_EQ(mpub.body, "OK");
  std::string binary = be32(2) + be32(4) + "five" + be32(3) + "six";
  EXPECT_EQ(http("POST", "/mpub?topic=h&binary=true", binary).body, "OK");
  HttpReply bad_binary = http("POST", "/mpub?topic=h&binary=true", be32(0));
  EXPECT_EQ(bad_binary.status, 413);
  EXPECT_EQ(bad_binary.body, R"({"message":"BAD_BODY"})");
  HttpReply stats = http("GET", "/stats?format=json&topic=h");
  EXPECT_NE(stats.body.find(R"("topic_name":"h","channels":[],"depth":6,"backend_depth":0,)"
                            R"("message_count":6,)"),
            std::string::npos)
      << stats.body;
  EXPECT_EQ(http("POST", "/topic/delete?topic=nope").body, R"({"message":"TOPIC_NOT_FOUND"})");
  EXPECT_EQ(http("POST", "/topic/create?topic=bad!").body, R"({"message":"INVALID_TOPIC"})");
  HttpReply created = http("POST", "/topic/create?topic=made");
  EXPECT_EQ(created.status, 200);
  EXPECT_EQ(created.body, "");
  EXPECT_EQ(http("POST", "/channel/create?topic=made&channel=bad!").body,
            R"({"message":"INVALID_ARG_CHANNEL"})");
  EXPECT_EQ(http("POST", "/channel/delete?topic=made&channel=none").body,
            R"({"message":"CHANNEL_NOT_FOUND"})");
  EXPECT_EQ(http("POST", "/channel/create?topic=made&channel=c").status, 200);
  EXPECT_EQ(http("POST", "/channel/pause?topic=made&channel=c").status, 200);
  EXPECT_NE(http("GET", "/stats?format=json&topic=made").body.find(R"("paused":true)"),
            std::string::npos);
  HttpReply missing = http("GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"message":"NOT_FOUND"})");
  HttpReply method = http("GET", "/pub");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.body, R"({"message":"METHOD_NOT_ALLOWED"})");
  EXPECT_EQ(http("GET", "/config/nsqlookupd_tcp_addresses").body, "[]");
  EXPECT_EQ(http("GET", "/config/nope").body, R"({"message":"INVALID_OPTION"})");
  HttpReply info = http("GET", "/info");
  EXPECT_EQ(info.body.rfind(R"({"version":"1.3.0","broadcast_address":)", 0), 0u) << info.body;
}

TEST_P(QueuedConformance, MessagesOnDiskSurviveKill9) {
  // --mem-queue-size=0 sends every message to the disk queue, in queued as in nsqd. queued
  // writes each record to the file as it is put (a kill -9 cannot lose it; fsync is for power
  // loss); nsqd buffers its writes in the process until a sync, so a kill -9 loses what came
  // since the last one (here: all 500 of them) unless it syncs every write.
  if (GetParam() == "nsqd") {
    start({"--mem-queue-size=0", "--sync-every=1"});
  } else {
    start({"--mem-queue-size=0"});
  }
  {
    auto consumer = connect();
    consumer->subscribe("d", "c", 0);  // the channel exists: messages go to its queue
  }
  auto producer = connect();
  std::string mpub = be32(500);
  for (int i = 0; i < 500; ++i) {
    std::string body = "m" + std::to_string(i);
    mpub += be32(static_cast<uint32_t>(body.size())) + body;
  }
  producer->withBody("MPUB d", mpub);
  ASSERT_EQ(producer->read().data, "OK");
  producer.reset();
  ASSERT_TRUE(daemon_->restart(/*kill=*/true).isOk());
  auto consumer = connect();
  consumer->subscribe("d", "c", 100);
  std::set<std::string> seen;
  for (int i = 0; i < 1000 && seen.size() < 500; ++i) {
    Msg msg = consumer->message(3s);
    if (msg.id.empty()) break;
    seen.insert(msg.body);
    consumer->command("FIN " + msg.id);
  }
  EXPECT_EQ(seen.size(), 500u);
}

TEST_P(QueuedConformance, RegistersWithNsqlookupd) {
  if (NsqDaemon::binaryFor("nsqlookupd").empty()) {
    GTEST_SKIP() << "nsqlookupd not found (../shared/peers/nsq/nsqlookupd or NSQLOOKUPD_BIN)";
  }
  auto lookupd = NsqDaemon::start("nsqlookupd");
  ASSERT_TRUE(lookupd.isOk()) << lookupd.status().toString();
  start({"--lookupd-tcp-address=" + (*lookupd)->tcpAddress(), "--broadcast-address=127.0.0.1"});
  auto consumer = connect();
  consumer->subscribe("lt", "lc", 0);
  std::string tcp_port = daemon_->tcpAddress().substr(daemon_->tcpAddress().rfind(':') + 1);
  std::string body;
  for (int i = 0; i < 100; ++i) {
    auto reply = httpRequest((*lookupd)->httpAddress(), "GET", "/lookup?topic=lt");
    if (reply.isOk() && reply->status == 200) body = reply->body;
    if (body.find("\"tcp_port\":" + tcp_port) != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(body.find("\"tcp_port\":" + tcp_port), std::string::npos) << body;
  EXPECT_NE(body.find(R"("channels":["lc"])"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("broadcast_address":"127.0.0.1")"), std::string::npos) << body;
}

TEST_P(QueuedConformance, ACleanStopKeepsMessagesThatWereInMemory) {
  // Messages held in memory (queued, in flight, deferred) are written to disk at SIGTERM and
  // come back after the restart, in nsqd as in queued.
  auto holder = connect();
  holder->subscribe("s", "c", 1);
  auto producer = connect();
  std::string mpub = be32(50);
  for (int i = 0; i < 50; ++i) {
    std::string body = "s" + std::to_string(i);
    mpub += be32(static_cast<uint32_t>(body.size())) + body;
  }
  producer->withBody("MPUB s", mpub);
  ASSERT_EQ(producer->read().data, "OK");
  producer->withBody("DPUB s 60000", "deferred");
  ASSERT_EQ(producer->read().data, "OK");
  Msg in_flight = holder->message();
  ASSERT_FALSE(in_flight.id.empty());
  producer.reset();
  ASSERT_TRUE(daemon_->restart(/*kill=*/false).isOk());
  holder.reset();
  auto consumer = connect();
  consumer->subscribe("s", "c", 100);
  std::set<std::string> seen;
  for (int i = 0; i < 200 && seen.size() < 51; ++i) {
    Msg msg = consumer->message(3s);
    if (msg.id.empty()) break;
    seen.insert(msg.body);
    consumer->command("FIN " + msg.id);
  }
  EXPECT_EQ(seen.size(), 51u) << "50 published (one of them in flight) and the deferred one";
  EXPECT_EQ(seen.count(in_flight.body), 1u);
  EXPECT_EQ(seen.count("deferred"), 1u);
}

// Compression and TLS: negotiated by IDENTIFY, then both directions are encoded, and the
// daemon's next frame is an "OK" in the new encoding (facts: nsqd's upgrade sequence).
void expectCompressedSession(Raw& conn, const std::string& identify, const std::string& expect,
                             std::unique_ptr<queue::StreamCodec> codec) {
  conn.withBody("IDENTIFY", identify);
  Frame answer = conn.read();
  ASSERT_EQ(answer.type, kResponse);
  EXPECT_NE(answer.data.find(expect), std::string::npos) << answer.data;
  conn.setCodec(std::move(codec));
  EXPECT_EQ(conn.read().data, "OK");
  conn.withBody("PUB z", "compressed hello");
  EXPECT_EQ(conn.read().data, "OK");
  conn.command("SUB z c");
  EXPECT_EQ(conn.read().data, "OK");
  conn.command("RDY 1");
  Msg msg = conn.message();
  EXPECT_EQ(msg.body, "compressed hello");
  conn.command("FIN " + msg.id);
  conn.command("FIN " + msg.id);  // a soft error, compressed too
  EXPECT_EQ(conn.read().data, "E_FIN_FAILED FIN " + msg.id + " failed ID not in flight");
}

TEST_P(QueuedConformance, DeflateSession) {
  auto conn = connect();
  expectCompressedSession(*conn, R"({"feature_negotiation":true,"deflate":true,"deflate_level":3})",
                          R"("deflate":true,"deflate_level":3,)", queue::DeflateCodec::create(3));
}

TEST_P(QueuedConformance, SnappySession) {
  auto conn = connect();
  expectCompressedSession(*conn, R"({"feature_negotiation":true,"snappy":true})",
                          R"("snappy":true,)", queue::SnappyCodec::create());
}

TEST_P(QueuedConformance, DeflateAndSnappyTogetherAreRefused) {
  auto conn = connect();
  conn->withBody("IDENTIFY", R"({"feature_negotiation":true,"snappy":true,"deflate":true})");
  expectFatal(*conn, "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
}

TEST_P(QueuedConformance, TlsSessionAndTlsRequired) {
  queue::codec_test::TestPki pki;
  start({"--tls-cert=" + pki.path("server.pem"), "--tls-key=" + pki.path("server.key"),
         "--https-address=", "--tls-required=tcp-https"});
  auto context = queue::TlsContext::createClient(pki.clientOptions());
  ASSERT_TRUE(context.isOk()) << context.status().toString();

  auto plain = connect();
  plain->withBody("PUB t", "x");
  expectFatal(*plain, "E_INVALID cannot PUB in current state (TLS required)");

  auto conn = connect();
  conn->withBody("IDENTIFY", R"({"feature_negotiation":true,"tls_v1":true})");
  Frame answer = conn->read();
  EXPECT_NE(answer.data.find(R"("tls_v1":true)"), std::string::npos) << answer.data;
  conn->startTls(*context);
  EXPECT_EQ(conn->read().data, "OK");
  conn->withBody("PUB t", "secret");
  EXPECT_EQ(conn->read().data, "OK");
  conn->command("SUB t c");
  EXPECT_EQ(conn->read().data, "OK");
  conn->command("RDY 1");
  EXPECT_EQ(conn->message().body, "secret");
}

// An auth server as nsqd's --auth-http-address expects, on its own loop thread: the secret
// "good" may publish and subscribe on topics matching "at.*" (ttl 1 s), "none" has no
// authorizations, anything else is refused with 403. Counts the queries per secret.
class TestAuthServer {
 public:
  TestAuthServer() {
    std::promise<std::string> address;
    auto ready = address.get_future();
    thread_ = std::thread([this, &address] {
      net::EventLoop loop;
      loop_ = &loop;
      http::Router router;
      (void)router.add(
          "GET", "/auth", [this](http::HttpRequest& req, http::HttpResponder responder) {
            std::string secret(req.query("secret").value_or(""));
            ++queries_[secret == "good" ? 0 : 1];
            if (secret == "good") {
              responder.respond(http::HttpResponse::json(
                  200, R"({"ttl":1,"identity":"alice","identity_url":"http://id/alice",)"
                       R"("authorizations":[{"topic":"at.*","channels":[".*"],)"
                       R"("permissions":["subscribe","publish"]}]})"));
            } else if (secret == "none") {
              responder.respond(http::HttpResponse::json(200, R"({"ttl":60,"authorizations":[]})"));
            } else {
              responder.respond(http::HttpResponse::json(403, R"({"message":"no"})"));
            }
          });
      auto server = http::HttpServer::listen(loop, http::HttpServer::Options{}, std::move(router),
                                             http::MiddlewareChain());
      address.set_value(server.isOk() ? (*server)->address().toString() : "");
      loop.run();
      server = Status(Code::CANCELLED, "stopped");
      (void)loop.shutdown();
    });
    address_ = ready.get();
  }
  ~TestAuthServer() {
    loop_.load()->post([loop = loop_.load()] { loop->stop(); });
    thread_.join();
  }
  const std::string& address() const { return address_; }
  int goodQueries() const { return queries_[0]; }

 private:
  std::thread thread_;
  std::atomic<net::EventLoop*> loop_{nullptr};
  std::string address_;
  std::atomic<int> queries_[2] = {0, 0};
};

TEST_P(QueuedConformance, AuthAgainstAnAuthServer) {
  TestAuthServer auth;
  ASSERT_FALSE(auth.address().empty());
  start({"--auth-http-address=" + auth.address()});

  auto first = connect();
  first->withBody("PUB at1", "x");
  expectFatal(*first, "E_AUTH_FIRST AUTH required before PUB");

  auto conn = connect();
  conn->withBody("IDENTIFY", R"({"feature_negotiation":true})");
  EXPECT_NE(conn->read().data.find(R"("auth_required":true)"), std::string::npos);
  conn->withBody("AUTH", "good");
  EXPECT_EQ(conn->read().data,
            R"({"identity":"alice","identity_url":"http://id/alice","permission_count":1})");
  conn->withBody("PUB at1", "allowed");
  EXPECT_EQ(conn->read().data, "OK");
  int queries = auth.goodQueries();
  std::this_thread::sleep_for(1100ms);  // the grant's ttl is what is tested: time must pass
  conn->withBody("PUB at1", "after expiry");
  EXPECT_EQ(conn->read().data, "OK");
  EXPECT_GT(auth.goodQueries(), queries) << "an expired grant is asked for again";
  conn->withBody("PUB other", "x");
  expectFatal(*conn, "E_UNAUTHORIZED AUTH failed for PUB on \"other\" \"\"");

  auto again = connect();
  again->withBody("AUTH", "good");
  EXPECT_EQ(again->read().type, kResponse);
  again->withBody("AUTH", "good");
  expectFatal(*again, "E_INVALID AUTH already set");

  auto none = connect();
  none->withBody("AUTH", "none");
  expectFatal(*none, "E_UNAUTHORIZED AUTH no authorizations found");
  auto bad = connect();
  bad->withBody("AUTH", "wrong");
  expectFatal(*bad, "E_AUTH_FAILED AUTH failed");
}

TEST_P(QueuedConformance, AuthWithoutAnAuthServerIsDisabled) {
  auto conn = connect();
  conn->withBody("AUTH", "secret");
  expectFatal(*conn, "E_AUTH_DISABLED AUTH disabled");
}

INSTANTIATE_TEST_SUITE_P(Daemons, QueuedConformance, ::testing::Values("queued", "nsqd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace push::testing
