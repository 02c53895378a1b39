// HttpServer connection handling: keep-alive and "Connection: close", HTTP/1.0, pipelining
// (answers in order, max_pipelined), clients that reset or half-close while a handler works,
// graceful stop, and closing the server with connections open or from inside a handler.

#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/http/http_server_test_util.h"
#include "tests/unit/http/test_client.h"

namespace push::http {
namespace {

using testing::BlockingClient;
using testing::ClientThread;
using testing::getRequest;
using testing::HttpServerTest;
using testing::ParsedResponse;

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
  ASSERT_TRUE(loop_.runUntil([&] { return step == 3; }, std::chrono::seconds(10),
                             std::chrono::milliseconds(5)));
  EXPECT_TRUE(idle_closed);
  EXPECT_TRUE(late_refused) << "a connection was accepted after stopAccepting()";
  pending_[0].respond(200, "finished");  // the request in flight is still answered
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(busy_resp);
  EXPECT_EQ(busy_resp->body, "finished");
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

}  // namespace
}  // namespace push::http
