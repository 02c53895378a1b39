#include "common/http/curl_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"

namespace push::http {
namespace {

using namespace std::chrono_literals;
using Response = CurlClient::Response;

// A raw TCP server for what HttpServer never does: it answers every connection with fixed
// bytes once it has read anything (none: just closes, a reply of nothing), then closes.
class RawServer : private net::TcpConnection::Handler {
 public:
  RawServer(net::EventLoop& loop, std::string answer) : answer_(std::move(answer)) {
    auto server = net::TcpServer::listen(
        loop, {}, [this](net::TcpConnection& conn) { conn.start(this, &limits_); });
    EXPECT_TRUE(server.isOk());
    server_ = std::move(server).value();
  }
  ~RawServer() { server_.reset(); }
  uint16_t port() const { return server_->address().port(); }

 private:
  size_t onData(net::TcpConnection& conn, const char*, size_t len) override {
    if (!answered_.insert(&conn).second) return len;
    if (!answer_.empty()) conn.send(answer_);
    conn.closeAfterWrite();
    return len;
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason) override {
    answered_.erase(&conn);
  }
  std::string answer_;
  net::TcpConnection::Limits limits_;
  net::TcpServerPtr server_;
  std::set<net::TcpConnection*> answered_;
};

class CurlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add("GET", "/hello", [](HttpRequest& req, HttpResponder r) {
      HttpResponse resp =
          HttpResponse::text(200, "hello " + std::string(req.header("X-Who").value_or("?")));
      resp.setHeader("X-Test", "yes");
      r.respond(std::move(resp));
    });
    add("POST", "/echo", [](HttpRequest& req, HttpResponder r) {
      r.respond(200, std::string(req.header("Content-Type").value_or("-")) + "|" + req.body());
    });
    add("GET", "/status/{code}", [](HttpRequest& req, HttpResponder r) {
      r.respond(std::stoi(std::string(*req.pathParam("code"))), "status body");
    });
    add("GET", "/big",
        [](HttpRequest&, HttpResponder r) { r.respond(200, std::string(200'000, 'x')); });
    // Never answered by itself: the responder waits in pending_ (the test answers or drops it).
    add("GET", "/slow", [this](HttpRequest&, HttpResponder r) {
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      pending_.push_back(std::move(r));
    });
    auto server = HttpServer::listen(loop_, {}, std::move(router_));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->address().port());
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    pending_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void add(const char* method, const char* path, HttpHandler handler) {
    ASSERT_TRUE(router_.add(method, path, std::move(handler)).isOk());
  }

  void makeClient(CurlClient::Options options = {}) {
    auto client = CurlClient::create(loop_, std::move(options));
    ASSERT_TRUE(client.isOk()) << client.status();
    client_ = std::move(client).value();
  }

  // Answers every request the /slow route holds.
  void answerPending() {
    for (HttpResponder& r : pending_) {
      --in_flight_;
      r.respond(200, "late");
    }
    pending_.clear();
  }

  // Runs one request to completion; checks `done` ran once and not inside request().
  Result<Response> run(CurlClient::Request request, std::chrono::milliseconds bound = 10s) {
    std::optional<Result<Response>> result;
    int calls = 0;
    client_->request(std::move(request), [&](Result<Response> r) {
      ++calls;
      result.emplace(std::move(r));
    });
    EXPECT_FALSE(result.has_value()) << "done ran inside request()";
    EXPECT_TRUE(loop_.runUntil([&] { return result.has_value(); }, bound));
    loop_.runUntil([] { return false; }, 20ms);  // a second call would show here
    EXPECT_EQ(calls, 1);
    if (!result) return Status(Code::INTERNAL, "no result");
    return std::move(*result);
  }

  net::EventLoop loop_;
  Router router_;
  HttpServerPtr server_;
  std::string base_;
  std::vector<HttpResponder> pending_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::unique_ptr<CurlClient> client_;
};

TEST_F(CurlClientTest, GetReturnsStatusHeadersAndBody) {
  makeClient();
  Result<Response> r = run({.url = base_ + "/hello", .headers = {{"X-Who", "bob"}}});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello bob");
  EXPECT_EQ(r->header("x-test").value_or(""), "yes");
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(CurlClientTest, PostSendsBodyAndContentType) {
  makeClient();
  Result<Response> r = run({.method = "POST",
                            .url = base_ + "/echo",
                            .headers = {{"Content-Type", "application/json"}},
                            .body = R"({"a":1})"});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"(application/json|{"a":1})");
  // Without a Content-Type none is sent (not curl's form default); a large body goes at once
  // (no Expect: 100-continue).
  r = run({.method = "POST", .url = base_ + "/echo", .body = std::string(100'000, 'b')});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->body, "-|" + std::string(100'000, 'b'));
}

TEST_F(CurlClientTest, ErrorStatusesAreResponses) {
  makeClient();
  Result<Response> r = run({.url = base_ + "/nothing-here"});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 404);
  r = run({.url = base_ + "/status/500"});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "status body");
}

TEST_F(CurlClientTest, ConnectionsAreReused) {
  makeClient();
  for (int i = 0; i < 10; ++i) {
    Result<Response> r = run({.url = base_ + "/hello"});
    ASSERT_TRUE(r.isOk()) << r.status();
  }
  EXPECT_EQ(client_->stats().connections, 1u);
  EXPECT_EQ(client_->stats().responses, 10u);
}

TEST_F(CurlClientTest, TimeoutFailsWithTimeoutWithinBound) {
  makeClient();
  const auto start = std::chrono::steady_clock::now();
  Result<Response> r = run({.url = base_ + "/slow", .timeout = 200ms}, 5s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::TIMEOUT) << r.status();
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
}

TEST_F(CurlClientTest, NothingListeningIsUnavailable) {
  uint16_t port = 0;
  {
    auto probe = net::TcpServer::listen(loop_, {}, [](net::TcpConnection&) {});
    ASSERT_TRUE(probe.isOk());
    port = (*probe)->address().port();
  }  // closed: nothing listens on `port` now
  loop_.runUntil([] { return false; }, 10ms);
  makeClient();
  Result<Response> r = run({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::UNAVAILABLE) << r.status();
}

TEST_F(CurlClientTest, ConnectionClosedWithoutAnswerIsUnavailable) {
  RawServer raw(loop_, "");
  makeClient();
  Result<Response> r = run({.url = "http://127.0.0.1:" + std::to_string(raw.port()) + "/"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::UNAVAILABLE) << r.status();
}

TEST_F(CurlClientTest, ConnectionClosedMidBodyIsUnavailable) {
  RawServer raw(loop_, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b");
  makeClient();
  Result<Response> r = run({.url = "http://127.0.0.1:" + std::to_string(raw.port()) + "/"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::UNAVAILABLE) << r.status();
}

TEST_F(CurlClientTest, BadUrlsAndHeadersAreInvalidArgument) {
  makeClient();
  for (const std::string url : {"not a url", "ftp://127.0.0.1/file", "http://"}) {
    Result<Response> r = run({.url = url});
    ASSERT_FALSE(r.isOk()) << url;
    EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << url << ": " << r.status();
  }
  Result<Response> r = run({.url = base_ + "/hello", .headers = {{"X-Bad", "a\r\nInjected: 1"}}});
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << r.status();
  r = run({.method = "GE T", .url = base_ + "/hello"});
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << r.status();
}

TEST_F(CurlClientTest, BodyOverTheLimitFails) {
  makeClient({.max_body_bytes = 64 * 1024});
  // Declared length over the limit: refused before the body is read.
  Result<Response> r = run({.url = base_ + "/big"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::PROTOCOL_ERROR) << r.status();
  // No length (body until close): aborted once the limit is passed.
  RawServer raw(loop_, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(300'000, 'y'));
  r = run({.url = "http://127.0.0.1:" + std::to_string(raw.port()) + "/"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::PROTOCOL_ERROR) << r.status();
  // Under the limit still works.
  r = run({.url = base_ + "/hello"});
  EXPECT_TRUE(r.isOk()) << r.status();
}

TEST_F(CurlClientTest, PerHostCapHoldsOverManyConcurrentRequests) {
  makeClient({.max_transfers = 64, .max_transfers_per_host = 4});
  constexpr int kRequests = 200;
  int ok = 0;
  int failed = 0;
  size_t max_running = 0;
  for (int i = 0; i < kRequests; ++i) {
    client_->request({.url = base_ + "/slow"}, [&](Result<Response> r) {
      if (r.isOk() && r->status == 200 && r->body == "late") {
        ++ok;
      } else {
        ++failed;
      }
    });
  }
  EXPECT_EQ(client_->running(), 4u);
  EXPECT_EQ(client_->queued(), static_cast<size_t>(kRequests - 4));
  // The server answers what it holds after every loop turn.
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        max_running = std::max(max_running, client_->running());
        answerPending();
        return ok + failed == kRequests;
      },
      30s));
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(max_in_flight_, 4);
  EXPECT_LE(max_running, 4u);
  EXPECT_LE(client_->stats().connections, 4u);  // kept alive and reused
}

TEST_F(CurlClientTest, FullQueueIsOverloadedAtOnceButNotInsideTheCall) {
  makeClient({.max_transfers = 1, .max_queued = 1});
  std::vector<Code> codes;
  for (int i = 0; i < 3; ++i) {
    client_->request({.url = base_ + "/slow"}, [&](Result<Response> r) {
      codes.push_back(r.isOk() ? Code::OK : r.status().code());
    });
  }
  EXPECT_TRUE(codes.empty());
  EXPECT_TRUE(loop_.runUntil([&] { return !codes.empty(); }, 5s));
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], Code::OVERLOADED);
  EXPECT_EQ(client_->stats().overloaded, 1u);
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        answerPending();
        return codes.size() == 3;
      },
      5s));
  EXPECT_EQ(codes[1], Code::OK);
  EXPECT_EQ(codes[2], Code::OK);
}

TEST_F(CurlClientTest, QueuedRequestTimesOutWhileWaiting) {
  makeClient({.max_transfers = 1});
  std::vector<Code> codes;
  auto record = [&](Result<Response> r) {
    codes.push_back(r.isOk() ? Code::OK : r.status().code());
  };
  client_->request({.url = base_ + "/slow", .timeout = 2s}, record);
  client_->request({.url = base_ + "/slow", .timeout = 100ms}, record);  // waits, expires
  EXPECT_TRUE(loop_.runUntil([&] { return !codes.empty(); }, 5s));
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], Code::TIMEOUT);
  EXPECT_EQ(client_->queued(), 0u);
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        answerPending();
        return codes.size() == 2;
      },
      5s));
  EXPECT_EQ(codes[1], Code::OK);
}

TEST_F(CurlClientTest, CancelDropsTheCallback) {
  makeClient({.max_transfers = 1});
  int calls = 0;
  CurlClient::RequestId running =
      client_->request({.url = base_ + "/slow"}, [&](Result<Response>) { ++calls; });
  CurlClient::RequestId queued =
      client_->request({.url = base_ + "/slow"}, [&](Result<Response>) { ++calls; });
  EXPECT_TRUE(loop_.runUntil([&] { return pending_.size() == 1; }, 5s));
  EXPECT_TRUE(client_->cancel(queued));
  EXPECT_TRUE(client_->cancel(running));
  EXPECT_FALSE(client_->cancel(running));
  EXPECT_EQ(client_->pending(), 0u);
  answerPending();
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(CurlClientTest, DestructionCancelsInFlightInsideTheDestructorOnly) {
  makeClient({.max_transfers_per_host = 3});
  std::vector<Code> codes;
  for (int i = 0; i < 5; ++i) {
    client_->request({.url = base_ + "/slow"}, [&](Result<Response> r) {
      codes.push_back(r.isOk() ? Code::OK : r.status().code());
    });
  }
  client_->request({.url = "bad url"}, [&](Result<Response> r) {
    codes.push_back(r.isOk() ? Code::OK : r.status().code());
  });
  EXPECT_TRUE(loop_.runUntil([&] { return pending_.size() == 3; }, 5s));
  // The bad URL's error was reported already; the five are running (3) or queued (2).
  ASSERT_EQ(codes.size(), 1u);
  client_.reset();
  ASSERT_EQ(codes.size(), 6u);
  for (size_t i = 1; i < codes.size(); ++i)
    EXPECT_EQ(codes[i], Code::CANCELLED);
  answerPending();
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(codes.size(), 6u);
}

TEST_F(CurlClientTest, DoneMayDestroyTheClient) {
  makeClient();
  int calls = 0;
  int cancelled = 0;
  client_->request({.url = base_ + "/hello"}, [&](Result<Response> r) {
    ++calls;
    client_.reset();
  });
  client_->request({.url = base_ + "/slow"}, [&](Result<Response> r) {
    ++calls;
    if (!r.isOk() && r.status().code() == Code::CANCELLED) ++cancelled;
  });
  EXPECT_TRUE(loop_.runUntil([&] { return client_ == nullptr; }, 5s));
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cancelled, 1);
}

}  // namespace
}  // namespace push::http
