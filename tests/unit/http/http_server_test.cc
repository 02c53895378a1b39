// HttpServer end to end, what a request gets back: routing (404, 405, path and query
// parameters), the request as a handler sees it, response framing (Content-Length, HEAD,
// chunked bodies, 100-continue), 500 for a handler that never answers, middleware, JSON bodies,
// the admin endpoints, and Options::fromConfig. Connection handling is in
// http_server_connection_test.cc, bad input in http_server_bad_input_test.cc, deadlines and
// connection caps in http_server_limits_test.cc; the fixture is in http_server_test_util.h.

#include "common/http/http_server.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/base/metrics.h"
#include "common/http/admin.h"
#include "common/http/json.h"
#include "proto/config.pb.h"
#include "proto/echo.pb.h"
#include "tests/unit/http/http_server_test_util.h"
#include "tests/unit/http/test_client.h"

namespace push::http {
namespace {

using testing::BlockingClient;
using testing::ClientThread;
using testing::getRequest;
using testing::HttpServerTest;
using testing::ParsedResponse;

TEST_F(HttpServerTest, AnswersGetWithContentLength) {
  start();
  auto resp = roundTrip(getRequest("/hello"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "hello world");
  EXPECT_EQ(resp->header("Content-Length"), "11");
  EXPECT_EQ(resp->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(resp->header("Connection"));  // HTTP/1.1 keep-alive is implied
}

TEST_F(HttpServerTest, UnknownPathIs404WithJsonError) {
  start();
  auto resp = roundTrip(getRequest("/nope"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 404);
  EXPECT_EQ(resp->body, R"({"error":"not found"})");
  EXPECT_EQ(resp->header("Content-Type"), "application/json");
}

TEST_F(HttpServerTest, KnownPathWrongMethodIs405WithAllow) {
  start();
  auto resp = roundTrip("DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 405);
  EXPECT_EQ(resp->header("Allow"), "GET, HEAD, POST");
  EXPECT_EQ(resp->body, R"({"error":"method not allowed"})");
}

TEST_F(HttpServerTest, PathParametersAndExactSegmentsWin) {
  ASSERT_TRUE(router_
                  .add("GET", "/v1/apps/{app}/users/{user}",
                       [](HttpRequest& req, HttpResponder r) {
                         r.respond(200, std::string(*req.pathParam("app")) + "|" +
                                            std::string(*req.pathParam("user")));
                       })
                  .isOk());
  ASSERT_TRUE(router_
                  .add("GET", "/v1/apps/{app}/users/me",
                       [](HttpRequest& req, HttpResponder r) {
                         r.respond(200, "me of " + std::string(*req.pathParam("app")));
                       })
                  .isOk());
  start();
  auto resp = roundTrip(getRequest("/v1/apps/chat%2Fbeta/users/u%2042"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "chat/beta|u 42");
  resp = roundTrip(getRequest("/v1/apps/chat/users/me"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "me of chat");
}

TEST_F(HttpServerTest, QueryParametersAreDecoded) {
  std::vector<HttpRequest::Param> seen;
  std::string path;
  ASSERT_TRUE(router_
                  .add("GET", "/q/{x}",
                       [&](HttpRequest& req, HttpResponder r) {
                         seen = req.queryParams();
                         path = req.path();
                         r.respond(200, "");
                       })
                  .isOk());
  start();
  auto resp = roundTrip(getRequest("/q/a%20b?user=u%2F1&msg=hi+there&flag&empty="));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(path, "/q/a b");
  std::vector<HttpRequest::Param> want = {
      {"user", "u/1"}, {"msg", "hi there"}, {"flag", ""}, {"empty", ""}};
  EXPECT_EQ(seen, want);
}

TEST_F(HttpServerTest, RequestCarriesHeadersBodyAndPeer) {
  std::string host, custom, body, peer, method;
  ASSERT_TRUE(router_
                  .add("PUT", "/things/{id}",
                       [&](HttpRequest& req, HttpResponder r) {
                         host = std::string(req.header("HOST").value_or("?"));
                         custom = std::string(req.header("x-custom").value_or("?"));
                         body = req.body();
                         peer = req.peer().host();
                         method = req.method();
                         r.respond(204, "");
                       })
                  .isOk());
  start();
  auto resp = roundTrip(
      "PUT /things/1 HTTP/1.1\r\nHost: example\r\nX-Custom:   spaced value  \r\n"
      "Content-Length: 5\r\n\r\nabcde");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 204);
  EXPECT_FALSE(resp->header("Content-Length"));  // 204 carries no body
  EXPECT_EQ(method, "PUT");
  EXPECT_EQ(host, "example");
  EXPECT_EQ(custom, "spaced value");
  EXPECT_EQ(body, "abcde");
  EXPECT_EQ(peer, "127.0.0.1");
}

TEST_F(HttpServerTest, ChunkedBodyIsAssembled) {
  start();
  auto resp = roundTrip(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "hello world");
}

TEST_F(HttpServerTest, HeadGetsHeadersOnly) {
  start();
  std::optional<ParsedResponse> resp, next;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" + getRequest("/echo?n=after"));
    resp = c.readResponse(/*head=*/true);
    next = c.readResponse();  // proves no body bytes were sent for HEAD
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp && next);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->header("Content-Length"), "11");
  EXPECT_EQ(next->body, "after");
}

TEST_F(HttpServerTest, ExpectContinueGets100) {
  start();
  std::optional<ParsedResponse> interim, final_resp;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    interim = c.readResponse();
    c.send("body");
    final_resp = c.readResponse();
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(interim && final_resp);
  EXPECT_EQ(interim->status, 100);
  EXPECT_EQ(final_resp->status, 200);
  EXPECT_EQ(final_resp->body, "body");
}

TEST_F(HttpServerTest, RequestSplitIntoSingleBytes) {
  start();
  std::optional<ParsedResponse> resp;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    const std::string req = "POST /echo?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz";
    for (char ch : req)
      c.send(std::string_view(&ch, 1));
    resp = c.readResponse();
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "xyz");
}

TEST_F(HttpServerTest, DroppedResponderAnswers500) {
  ASSERT_TRUE(router_.add("GET", "/forgets", [](HttpRequest&, HttpResponder) {}).isOk());
  ASSERT_TRUE(
      router_
          .add("GET", "/throws",
               [](HttpRequest&, HttpResponder) -> void { throw std::runtime_error("boom"); })
          .isOk());
  start();
  auto resp = roundTrip(getRequest("/forgets"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 500);
  EXPECT_EQ(resp->body, R"({"error":"handler did not respond"})");
  resp = roundTrip(getRequest("/throws"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 500);
}

TEST_F(HttpServerTest, MiddlewareRunsInOrderAndCanShortCircuit) {
  std::vector<std::string> trace;
  chain_.add([&](HttpRequest& req, HttpResponder& r) {
    trace.push_back("first " + req.path());
    r.onComplete([&](const HttpRequest&, HttpResponse& resp) {
      trace.push_back("first done " + std::to_string(resp.status()));
      resp.setHeader("X-Request-Id", "42");
    });
  });
  // Auth: a user function answering 401.
  chain_.add([&](HttpRequest& req, HttpResponder& r) {
    trace.push_back("auth");
    if (req.header("Authorization") != "Bearer good") r.respondError(401, "unauthorized");
  });
  // Rate limit: a user function answering 429 + Retry-After.
  int budget = 1;
  chain_.add([&](HttpRequest&, HttpResponder& r) {
    trace.push_back("limit");
    if (budget-- <= 0) {
      HttpResponse resp = HttpResponse::error(429, "rate limited");
      resp.setHeader("Retry-After", "7");
      r.respond(std::move(resp));
    }
  });
  ASSERT_TRUE(router_
                  .add("GET", "/private",
                       [&](HttpRequest&, HttpResponder r) {
                         trace.push_back("handler");
                         r.respond(200, "secret");
                       })
                  .isOk());
  start();

  auto denied = roundTrip(getRequest("/private"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(denied->header("X-Request-Id"), "42");
  EXPECT_EQ(trace, (std::vector<std::string>{"first /private", "auth", "first done 401"}));

  trace.clear();
  auto allowed = roundTrip(getRequest("/private", "Authorization: Bearer good\r\n"));
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  EXPECT_EQ(allowed->body, "secret");
  EXPECT_EQ(trace, (std::vector<std::string>{"first /private", "auth", "limit", "handler",
                                             "first done 200"}));

  auto limited = roundTrip(getRequest("/private", "Authorization: Bearer good\r\n"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->header("Retry-After"), "7");
}

TEST_F(HttpServerTest, JsonBodiesThroughProtobuf) {
  ASSERT_TRUE(router_
                  .add("POST", "/v1/echo",
                       [](HttpRequest& req, HttpResponder r) {
                         echo::EchoRequest in;
                         if (Status st = parseJsonBody(req, &in); !st.isOk()) {
                           r.respondError(400, st.message());
                           return;
                         }
                         echo::EchoResponse out;
                         out.set_message(in.message());
                         out.set_server_id("s1");
                         respondJson(r, 200, out);
                       })
                  .isOk());
  start();
  auto post = [](std::string body) {
    return "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  auto ok = roundTrip(post(R"({"message":"hi","delayMs":3})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->header("Content-Type"), "application/json");
  EXPECT_EQ(ok->body, R"({"message":"hi","serverId":"s1"})");

  auto bad = roundTrip(post(R"({"message": )"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("invalid JSON for push.echo.EchoRequest"), std::string::npos)
      << bad->body;

  auto unknown = roundTrip(post(R"({"mesage":"typo"})"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("mesage"), std::string::npos) << unknown->body;
}

TEST_F(HttpServerTest, AdminEndpoints) {
  bool ready = true;
  mountAdmin(router_, AdminInfo{
                          .health = [&] { return ready ? Status::ok() : unavailable("draining"); },
                          .status_json = [] { return std::string(R"({"rooms":3})"); },
                      });
  chain_.add(requestMetrics());
  chain_.add(requestLog());
  auto& things =
      metrics::Registry::global().counter("push_http_test_things_total", "Things in a test.");
  things.inc(3);
  start();

  auto health = roundTrip(getRequest("/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  ready = false;
  health = roundTrip(getRequest("/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(health->body, R"({"error":"draining"})");

  auto status = roundTrip(getRequest("/status"));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->header("Content-Type"), "application/json");
  EXPECT_EQ(status->body, R"({"rooms":3})");

  auto metrics = roundTrip(getRequest("/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(metrics->body.find("push_http_test_things_total " + std::to_string(things.value())),
            std::string::npos)
      << metrics->body;
  // The metrics middleware counted the earlier requests.
  EXPECT_NE(metrics->body.find("push_http_requests_total{code=\"200\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("push_http_requests_total{code=\"503\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("push_http_request_seconds_count"), std::string::npos);
}

TEST_F(HttpServerTest, OptionsFromConfigApplyDefaults) {
  config::HttpServerConfig cfg;
  HttpServer::Options o = HttpServer::Options::fromConfig(cfg);
  EXPECT_EQ(o.max_header_bytes, 16u * 1024);
  EXPECT_EQ(o.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(o.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(o.max_pipelined, 64u);
  EXPECT_EQ(o.close_linger_timeout, std::chrono::seconds(5));
  EXPECT_EQ(o.max_connections, 10000u);
  EXPECT_EQ(o.max_connections_per_ip, 0u);
  EXPECT_EQ(o.address, "127.0.0.1:0");
  cfg.mutable_listen()->set_address("127.0.0.1:0");
  cfg.set_max_header_bytes(100);
  cfg.set_max_body_bytes(200);
  cfg.set_idle_timeout_s(5);
  cfg.set_max_pipelined(3);
  cfg.set_close_linger_timeout_ms(250);
  cfg.set_max_connections(50);
  cfg.set_max_connections_per_ip(7);
  o = HttpServer::Options::fromConfig(cfg);
  EXPECT_EQ(o.max_header_bytes, 100u);
  EXPECT_EQ(o.max_body_bytes, 200u);
  EXPECT_EQ(o.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(o.max_pipelined, 3u);
  EXPECT_EQ(o.close_linger_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(o.max_connections, 50u);
  EXPECT_EQ(o.max_connections_per_ip, 7u);
  start(o);  // and a server runs with them
  auto resp = roundTrip(getRequest("/hello"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
}

TEST_F(HttpServerTest, ListenOnBadAddressFails) {
  Result<HttpServerPtr> server = HttpServer::listen(loop_, HttpServer::Options{.address = "nope"},
                                                    Router(), MiddlewareChain());
  EXPECT_FALSE(server.isOk());
}

}  // namespace
}  // namespace push::http
