// The SDK's routing through a dispatcher (sdk/README.md "Routing") against a fake dispatcher (an
// http::HttpServer that records every query and answers what the test sets) and the fake room:
// the query, the answer's order, moving past an unreachable entry, asking again after repeated
// failures (retry=n) and on a network change, the cache per network type, the fallback list
// when the dispatcher is down, the heartbeat hint; and the parts without a server (the answer's
// parser, the URL, the query). Also the upstream type and the webhook's reply.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/auth/token.h"
#include "common/http/http_server.h"
#include "common/http/router.h"
#include "sdk/http_get.h"
#include "sdk/route.h"
#include "tests/unit/sdk/sdk_test_util.h"

namespace push::sdk::testing {
namespace {

// The dispatcher's GET /v1/route, answering `status` and `body` (a route with `tcp`).
class FakeDispatcher {
 public:
  struct Query {
    std::string app, user, net, region, retry;
  };

  explicit FakeDispatcher(net::EventLoop& loop) {
    http::Router router;
    EXPECT_TRUE(router
                    .add("GET", "/v1/route",
                         [this](http::HttpRequest& req, http::HttpResponder r) {
                           queries.push_back(Query{std::string(req.query("app").value_or("")),
                                                   std::string(req.query("user").value_or("")),
                                                   std::string(req.query("net").value_or("")),
                                                   std::string(req.query("region").value_or("")),
                                                   std::string(req.query("retry").value_or(""))});
                           if (hold) {  // never answered (until the server closes)
                             held.push_back(std::make_unique<http::HttpResponder>(std::move(r)));
                             return;
                           }
                           r.respond(status, body, "application/json");
                         })
                    .isOk());
    auto server = http::HttpServer::listen(loop, {}, std::move(router));
    EXPECT_TRUE(server.isOk()) << server.status();
    if (server.isOk()) server_ = std::move(server).value();
  }

  std::string url() const { return "http://" + server_->address().toString(); }
  void route(const std::vector<std::string>& tcp, uint32_t heartbeat_s = 60, uint32_t ttl_s = 300) {
    std::string list;
    for (const std::string& t : tcp)
      list += (list.empty() ? "\"" : ",\"") + t + "\"";
    status = 200;
    body = R"({"rooms":[],"tcp":[)" + list + R"(],"ws":[],"heartbeat_s":)" +
           std::to_string(heartbeat_s) + R"(,"ttl_s":)" + std::to_string(ttl_s) + "}";
  }
  void close() {
    held.clear();
    server_.reset();
  }
  ~FakeDispatcher() { close(); }

  int status = 503;
  std::string body = R"({"error":"no room available"})";
  std::vector<Query> queries;
  bool hold = false;
  std::vector<std::unique_ptr<http::HttpResponder>> held;

 private:
  http::HttpServerPtr server_;
};

class ClientRouteTest : public ClientTestBase {
 protected:
  void TearDown() override {
    closeAll();  // the fake dispatcher goes before the loop shuts down
    ClientTestBase::TearDown();
  }

  ClientOptions routed() {
    ClientOptions o = options();
    o.servers.clear();
    o.dispatcher = dispatcher_->url();
    o.region = "east";
    o.token = auth::mintToken(
        "secret", auth::TokenClaims{"demo", "alice", "phone", std::time(nullptr) + 3600});
    o.connect_timeout = 1s;
    o.backoff_initial = 10ms;
    o.backoff_max = 50ms;
    o.route_timeout = 2s;
    return o;
  }

  void SetUp() override {
    ClientTestBase::SetUp();
    dispatcher_ = std::make_unique<FakeDispatcher>(loop_);
  }
  void closeAll() {
    closeClient();
    dispatcher_.reset();
  }

  std::unique_ptr<FakeDispatcher> dispatcher_;
};

TEST_F(ClientRouteTest, AsksTheDispatcherAndConnectsInTheAnswersOrderPastAnUnreachableEntry) {
  const std::string dead = deadAddress();
  dispatcher_->route({dead, room_.address()});
  startClient(routed());
  ASSERT_TRUE(online());
  ASSERT_EQ(dispatcher_->queries.size(), 1u);
  const FakeDispatcher::Query& q = dispatcher_->queries[0];
  EXPECT_EQ(q.app, "demo");
  EXPECT_EQ(q.user, "alice");
  EXPECT_EQ(q.net, "wifi");
  EXPECT_EQ(q.region, "east");
  EXPECT_EQ(q.retry, "0");
  // The dead entry first, then the room.
  std::vector<std::string> tried;
  for (const auto& [state, detail] : rec_.states())
    if (state == State::Connecting) tried.push_back(detail);
  ASSERT_GE(tried.size(), 3u);
  EXPECT_NE(tried[0].find("dispatcher=" + dispatcher_->url()), std::string::npos) << tried[0];
  EXPECT_EQ(tried[1], "server=" + dead);
  EXPECT_EQ(tried[2], "server=" + room_.address());
  EXPECT_EQ(rec_.errorCount(kErrorConnectFailed), 1u);
  closeAll();
}

TEST_F(ClientRouteTest, AsksAgainWithRetryAfterRepeatedFailuresOnTheRoute) {
  const std::string dead = deadAddress();
  dispatcher_->route({dead});
  ClientOptions o = routed();
  o.route_failures = 2;
  startClient(o);
  ASSERT_TRUE(until([&] { return dispatcher_->queries.size() >= 2; }));
  EXPECT_EQ(dispatcher_->queries[0].retry, "0");
  EXPECT_EQ(dispatcher_->queries[1].retry, "1");
  EXPECT_GE(rec_.errorCount(kErrorConnectFailed), 2u);
  EXPECT_FALSE(rec_.saw(State::Online));
  dispatcher_->route({room_.address()});  // the dispatcher found a room that works
  ASSERT_TRUE(online());
  EXPECT_EQ(room_.authenticated(), 1u);
  closeAll();
}

TEST_F(ClientRouteTest, ANetworkChangeAsksForThatNetworksRouteAndMovesMakeBeforeBreak) {
  dispatcher_->route({room_.address()});
  startClient(routed());
  ASSERT_TRUE(online());
  ASSERT_EQ(dispatcher_->queries.size(), 1u);
  ASSERT_TRUE(client_->setNetworkType(Network::Cellular).isOk());
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  ASSERT_EQ(dispatcher_->queries.size(), 2u);
  EXPECT_EQ(dispatcher_->queries[1].net, "cellular");
  EXPECT_EQ(room_.conn(1).auths.at(0).network(), client::NETWORK_CELLULAR);
  EXPECT_TRUE(until([&] { return !room_.conn(0).open(); }));  // the old link retired
  EXPECT_EQ(client_->state(), State::Online);
  // Back to wifi: its route is cached (ttl 300 s), the dispatcher is not asked.
  ASSERT_TRUE(client_->setNetworkType(Network::Wifi).isOk());
  ASSERT_TRUE(until([&] { return room_.authenticated() == 3; }));
  EXPECT_EQ(room_.conn(2).auths.at(0).network(), client::NETWORK_WIFI);
  EXPECT_EQ(dispatcher_->queries.size(), 2u);
  // The same type again: nothing.
  ASSERT_TRUE(client_->setNetworkType(Network::Wifi).isOk());
  loop_.runUntil([] { return false; }, 100ms);
  EXPECT_EQ(room_.accepted(), 3u);
  closeAll();
}

TEST_F(ClientRouteTest, TheDispatcherDownMeansTheServersList) {
  ClientOptions o = routed();
  o.dispatcher = "http://" + deadAddress();
  o.servers = {room_.address()};
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_EQ(rec_.errorCount(kErrorConnectFailed), 1u);  // the dispatcher, reported
  closeAll();
}

TEST_F(ClientRouteTest, ADispatcherWithoutRoomsMeansTheServersList) {
  ClientOptions o = routed();
  o.servers = {room_.address()};
  startClient(o);  // the fake answers 503 until told otherwise
  ASSERT_TRUE(online());
  ASSERT_EQ(dispatcher_->queries.size(), 1u);
  closeAll();
}

TEST_F(ClientRouteTest, WithoutFallbackItKeepsAskingWithBackoff) {
  startClient(routed());  // 503 and no servers
  ASSERT_TRUE(until([&] { return dispatcher_->queries.size() >= 2; }));
  EXPECT_TRUE(rec_.saw(State::Backoff));
  dispatcher_->route({room_.address()});
  ASSERT_TRUE(online());
  closeAll();
}

TEST_F(ClientRouteTest, TheHeartbeatHintIsUsedWhenTheRoomProposesNone) {
  room_.heartbeat_s = 0;
  dispatcher_->route({room_.address()}, 2);
  startClient(routed());
  ASSERT_TRUE(online());
  bool found = false;
  for (const auto& [state, detail] : rec_.states())
    if (state == State::Online) found = detail.find("heartbeat=2") != std::string::npos;
  EXPECT_TRUE(found);
  closeAll();
}

TEST_F(ClientRouteTest, CloseWhileTheDispatcherIsAskedEndsCleanly) {
  dispatcher_->hold = true;  // the request waits (for its 30 s deadline)
  ClientOptions o = routed();
  o.route_timeout = 30s;
  startClient(o);
  ASSERT_TRUE(until([&] { return dispatcher_->held.size() == 1; }));
  const int64_t start = steadyMs();
  closeClient();  // cancels the request: no wait for its deadline
  EXPECT_LT(steadyMs() - start, 5000);
  EXPECT_FALSE(rec_.saw(State::Online));
}

TEST_F(ClientRouteTest, UpstreamCarriesItsTypeAndTheReplyReachesTheCallback) {
  room_.upstream_reply = "pong";
  startClient(options());
  ASSERT_TRUE(online());
  auto seq = client_->sendUpstream("", "hello", "chat");
  ASSERT_TRUE(seq.isOk());
  ASSERT_TRUE(until([&] { return rec_.upstreamAcks().size() == 1; }));
  EXPECT_EQ(rec_.upstreamAcks()[0].seq, *seq);
  EXPECT_EQ(rec_.upstreamAcks()[0].reply, "pong");
  ASSERT_EQ(room_.conn(0).upstreams.size(), 1u);
  EXPECT_EQ(room_.conn(0).upstreams[0].type(), "chat");
  EXPECT_EQ(client_->sendUpstream("", "x", "bad type").status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(client_->sendUpstream("", "x", std::string(65, 'a')).status().code(),
            Code::INVALID_ARGUMENT);
  EXPECT_TRUE(client_->sendUpstream("", "x", std::string(64, 'a')).isOk());
  closeAll();
}

TEST(ClientRouteOptionsTest, ADispatcherReplacesTheServersListButBadValuesAreRefused) {
  ClientOptions o;
  o.token = "t";
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
  o.dispatcher = "http://127.0.0.1:8090";
  EXPECT_TRUE(Client::create(o).isOk());
  o.route_failures = 0;
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
  o.route_failures = 3;
  o.region = "bad region";
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
  o.region = "east";
  o.dispatcher = "https://127.0.0.1:8090";
  EXPECT_EQ(Client::create(o).status().code(), Code::INVALID_ARGUMENT);
}

TEST(RouteTest, ParsesTheDispatchersAnswerWithinBounds) {
  auto r = parseRoute(R"({"rooms":[{"id":"r1","tcp":["10.0.0.1:7000"]}],
      "tcp":["10.0.0.3:443","bad","push.example.com:7000","[::1]:7100"],
      "ws":["ws://10.0.0.3:7001/ws"],"heartbeat_s":60,"ttl_s":5,"extra":{"x":[1,2]}})");
  ASSERT_TRUE(r.isOk()) << r.status();
  ASSERT_EQ(r->tcp.size(), 3u);  // "bad" skipped
  EXPECT_EQ(r->tcp[0].text, "10.0.0.3:443");
  EXPECT_EQ(r->tcp[1].host, "push.example.com");
  EXPECT_EQ(r->heartbeat_s, 60u);
  EXPECT_EQ(r->ttl_s, kMinRouteTtlS);  // 5 s raised to the minimum
  EXPECT_EQ(parseRoute(R"({"tcp":["1.2.3.4:5"],"ttl_s":999999999})")->ttl_s, kMaxRouteTtlS);
  EXPECT_EQ(parseRoute(R"({"tcp":["1.2.3.4:5"]})")->ttl_s, kDefaultRouteTtlS);
  std::string many = R"({"tcp":[)";
  for (int i = 0; i < 100; ++i)
    many += (i ? ",\"10.0.0." : "\"10.0.0.") + std::to_string(i) + ":7000\"";
  many += "]}";
  EXPECT_EQ(parseRoute(many)->tcp.size(), kMaxRouteEntries);
  EXPECT_EQ(parseRoute(R"({"tcp":[]})").status().code(), Code::PROTOCOL_ERROR);
  EXPECT_EQ(parseRoute(R"({"tcp":["x"]})").status().code(), Code::PROTOCOL_ERROR);
  EXPECT_EQ(parseRoute("not json").status().code(), Code::PROTOCOL_ERROR);
  EXPECT_EQ(parseRoute(R"({"tcp":["1.2.3.4:5"]} trailing)").status().code(), Code::PROTOCOL_ERROR);
}

TEST(RouteTest, BuildsTheQueryAndParsesTheUrl) {
  EXPECT_EQ(routeTarget("", "demo", "a b&c", "wifi", "", 0),
            "/v1/route?app=demo&user=a%20b%26c&net=wifi&retry=0");
  EXPECT_EQ(routeTarget("/push", "demo", "u", "cellular", "east", 2),
            "/push/v1/route?app=demo&user=u&net=cellular&region=east&retry=2");
  auto u = HttpUrl::parse("http://dispatch.example.com:8090/push/");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->host, "dispatch.example.com");
  EXPECT_EQ(u->port, 8090);
  EXPECT_EQ(u->path, "/push");
  auto v6 = HttpUrl::parse("HTTP://[::1]");
  ASSERT_TRUE(v6.isOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  EXPECT_EQ(v6->path, "");
  for (const char* bad : {"https://h", "http://", "http://h:0", "http://h:70000",
                          "http://h:", "http://h/x?y=1", "http://h /x", "ftp://h", "http://[::1"}) {
    EXPECT_FALSE(HttpUrl::parse(bad).isOk()) << bad;
  }
}

}  // namespace
}  // namespace push::sdk::testing
