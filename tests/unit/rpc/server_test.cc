// Server hardening: response size limit, error texts, cluster key, handshake and idle timeouts.
// Real loop, real loopback sockets (port 0); raw clients for bytes a Channel never sends.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proto/config.pb.h"
#include "tests/unit/rpc/rpc_test_util.h"

namespace push::rpc {
namespace {

using namespace std::chrono_literals;
using test::Call;
using test::counterValue;
using test::RawClient;

class ServerTest : public test::RpcFixture {
 protected:
  uint16_t port(size_t i = 0) const { return servers_[i]->address().port(); }
  uint64_t echoCalls(size_t i = 0) const { return services_[i]->calls(); }
};

bool isValidUtf8(const std::string& s) {
  // Round trip through a proto3 string field: the parser rejects invalid UTF-8.
  RpcMeta meta;
  meta.set_error(s);
  RpcMeta back;
  return back.ParseFromString(meta.SerializeAsString());
}

// ---- response size ----

TEST_F(ServerTest, OversizedResponseIsAnErrorForThatCallAndTheConnectionStays) {
  Server::Options so;
  so.max_response_bytes = 4096;
  // The client accepts no bigger frame either: without the server's check the oversized
  // response would make it close the connection under the other call.
  Channel::Options co;
  co.connections_per_endpoint = 1;
  co.max_frame_bytes = 4096;
  Channel* ch = makeChannel({startServer(so)}, co);
  const uint64_t oversized_before = counterValue("push_rpc_server_oversized_responses_total");

  Call slow, big;
  slow.request.set_delay_ms(150);
  slow.request.set_message("slow");
  big.request.set_payload(std::string(8000, 'x'));  // echoed back: a response over 4096
  echo(ch, slow);
  echo(ch, big);
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done && big.done; }));
  EXPECT_EQ(big.controller.code(), Code::INVALID_ARGUMENT) << big.controller.status().toString();
  EXPECT_NE(big.controller.status().message().find("over the limit 4096"), std::string::npos)
      << big.controller.status().message();
  EXPECT_TRUE(slow.controller.status().isOk()) << slow.controller.status().toString();
  EXPECT_EQ(slow.response.message(), "slow");
  EXPECT_EQ(counterValue("push_rpc_server_oversized_responses_total"), oversized_before + 1);

  Call after;
  after.request.set_message("after");
  echo(ch, after);
  ASSERT_TRUE(loop_.runUntil([&] { return after.done; }));
  EXPECT_TRUE(after.controller.status().isOk()) << after.controller.status().toString();
  EXPECT_EQ(servers_[0]->connectionCount(), 1u);  // never closed
}

TEST_F(ServerTest, HandlerErrorTextIsMadeValidUtf8AndBounded) {
  // A proto3 string with invalid UTF-8 makes the client's RpcMeta unparsable, which closed
  // the connection under every call on it.
  std::vector<google::protobuf::Closure*> held;
  auto* service = scripted([&held](Controller* c, const echo::EchoRequest* req,
                                   echo::EchoResponse* resp, google::protobuf::Closure* done) {
    if (req->message() == "bad") {
      c->setStatus(Status(Code::NOT_FOUND, "user \xff\xfe" + std::string(5000, 'u') + "\xc3"));
      done->Run();
      return;
    }
    resp->set_message(req->message());
    held.push_back(done);  // answered by the test, after the bad one
  });
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServerWith(service)}, co);
  Call slow, bad;
  slow.request.set_message("slow");
  bad.request.set_message("bad");
  echo(ch, slow);
  echo(ch, bad);
  ASSERT_TRUE(loop_.runUntil([&] { return bad.done && held.size() == 1; }));
  for (auto* done : held)
    done->Run();
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }));
  EXPECT_EQ(bad.controller.code(), Code::NOT_FOUND) << bad.controller.status().toString();
  const std::string& text = bad.controller.status().message();
  EXPECT_LE(text.size(), detail::kMaxErrorBytes);
  EXPECT_EQ(text.rfind("user ??uuu", 0), 0u) << text.substr(0, 20);
  EXPECT_TRUE(isValidUtf8(text));
  EXPECT_TRUE(slow.controller.status().isOk()) << slow.controller.status().toString();
  EXPECT_EQ(servers_[0]->connectionCount(), 1u);
}

TEST_F(ServerTest, StartRefusesOptionsOutOfRange) {
  auto tryStart = [&](Server::Options o) {
    ServerPtr s = Server::create(loop_, o);
    return s->start();  // `s` closes on return
  };
  Server::Options o;
  o.max_response_bytes = 100;
  EXPECT_EQ(tryStart(o).code(), Code::INVALID_ARGUMENT);
  o = {};
  o.cluster_key = std::string(2000, 'k');
  EXPECT_EQ(tryStart(o).code(), Code::INVALID_ARGUMENT);
  o = {};
  o.handshake_timeout = 0ms;
  EXPECT_EQ(tryStart(o).code(), Code::INVALID_ARGUMENT);
  o = {};
  o.idle_timeout = -1ms;
  EXPECT_EQ(tryStart(o).code(), Code::INVALID_ARGUMENT);
}

TEST_F(ServerTest, OptionsFromConfig) {
  config::RpcServerConfig c;
  auto o = Server::Options::fromConfig(c);
  ASSERT_TRUE(o.isOk());
  EXPECT_EQ(o->max_response_bytes, 16u << 20);
  EXPECT_EQ(o->idle_timeout, std::chrono::milliseconds(600000));
  EXPECT_EQ(o->handshake_timeout, 5000ms);
  EXPECT_TRUE(o->cluster_key.empty());

  c.set_max_response_bytes(65536);
  c.set_cluster_key("secret");
  c.set_idle_timeout_ms(0);  // set to 0: disabled, not the default
  c.set_handshake_timeout_ms(250);
  o = Server::Options::fromConfig(c);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->max_response_bytes, 65536u);
  EXPECT_EQ(o->cluster_key, "secret");
  EXPECT_EQ(o->idle_timeout.count(), 0);
  EXPECT_EQ(o->handshake_timeout, 250ms);

  c.set_max_response_bytes(100);
  o = Server::Options::fromConfig(c);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("rpc.max_response_bytes"), std::string::npos);
  c.set_max_response_bytes(0);
  c.set_cluster_key(std::string(1025, 'k'));
  EXPECT_FALSE(Server::Options::fromConfig(c).isOk());
  c.set_cluster_key("");
  c.set_idle_timeout_ms(90'000'000);
  EXPECT_FALSE(Server::Options::fromConfig(c).isOk());
}

// ---- cluster key ----

TEST_F(ServerTest, RightClusterKeyIsServed) {
  Server::Options so;
  so.cluster_key = "k3y-of-the-cluster";
  Channel::Options co;
  co.cluster_key = "k3y-of-the-cluster";
  Channel* ch = makeChannel({startServer(so)}, co);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 20; ++i) {  // pipelined right behind the Hello
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_message(std::to_string(i));
    echo(ch, *calls.back());
  }
  ASSERT_TRUE(waitAll(calls));
  for (auto& c : calls)
    EXPECT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
  EXPECT_EQ(echoCalls(), 20u);
}

TEST_F(ServerTest, WrongOrMissingClusterKeyIsRefusedAndNothingRuns) {
  Server::Options so;
  so.cluster_key = "right";
  const std::string addr = startServer(so);
  const uint64_t wrong_before =
      counterValue("push_rpc_server_handshake_failures_total", R"(reason="wrong")");
  const uint64_t missing_before =
      counterValue("push_rpc_server_handshake_failures_total", R"(reason="missing")");
  struct Case {
    std::string key;
    std::string message;
  };
  for (const Case& k : {Case{"wrong", "wrong cluster key"}, Case{"", "cluster key required"}}) {
    SCOPED_TRACE("channel key '" + k.key + "'");
    Channel::Options co;
    co.cluster_key = k.key;
    co.connections_per_endpoint = 1;
    Channel* ch = makeChannel({addr}, co);
    std::vector<std::unique_ptr<Call>> calls;
    for (int i = 0; i < 3; ++i) {
      calls.push_back(std::make_unique<Call>());
      echo(ch, *calls.back());
    }
    ASSERT_TRUE(waitAll(calls));
    for (auto& c : calls) {
      EXPECT_EQ(c->controller.code(), Code::UNAUTHENTICATED) << c->controller.status().toString();
      EXPECT_NE(c->controller.status().message().find(k.message), std::string::npos)
          << c->controller.status().message();
    }
  }
  EXPECT_EQ(echoCalls(), 0u);
  EXPECT_GE(counterValue("push_rpc_server_handshake_failures_total", R"(reason="wrong")"),
            wrong_before + 1);
  EXPECT_GE(counterValue("push_rpc_server_handshake_failures_total", R"(reason="missing")"),
            missing_before + 1);
}

TEST_F(ServerTest, RawRequestWithoutHelloIsRefusedAndClosedWithoutRunning) {
  Server::Options so;
  so.cluster_key = "right";
  startServer(so);
  echo::EchoRequest req;
  req.set_message("sneaky");
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send(test::requestFrame(7, "push.echo.EchoService.Echo", req) +
                       test::requestFrame(8, "push.echo.EchoService.Echo", req)));
  RpcMeta meta;
  // The first frame was answered with a goaway, and the connection closed.
  ASSERT_TRUE(loop_.runUntil([&] { return raw.poll(); }, 3s, 1ms));
  ASSERT_TRUE(raw.nextFrame(&meta));
  EXPECT_EQ(meta.request_id(), 7u);
  EXPECT_EQ(meta.code(), Code::UNAUTHENTICATED);
  EXPECT_EQ(meta.error(), "cluster key required");
  EXPECT_TRUE(meta.goaway());
  EXPECT_TRUE(meta.not_executed());
  EXPECT_FALSE(raw.nextFrame(&meta));  // nothing for request 8
  EXPECT_EQ(echoCalls(), 0u);
}

TEST_F(ServerTest, RawClientWithTheRightHelloIsServed) {
  Server::Options so;
  so.cluster_key = "right";
  startServer(so);
  echo::EchoRequest req;
  req.set_message("hi");
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send(test::helloFrame("right") +
                       test::requestFrame(1, "push.echo.EchoService.Echo", req)));
  RpcMeta meta;
  std::string body;
  ASSERT_TRUE(loop_.runUntil(test::latch([&] {
                               raw.poll();
                               return raw.nextFrame(&meta, &body);
                             }),
                             3s, 1ms));
  EXPECT_EQ(meta.request_id(), 1u);  // the Hello itself is not answered
  EXPECT_EQ(meta.code(), Code::OK);
  echo::EchoResponse resp;
  ASSERT_TRUE(resp.ParseFromString(body));
  EXPECT_EQ(resp.message(), "hi");
  EXPECT_FALSE(raw.closed());
}

TEST_F(ServerTest, MethodNamesAreMatchedWholeWhateverTheirBytes) {
  startServer();
  echo::EchoRequest req;
  req.set_message("m");
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  // The server compares a request's method with the last one it ran before its table: a
  // name that shares a prefix, or is one byte longer or shorter, is still not found. A name
  // that is not UTF-8 is not found either (the connection stays), and the error text that
  // quotes it is made valid UTF-8.
  const std::string echo_method = "push.echo.EchoService.Echo";
  ASSERT_TRUE(raw.send(test::requestFrame(1, echo_method, req) +
                       test::requestFrame(2, echo_method + "2", req) +
                       test::requestFrame(3, "push.echo.EchoService.Ech", req) +
                       test::requestFrame(4, "push.echo.EchoService.Ech\xff", req) +
                       test::requestFrame(5, echo_method, req)));
  std::map<uint64_t, RpcMeta> answers;
  ASSERT_TRUE(loop_.runUntil(test::latch([&] {
                               raw.poll();
                               RpcMeta meta;
                               while (raw.nextFrame(&meta))
                                 answers[meta.request_id()] = meta;
                               return answers.size() == 5;
                             }),
                             3s, 1ms));
  EXPECT_EQ(answers[1].code(), Code::OK);
  EXPECT_EQ(answers[2].code(), Code::NOT_FOUND);
  EXPECT_EQ(answers[2].error(), "no method 'push.echo.EchoService.Echo2'");
  EXPECT_EQ(answers[3].code(), Code::NOT_FOUND);
  EXPECT_EQ(answers[4].code(), Code::NOT_FOUND);
  EXPECT_EQ(answers[4].error(), "no method 'push.echo.EchoService.Ech?'");
  EXPECT_EQ(answers[5].code(), Code::OK);
  EXPECT_EQ(echoCalls(), 2u);
  EXPECT_FALSE(raw.closed());
}

TEST_F(ServerTest, ServerWithoutKeyServesAChannelWithAKey) {
  Channel::Options co;
  co.cluster_key = "whatever";
  Channel* ch = makeChannel({startServer()}, co);
  Call call;
  call.request.set_message("keyed");
  echo(ch, call);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }));
  EXPECT_TRUE(call.controller.status().isOk()) << call.controller.status().toString();
  EXPECT_EQ(call.response.message(), "keyed");
}

TEST_F(ServerTest, ANonLoopbackListenerWithoutAKeyIsRefusedUnlessAllowed) {
  // Protected by default: a port other machines may reach does not take calls from anyone.
  Server::Options so;
  so.address = "0.0.0.0:0";
  ServerPtr open = Server::create(loop_, so);
  Status st = open->start();
  EXPECT_EQ(st.code(), Code::FAILED_PRECONDITION) << st.toString();
  EXPECT_NE(st.message().find("cluster_key"), std::string::npos) << st.message();
  open.reset();
  so.cluster_key = "a-key-0123456789abcdef";
  startServer(so);  // with a key: listens
  so.cluster_key.clear();
  so.allow_without_cluster_key = true;
  startServer(so);           // explicitly allowed: listens (and warns)
  Server::Options loopback;  // 127.0.0.1 without a key is always fine
  startServer(loopback);
}

// ---- timeouts ----

TEST_F(ServerTest, HandshakeTimeoutClosesASilentConnection) {
  Server::Options so;
  so.cluster_key = "right";
  so.handshake_timeout = 100ms;
  startServer(so);
  const uint64_t before =
      counterValue("push_rpc_server_handshake_failures_total", R"(reason="timeout")");
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop_.runUntil([&] { return raw.poll(); }, 3s, 1ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
  EXPECT_EQ(counterValue("push_rpc_server_handshake_failures_total", R"(reason="timeout")"),
            before + 1);
  ASSERT_TRUE(loop_.runUntil([&] { return servers_[0]->connectionCount() == 0; }));
}

TEST_F(ServerTest, IdleTimeoutSendsAGoawayAndCloses) {
  Server::Options so;
  so.idle_timeout = 100ms;
  startServer(so);
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  echo::EchoRequest req;
  req.set_message("once");
  ASSERT_TRUE(raw.send(test::requestFrame(1, "push.echo.EchoService.Echo", req)));
  RpcMeta meta;
  ASSERT_TRUE(loop_.runUntil(test::latch([&] {
                               raw.poll();
                               return raw.nextFrame(&meta);
                             }),
                             3s, 1ms));
  EXPECT_EQ(meta.code(), Code::OK);
  const auto answered = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop_.runUntil([&] { return raw.poll(); }, 3s, 1ms));
  EXPECT_GE(std::chrono::steady_clock::now() - answered, 80ms);
  ASSERT_TRUE(raw.nextFrame(&meta));
  EXPECT_TRUE(meta.goaway());
  EXPECT_EQ(meta.code(), Code::UNAVAILABLE);
  EXPECT_EQ(meta.request_id(), 0u);
}

TEST_F(ServerTest, CallsRunningKeepTheConnectionOpenPastTheIdleTimeout) {
  Server::Options so;
  so.idle_timeout = 100ms;
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer(so)}, co);
  const uint64_t goaways = counterValue("push_rpc_client_goaways_total");
  Call slow;
  slow.request.set_delay_ms(400);  // four idle timeouts without a frame, but not idle
  slow.request.set_message("slow");
  echo(ch, slow);
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }));
  EXPECT_TRUE(slow.controller.status().isOk()) << slow.controller.status().toString();
  EXPECT_EQ(slow.response.message(), "slow");
  EXPECT_EQ(counterValue("push_rpc_client_goaways_total"), goaways);
}

TEST_F(ServerTest, ZeroIdleTimeoutKeepsIdleConnections) {
  Server::Options so;
  so.idle_timeout = 0ms;
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer(so)}, co);
  RawClient raw(port());
  ASSERT_TRUE(raw.connected());
  // The raw connection stays silent while a call (on the channel's connection) takes 300 ms.
  Call slow;
  slow.request.set_delay_ms(300);
  echo(ch, slow);
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done || raw.poll(); }));
  EXPECT_TRUE(slow.done);
  EXPECT_FALSE(raw.poll());
  EXPECT_EQ(servers_[0]->connectionCount(), 2u);
}

}  // namespace
}  // namespace push::rpc
