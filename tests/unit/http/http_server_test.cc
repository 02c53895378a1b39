#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/base/metrics.h"
#include "common/http/admin.h"
#include "common/http/json.h"
#include "common/net/event_loop.h"
#include "proto/config.pb.h"
#include "proto/echo.pb.h"
#include "tests/unit/http/test_client.h"

namespace push::http {
namespace {

using testing::BlockingClient;
using testing::ClientThread;
using testing::getRequest;
using testing::ParsedResponse;

// Every test: a real server on 127.0.0.1:0 on a loop driven by this thread, real sockets from
// a client thread, and at the end the server closed and the loop shut down with every handle
// closed (uv_loop_close() == 0).
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_
                    .add("GET", "/hello",
                         [](HttpRequest&, HttpResponder r) { r.respond(200, "hello world"); })
                    .isOk());
    ASSERT_TRUE(router_
                    .add("GET", "/echo",
                         [](HttpRequest& req, HttpResponder r) {
                           r.respond(200, std::string(req.query("n").value_or("")));
                         })
                    .isOk());
    ASSERT_TRUE(router_
                    .add("POST", "/echo",
                         [](HttpRequest& req, HttpResponder r) { r.respond(200, req.body()); })
                    .isOk());
    // Async: the responder waits in pending_ until the test answers it.
    ASSERT_TRUE(
        router_
            .add("GET", "/slow",
                 [this](HttpRequest&, HttpResponder r) { pending_.push_back(std::move(r)); })
            .isOk());
  }

  void TearDown() override {
    server_.reset();   // closes every connection; deletes itself later
    pending_.clear();  // answering after close is a harmless no-op
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void start(HttpServer::Options options = {}) {
    Result<HttpServerPtr> server =
        HttpServer::listen(loop_, options, std::move(router_), std::move(chain_));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    port_ = server_->address().port();
    ASSERT_NE(port_, 0);
  }

  // One request on a fresh connection, one response back.
  std::optional<ParsedResponse> roundTrip(std::string request) {
    std::optional<ParsedResponse> resp;
    ClientThread client(loop_, [&] {
      BlockingClient c(port_);
      c.send(request);
      resp = c.readResponse();
    });
    EXPECT_TRUE(client.wait());
    return resp;
  }

  net::EventLoop loop_;
  Router router_;
  MiddlewareChain chain_;
  HttpServerPtr server_;
  uint16_t port_ = 0;
  std::vector<HttpResponder> pending_;
};

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

TEST_F(HttpServerTest, KeepAliveReusesTheConnection) {
  start();
  std::optional<ParsedResponse> a, b;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/echo?n=1"));
    a = c.readResponse();
    c.send(getRequest("/echo?n=2"));
    b = c.readResponse();
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "1");
  EXPECT_EQ(b->body, "2");
  EXPECT_EQ(server_->requestCount(), 2u);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  start();
  std::optional<ParsedResponse> resp;
  std::string rest;
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    // The second request comes after "Connection: close": it must not be answered.
    c.send(getRequest("/echo?n=1", "Connection: close\r\n") + getRequest("/echo?n=2"));
    resp = c.readResponse();
    rest = c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "1");
  EXPECT_EQ(resp->header("Connection"), "close");
  EXPECT_TRUE(closed);
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; }));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  start();
  std::optional<ParsedResponse> plain, ka1, ka2;
  bool plain_closed = false;
  ClientThread client(loop_, [&] {
    {
      BlockingClient c(port_);
      c.send("GET /echo?n=old HTTP/1.0\r\n\r\n");
      plain = c.readResponse();
      c.readUntilClosed(&plain_closed);
    }
    BlockingClient c(port_);
    c.send("GET /echo?n=a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ka1 = c.readResponse();
    c.send("GET /echo?n=b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ka2 = c.readResponse();
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(plain && ka1 && ka2);
  EXPECT_EQ(plain->body, "old");
  EXPECT_EQ(plain->header("Connection"), "close");
  EXPECT_TRUE(plain_closed);
  EXPECT_EQ(ka1->header("Connection"), "keep-alive");
  EXPECT_EQ(ka2->body, "b");
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  std::vector<std::string> bodies;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/echo?n=1") + getRequest("/echo?n=2") + getRequest("/echo?n=3"));
    for (int i = 0; i < 3; ++i) {
      auto r = c.readResponse();
      bodies.push_back(r ? r->body : "<none>");
    }
  });
  ASSERT_TRUE(client.wait());
  EXPECT_EQ(bodies, (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(HttpServerTest, PipelinedAsyncFirstAnswerStillGoesFirst) {
  int fast_answered = 0;
  ASSERT_TRUE(router_
                  .add("GET", "/fast",
                       [&](HttpRequest& req, HttpResponder r) {
                         ++fast_answered;
                         r.respond(200, "fast" + std::string(req.query("n").value_or("")));
                       })
                  .isOk());
  start();
  std::vector<std::string> bodies;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/slow") + getRequest("/fast?n=1") + getRequest("/fast?n=2"));
    for (int i = 0; i < 3; ++i) {
      auto r = c.readResponse();
      bodies.push_back(r ? r->body : "<none>");
    }
  });
  // Both fast handlers have answered while the slow one is still pending.
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 1 && fast_answered == 2; }));
  EXPECT_FALSE(client.done());
  pending_[0].respond(200, "slow");
  ASSERT_TRUE(client.wait());
  EXPECT_EQ(bodies, (std::vector<std::string>{"slow", "fast1", "fast2"}));
}

TEST_F(HttpServerTest, StopsReadingAtMaxPipelined) {
  HttpServer::Options options;
  options.max_pipelined = 2;
  start(options);
  std::vector<std::string> bodies;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    std::string burst;
    for (int i = 0; i < 5; ++i)
      burst += getRequest("/slow?n=" + std::to_string(i));
    c.send(burst);
    for (int i = 0; i < 5; ++i) {
      auto r = c.readResponse();
      bodies.push_back(r ? r->body : "<none>");
    }
  });
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 2; }));
  // The other three are not even parsed while two wait (a bounded look, not a sync point).
  loop_.runUntil([] { return false; }, std::chrono::milliseconds(100));
  EXPECT_EQ(pending_.size(), 2u);
  EXPECT_EQ(server_->requestCount(), 2u);
  size_t answered = 0;
  while (answered < 5) {
    ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() > answered; })) << answered;
    const std::string n(pending_[answered].request().query("n").value_or("?"));
    EXPECT_EQ(n, std::to_string(answered));
    pending_[answered].respond(200, "r" + n);
    ++answered;
    EXPECT_LE(pending_.size() - answered, 2u);
  }
  ASSERT_TRUE(client.wait());
  EXPECT_EQ(bodies, (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4"}));
}

TEST_F(HttpServerTest, MalformedRequestIs400ThenClose) {
  start();
  for (std::string bad :
       {std::string("BLAH / HTTP/1.1\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: "
                    "2\r\n\r\nab"),
        std::string("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 3\r\n\r\n"),
        std::string("GET /x HTTP/1.1\r\nBad Header: v\r\n\r\n"),
        std::string("GET /x HTTP/1.1\r\nX-A : v\r\n\r\n")}) {
    std::optional<ParsedResponse> resp;
    bool closed = false;
    ClientThread client(loop_, [&] {
      BlockingClient c(port_);
      c.send(bad);
      resp = c.readResponse();
      c.readUntilClosed(&closed);
    });
    ASSERT_TRUE(client.wait()) << bad;
    ASSERT_TRUE(resp) << bad;
    EXPECT_EQ(resp->status, 400) << bad;
    EXPECT_EQ(resp->header("Connection"), "close");
    EXPECT_NE(resp->body.find("\"error\":"), std::string::npos) << resp->body;
    EXPECT_TRUE(closed) << bad;
  }
}

TEST_F(HttpServerTest, ErrorComesAfterEarlierPipelinedAnswers) {
  start();
  std::vector<int> statuses;
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/slow") + "NONSENSE\r\n\r\n");
    for (int i = 0; i < 2; ++i) {
      auto r = c.readResponse();
      statuses.push_back(r ? r->status : 0);
    }
    c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 1; }));
  pending_[0].respond(200, "ok");
  ASSERT_TRUE(client.wait());
  EXPECT_EQ(statuses, (std::vector<int>{200, 400}));
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  HttpServer::Options options;
  options.max_header_bytes = 1024;
  start(options);
  // Just under the limit passes.
  auto ok = roundTrip(getRequest("/hello", "X-Pad: " + std::string(900, 'a') + "\r\n"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  std::optional<ParsedResponse> resp;
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/hello", "X-Pad: " + std::string(2000, 'a') + "\r\n"));
    resp = c.readResponse();
    c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 431);
  EXPECT_EQ(resp->body, R"({"error":"request headers too large"})");
  EXPECT_TRUE(closed);
  // Many small headers count too.
  std::string many;
  for (int i = 0; i < 200; ++i)
    many += "X-H" + std::to_string(i) + ": v\r\n";
  resp = roundTrip(getRequest("/hello", many));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 431);
}

TEST_F(HttpServerTest, OversizedBodyIs413WithoutReadingIt) {
  HttpServer::Options options;
  options.max_body_bytes = 1000;
  start(options);
  std::optional<ParsedResponse> resp;
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    // Only the headers: the server must answer from the declared length.
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    resp = c.readResponse();
    c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 413);
  EXPECT_EQ(resp->body, R"({"error":"request body too large"})");
  EXPECT_TRUE(closed);

  // Chunked: found while reading.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i)
    chunked += "190\r\n" + std::string(400, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  resp = roundTrip(chunked);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 413);

  // At the limit is fine.
  resp = roundTrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" +
                   std::string(1000, 'y'));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body.size(), 1000u);
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

TEST_F(HttpServerTest, ClientGoneWhileHandlerPending) {
  start();
  // Reset: the server notices and closes; answering later does nothing.
  std::unique_ptr<BlockingClient> reset_client;
  ClientThread sender1(loop_, [&] {
    reset_client = std::make_unique<BlockingClient>(port_);
    reset_client->send(getRequest("/slow"));
  });
  ASSERT_TRUE(sender1.wait());
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 1; }));
  reset_client->close(/*reset=*/true);
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; }));
  pending_[0].respond(200, "too late");
  EXPECT_TRUE(pending_[0].responded());
  pending_.clear();

  // Plain close (FIN) while pending: the answer is written to a dead peer, then the
  // connection closes. Dropping instead of answering is just as harmless.
  std::unique_ptr<BlockingClient> fin_client;
  ClientThread sender(loop_, [&] {
    fin_client = std::make_unique<BlockingClient>(port_);
    fin_client->send(getRequest("/slow") + getRequest("/slow"));
  });
  ASSERT_TRUE(sender.wait());
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 2; }));
  fin_client->close();
  // Give the FIN a chance to arrive first (the test holds either way).
  loop_.runUntil([] { return false; }, std::chrono::milliseconds(50));
  EXPECT_EQ(server_->connectionCount(), 1u);  // kept: answers are still due
  pending_[0].respond(200, "late");
  pending_.pop_back();  // dropped: answers 500 to nobody
  EXPECT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; }));
}

TEST_F(HttpServerTest, HalfClosedClientStillGetsItsAnswer) {
  start();
  std::optional<ParsedResponse> resp;
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/slow"));
    c.shutdownWrite();
    resp = c.readResponse();
    c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 1; }));
  pending_[0].respond(200, "answered");
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "answered");
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, IdleConnectionsAreClosed) {
  HttpServer::Options options;
  options.idle_timeout = std::chrono::milliseconds(100);
  start(options);
  bool idle_closed = false, partial_closed = false;
  std::optional<ParsedResponse> resp;
  ClientThread client(loop_, [&] {
    BlockingClient idle(port_);
    BlockingClient partial(port_);
    partial.send("GET /hello HTTP/1.1\r\nHo");  // a request that never completes
    BlockingClient used(port_);
    used.send(getRequest("/hello"));
    resp = used.readResponse();
    idle.readUntilClosed(&idle_closed);
    partial.readUntilClosed(&partial_closed);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(idle_closed);
  EXPECT_TRUE(partial_closed);
}

TEST_F(HttpServerTest, GracefulStopStopsAcceptingAndClosesOnlyIdleConnections) {
  start();
  std::atomic<int> step{0};
  bool idle_closed = false, late_refused = false;
  std::optional<ParsedResponse> busy_resp;
  auto awaitStep = [&](int n) {
    for (int i = 0; i < 5000 && step.load() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  ClientThread client(loop_, [&] {
    BlockingClient idle(port_);
    BlockingClient busy(port_);
    busy.send(getRequest("/slow"));  // its handler keeps the responder
    step = 1;
    awaitStep(2);  // the server stops accepting and closes idle connections
    idle.readUntilClosed(&idle_closed);
    BlockingClient late(port_, BlockingClient::Options{.timeout_ms = 1000});
    late_refused = !late.connected();
    step = 3;
    busy_resp = busy.readResponse();
  });
  ASSERT_TRUE(loop_.runUntil([&] { return step == 1 && pending_.size() == 1; }));
  server_->stopAccepting();
  EXPECT_EQ(server_->closeIdleConnections(std::chrono::hours(1)), 0u);  // not quiet that long
  EXPECT_EQ(server_->closeIdleConnections(std::chrono::milliseconds(0)), 1u);  // not `busy`
  step = 2;
  ASSERT_TRUE(loop_.runUntil([&] { return step == 3; }));
  EXPECT_TRUE(idle_closed);
  EXPECT_TRUE(late_refused) << "a connection was accepted after stopAccepting()";
  pending_[0].respond(200, "finished");  // the request in flight is still answered
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(busy_resp);
  EXPECT_EQ(busy_resp->body, "finished");
}

TEST_F(HttpServerTest, PendingHandlerKeepsConnectionFromIdling) {
  HttpServer::Options options;
  options.idle_timeout = std::chrono::milliseconds(50);
  start(options);
  std::optional<ParsedResponse> resp;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send(getRequest("/slow"));
    resp = c.readResponse();
  });
  ASSERT_TRUE(loop_.runUntil([&] { return pending_.size() == 1; }));
  // Several idle periods pass while the handler works.
  loop_.runUntil([] { return false; }, std::chrono::milliseconds(300));
  EXPECT_EQ(server_->connectionCount(), 1u);
  pending_[0].respond(200, "worth the wait");
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "worth the wait");
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

TEST_F(HttpServerTest, HostileBytesNeverCrashOrHang) {
  HttpServer::Options options;
  options.max_header_bytes = 4096;
  options.max_body_bytes = 4096;
  start(options);
  std::vector<std::string> inputs = {
      std::string("\r\n\r\n\r\n"),
      std::string("GET /\r\n\r\n"),
      std::string("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
      std::string("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
      std::string("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
      std::string("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"),
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 19),
      std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 25),
      std::string("CONNECT host:443 HTTP/1.1\r\nHost: host\r\n\r\ngarbage after"),
      std::string("GET /hello HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81"),
      std::string(70000, 'G'),
      std::string("GET /") + std::string(10000, 'a') + " HTTP/1.1\r\n\r\n",
  };
  std::mt19937 rng(12345);
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 3000, '\0');
    for (char& c : junk)
      c = static_cast<char>(rng());
    if (i % 2 == 0) junk = "GET /hello HTTP/1.1\r\n" + junk;  // get past the request line
    inputs.push_back(std::move(junk));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool closed = false;
    std::string got;
    ClientThread client(loop_, [&] {
      BlockingClient c(port_);
      c.send(inputs[i]);
      c.shutdownWrite();  // whatever the server thinks, it must end the connection
      got = c.readUntilClosed(&closed);
    });
    ASSERT_TRUE(client.wait()) << "input " << i;
    EXPECT_TRUE(closed) << "input " << i;
    if (!got.empty()) {
      EXPECT_EQ(got.substr(0, 9), "HTTP/1.1 ") << "input " << i;
    }
  }
  // Still serving.
  auto resp = roundTrip(getRequest("/hello"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; }));
}

TEST_F(HttpServerTest, CloseWithOpenConnectionsAndPendingHandlers) {
  start();
  std::unique_ptr<BlockingClient> c1, c2;
  ClientThread client(loop_, [&] {
    c1 = std::make_unique<BlockingClient>(port_);
    c2 = std::make_unique<BlockingClient>(port_);
    c1->send(getRequest("/slow"));
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(
      loop_.runUntil([&] { return pending_.size() == 1 && server_->connectionCount() == 2; }));
  server_.reset();                             // closes it; the loop deletes the server
  pending_[0].respond(200, "nobody listens");  // no-op
  bool closed = false;
  ClientThread reader(loop_, [&] { c2->readUntilClosed(&closed); });
  ASSERT_TRUE(reader.wait());
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, HttpServerPtrClosesOnScopeExit) {
  uint16_t port = 0;
  {
    Result<HttpServerPtr> server =
        HttpServer::listen(loop_, HttpServer::Options{}, Router(), MiddlewareChain());
    ASSERT_TRUE(server.isOk());
    HttpServerPtr guard = std::move(server).value();
    port = guard->address().port();
  }
  // The listener is gone: the port can be bound again at once. (Connecting to it instead was
  // flaky: under ctest -j2 another test may take the freed ephemeral port meanwhile.)
  for (int i = 0; i < 3; ++i)
    uv_run(loop_.uvLoop(), UV_RUN_NOWAIT);  // close callbacks run
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  EXPECT_EQ(rc, 0) << "port " << port << " still bound after the HttpServerPtr went away";
}

TEST_F(HttpServerTest, HandlerMayCloseTheServer) {
  ASSERT_TRUE(router_
                  .add("POST", "/quit",
                       [this](HttpRequest&, HttpResponder r) {
                         r.respond(200, "bye");
                         server_.reset();  // closes it from inside its own handler
                       })
                  .isOk());
  start();
  bool closed = false;
  ClientThread client(loop_, [&] {
    BlockingClient c(port_);
    c.send("POST /quit HTTP/1.1\r\nContent-Length: 0\r\n\r\n" + getRequest("/hello"));
    c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(client.wait());
  EXPECT_TRUE(closed);
  EXPECT_FALSE(server_);
}

// ---- closing connections are bounded; connection caps ----

metrics::Counter& lingerTimeouts() {
  return metrics::Registry::global().counter(
      "push_http_connection_timeouts_total",
      "HTTP connections the server closed on a deadline: idle_timeout (idle), or "
      "close_linger_timeout (close_linger: a closing client that did not read its last answer "
      "or did not close its side).",
      R"(reason="close_linger")");
}

metrics::Counter& idleTimeouts() {
  return metrics::Registry::global().counter(
      "push_http_connection_timeouts_total",
      "HTTP connections the server closed on a deadline: idle_timeout (idle), or "
      "close_linger_timeout (close_linger: a closing client that did not read its last answer "
      "or did not close its side).",
      R"(reason="idle")");
}

metrics::Counter& refusedConnections(bool per_ip) {
  return metrics::Registry::global().counter(
      "push_http_connections_refused_total",
      "HTTP connections closed at accept because a connection limit was reached, by limit.",
      per_ip ? R"(reason="max_connections_per_ip")" : R"(reason="max_connections")");
}

// Each request ends its connection (HTTP/1.0, a 400, "Connection: close"). The client reads
// the answer and the server's FIN, but never closes its own side: the server's lingering close
// would wait forever; close_linger_timeout closes it. Failed before the option existed (the
// connections stayed in connectionCount() for good).
TEST_F(HttpServerTest, ClosingConnectionTimesOutWhenClientNeverCloses) {
  HttpServer::Options options;
  options.close_linger_timeout = std::chrono::milliseconds(300);
  start(options);
  const uint64_t timeouts_before = lingerTimeouts().value();
  const std::vector<std::string> requests = {
      "GET /hello HTTP/1.0\r\n\r\n",
      "BLAH / HTTP/1.1\r\n\r\n",
      getRequest("/hello", "Connection: close\r\n"),
  };
  std::vector<std::unique_ptr<BlockingClient>> clients;
  std::vector<int> statuses;
  std::vector<bool> saw_fin;
  ClientThread client(loop_, [&] {
    for (const std::string& request : requests) {
      auto c = std::make_unique<BlockingClient>(port_);
      c->send(request);
      auto resp = c->readResponse();
      statuses.push_back(resp ? resp->status : 0);
      bool closed = false;
      c->readUntilClosed(&closed);  // the server's FIN (bounded by the client's timeout)
      saw_fin.push_back(closed);
      clients.push_back(std::move(c));  // kept open: this side never closes
    }
  });
  ASSERT_TRUE(client.wait());
  EXPECT_EQ(statuses, (std::vector<int>{200, 400, 200}));
  EXPECT_EQ(saw_fin, (std::vector<bool>{true, true, true}));
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; },
                             std::chrono::milliseconds(3000)))
      << server_->connectionCount() << " connections still open";
  EXPECT_EQ(lingerTimeouts().value() - timeouts_before, 3u);
}

// The same when the client half-closes (FIN) and never reads: the answer is stuck in the
// server's output, the FIN never goes out, and the lingering close is cut by the deadline.
TEST_F(HttpServerTest, ClosingConnectionWithUnreadAnswerTimesOut) {
  ASSERT_TRUE(router_
                  .add("GET", "/big",
                       [](HttpRequest&, HttpResponder r) {
                         r.respond(200, std::string(8u << 20, 'b'));  // 8 MiB
                       })
                  .isOk());
  HttpServer::Options options;
  options.close_linger_timeout = std::chrono::milliseconds(300);
  start(options);
  const uint64_t timeouts_before = lingerTimeouts().value();
  std::unique_ptr<BlockingClient> keep_alive_close, half_closed;
  ClientThread client(loop_, [&] {
    BlockingClient::Options small_window{.receive_buffer = 4096};
    keep_alive_close = std::make_unique<BlockingClient>(port_, small_window);
    keep_alive_close->send(getRequest("/big", "Connection: close\r\n"));
    half_closed = std::make_unique<BlockingClient>(port_, small_window);
    half_closed->send(getRequest("/big"));
    half_closed->shutdownWrite();
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(loop_.runUntil([&] { return server_->requestCount() == 2; }));
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; },
                             std::chrono::milliseconds(3000)))
      << server_->connectionCount() << " connections still open";
  EXPECT_EQ(lingerTimeouts().value() - timeouts_before, 2u);
}

// A keep-alive client that never reads its (large) answer: the idle timeout closes it (queued
// output is not activity).
TEST_F(HttpServerTest, KeepAliveConnectionWithUnreadAnswerIdlesOut) {
  ASSERT_TRUE(
      router_
          .add("GET", "/big",
               [](HttpRequest&, HttpResponder r) { r.respond(200, std::string(8u << 20, 'b')); })
          .isOk());
  HttpServer::Options options;
  options.idle_timeout = std::chrono::milliseconds(200);
  start(options);
  const uint64_t idle_before = idleTimeouts().value();
  std::unique_ptr<BlockingClient> c;
  ClientThread client(loop_, [&] {
    c = std::make_unique<BlockingClient>(port_, BlockingClient::Options{.receive_buffer = 4096});
    c->send(getRequest("/big"));
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(loop_.runUntil([&] { return server_->requestCount() == 1; }));
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 0; },
                             std::chrono::milliseconds(3000)));
  EXPECT_EQ(idleTimeouts().value() - idle_before, 1u);
}

// Opens `n` connections from the client thread and waits until the server has them all.
std::vector<std::unique_ptr<BlockingClient>> openConnections(net::EventLoop& loop,
                                                             HttpServer& server, uint16_t port,
                                                             int n) {
  std::vector<std::unique_ptr<BlockingClient>> clients;
  const size_t before = server.connectionCount();
  ClientThread opener(loop, [&] {
    for (int i = 0; i < n; ++i)
      clients.push_back(std::make_unique<BlockingClient>(port));
  });
  EXPECT_TRUE(opener.wait());
  EXPECT_TRUE(loop.runUntil([&] { return server.connectionCount() == before + n; }));
  return clients;
}

// Connects once more and reports whether the server ended the connection at once (EOF or
// reset within 2 s, with no answer) while connectionCount() stayed as it was.
void expectRefused(net::EventLoop& loop, HttpServer& server, uint16_t port,
                   BlockingClient::Options options = {}) {
  const size_t before = server.connectionCount();
  bool closed = false;
  std::string got;
  ClientThread refused(loop, [&] {
    options.timeout_ms = 2000;
    BlockingClient c(port, options);
    c.send(getRequest("/hello"));
    got = c.readUntilClosed(&closed);
  });
  ASSERT_TRUE(refused.wait());
  EXPECT_TRUE(closed) << "the refused connection was not closed at once";
  EXPECT_EQ(got, "");
  EXPECT_EQ(server.connectionCount(), before);
}

TEST_F(HttpServerTest, MaxConnectionsRefusesTheNextOne) {
  HttpServer::Options options;
  options.max_connections = 3;
  start(options);
  const uint64_t refused_before = refusedConnections(false).value();
  auto clients = openConnections(loop_, *server_, port_, 3);
  expectRefused(loop_, *server_, port_);
  EXPECT_EQ(refusedConnections(false).value() - refused_before, 1u);
  // The open ones are served; a freed place is taken again.
  std::optional<ParsedResponse> resp;
  ClientThread user(loop_, [&] {
    clients[0]->send(getRequest("/hello"));
    resp = clients[0]->readResponse();
    clients[1]->close();
  });
  ASSERT_TRUE(user.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 2; }));
  resp = roundTrip(getRequest("/hello"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
}

TEST_F(HttpServerTest, MaxConnectionsPerIpRefusesThatClientOnly) {
  HttpServer::Options options;
  options.max_connections_per_ip = 2;
  start(options);
  const uint64_t refused_before = refusedConnections(true).value();
  auto clients = openConnections(loop_, *server_, port_, 2);  // from 127.0.0.1
  expectRefused(loop_, *server_, port_);
  EXPECT_EQ(refusedConnections(true).value() - refused_before, 1u);

  // Another client address on the loopback network is not limited by 127.0.0.1's count.
  std::optional<ParsedResponse> other;
  ClientThread elsewhere(loop_, [&] {
    BlockingClient c(port_, BlockingClient::Options{.bind_host = "127.0.0.2"});
    if (!c.connected()) return;
    c.send(getRequest("/hello"));
    other = c.readResponse();
  });
  ASSERT_TRUE(elsewhere.wait());
  ASSERT_TRUE(other) << "connection from 127.0.0.2 refused";
  EXPECT_EQ(other->status, 200);

  // Closing one frees a place for 127.0.0.1 again.
  ClientThread closer(loop_, [&] { clients[0]->close(); });
  ASSERT_TRUE(closer.wait());
  ASSERT_TRUE(loop_.runUntil([&] { return server_->connectionCount() == 1; }));
  auto resp = roundTrip(getRequest("/hello"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
}

}  // namespace
}  // namespace push::http
