// Conformance of queued with nsqd v1.3.0 beyond the command set (harness:
// queued_conformance.h): ephemeral channels, the HTTP API, disk durability and clean stops,
// nsqlookupd registration, deflate/snappy/TLS sessions, AUTH against an auth server.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "common/http/http_server.h"
#include "common/http/router.h"
#include "common/net/event_loop.h"
#include "common/queue/codec/codec_chain.h"
#include "common/queue/codec/deflate_codec.h"
#include "common/queue/codec/snappy_codec.h"
#include "tests/unit/queue/codec/tls_test_util.h"

#include "tests/integration/queued_conformance.h"

namespace push::testing::conformance {
namespace {

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
  // nsqd with --sync-every=1 fsyncs 500 times before it answers: slow on a busy disk.
  ASSERT_EQ(producer->read(30s).data, "OK");
  producer.reset();
  // nsqd moves a topic's messages to its channels in a goroutine: one killed while a message is
  // between the topic's disk queue and the channel's loses it. What must survive kill -9 is what
  // sits in the channel's queue, so the kill waits until all 500 are there.
  auto channelDepth = [&] {
    const std::string body = http("GET", "/stats?format=json&topic=d").body;
    const size_t at = body.find(R"("channel_name":"c")");
    const size_t depth = at == std::string::npos ? at : body.find(R"("depth":)", at);
    return depth == std::string::npos ? -1L : std::strtol(body.c_str() + depth + 8, nullptr, 10);
  };
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (channelDepth() != 500 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  ASSERT_EQ(channelDepth(), 500);
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
    // nsqd registers the topic, then the channel: wait for both.
    if (body.find("\"tcp_port\":" + tcp_port) != std::string::npos &&
        body.find(R"("channels":["lc"])") != std::string::npos) {
      break;
    }
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
}  // namespace push::testing::conformance
