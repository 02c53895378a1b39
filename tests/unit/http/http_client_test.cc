#include "common/http/http_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

// A raw TCP server that answers every connection with fixed bytes (once it has read
// anything), for responses HttpServer never writes: chunked bodies, no length, garbage.
class RawServer : private net::TcpConnection::Handler {
 public:
  RawServer(net::EventLoop& loop, std::string answer) : answer_(std::move(answer)) {
    auto server = net::TcpServer::listen(
        loop, {}, [this](net::TcpConnection& conn) { conn.start(this, &limits_); });
    EXPECT_TRUE(server.isOk());
    server_ = std::move(server).value();
  }
  uint16_t port() const { return server_->address().port(); }
  ~RawServer() { server_.reset(); }

 private:
  size_t onData(net::TcpConnection& conn, const char*, size_t len) override {
    if (!answered_.insert(&conn).second) return len;
    conn.send(answer_);
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

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_
                    .add("GET", "/hello",
                         [](HttpRequest& req, HttpResponder r) {
                           HttpResponse resp = HttpResponse::text(
                               201, "hello " + std::string(req.query("who").value_or("?")));
                           resp.setHeader("X-Test", "yes");
                           r.respond(std::move(resp));
                         })
                    .isOk());
    ASSERT_TRUE(router_
                    .add("POST", "/echo",
                         [](HttpRequest& req, HttpResponder r) {
                           r.respond(200, std::string(req.header("Content-Type").value_or("")) +
                                              "|" + req.body());
                         })
                    .isOk());
    ASSERT_TRUE(
        router_
            .add("GET", "/big",
                 [](HttpRequest&, HttpResponder r) { r.respond(200, std::string(100000, 'x')); })
            .isOk());
    ASSERT_TRUE(
        router_
            .add("GET", "/slow",
                 [this](HttpRequest&, HttpResponder r) { pending_.push_back(std::move(r)); })
            .isOk());
    auto server = HttpServer::listen(loop_, {}, std::move(router_));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->address().port());
  }

  void TearDown() override {
    server_.reset();
    pending_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // Runs one request to completion and returns its result; counts the callbacks.
  Result<ClientResponse> run(HttpClient& client, const std::string& url) {
    std::optional<Result<ClientResponse>> result;
    int calls = 0;
    client.get(url, [&](Result<ClientResponse> r) {
      ++calls;
      result.emplace(std::move(r));
    });
    EXPECT_FALSE(result.has_value()) << "done ran inside get()";
    EXPECT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 10s));
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
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, base_ + "/hello?who=bob");
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "hello bob");
  EXPECT_EQ(r->header("x-test").value_or(""), "yes");
  EXPECT_EQ(client.pending(), 0u);
}

TEST_F(HttpClientTest, NotFoundIsAResponseNotAnError) {
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, base_ + "/nothing");
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpClientTest, PostSendsBodyAndContentType) {
  HttpClient client(loop_);
  std::optional<Result<ClientResponse>> result;
  client.post(base_ + "/echo", "payload", "text/plain",
              [&](Result<ClientResponse> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 10s));
  ASSERT_TRUE(result->isOk()) << result->status();
  EXPECT_EQ((*result)->body, "text/plain|payload");
}

TEST_F(HttpClientTest, ChunkedBodyIsReassembled) {
  RawServer raw(loop_,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://127.0.0.1:" + std::to_string(raw.port()) + "/");
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->body, "hello world");
}

TEST_F(HttpClientTest, BodyWithoutLengthEndsWithTheConnection) {
  RawServer raw(loop_, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://localhost:" + std::to_string(raw.port()));
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->body, "until the end");
}

TEST_F(HttpClientTest, TruncatedBodyIsUnavailable) {
  RawServer raw(loop_, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://127.0.0.1:" + std::to_string(raw.port()) + "/");
  EXPECT_EQ(r.status().code(), Code::UNAVAILABLE) << r.status();
}

TEST_F(HttpClientTest, GarbageIsAProtocolError) {
  RawServer raw(loop_, "SSH-2.0-OpenSSH\r\n\r\n");
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://127.0.0.1:" + std::to_string(raw.port()) + "/");
  EXPECT_EQ(r.status().code(), Code::PROTOCOL_ERROR) << r.status();
}

TEST_F(HttpClientTest, TimeoutWhenTheServerDoesNotAnswer) {
  HttpClient client(loop_, {.timeout = 200ms});
  const int64_t start = loop_.nowMs();
  Result<ClientResponse> r = run(client, base_ + "/slow");
  EXPECT_EQ(r.status().code(), Code::TIMEOUT) << r.status();
  EXPECT_GE(loop_.nowMs() - start, 190);
  EXPECT_EQ(pending_.size(), 1u);  // it did reach the server
}

TEST_F(HttpClientTest, RefusedConnectionIsUnavailable) {
  uint16_t port = 0;
  {
    auto server = net::TcpServer::listen(loop_, {}, [](net::TcpConnection& c) { c.close(); });
    ASSERT_TRUE(server.isOk());
    port = server.value()->address().port();
  }  // closed: nothing listens there now
  loop_.runUntil([] { return false; }, 10ms);
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(r.status().code(), Code::UNAVAILABLE) << r.status();
}

TEST_F(HttpClientTest, OversizedBodyIsRefused) {
  HttpClient client(loop_, {.max_body_bytes = 1000});
  Result<ClientResponse> r = run(client, base_ + "/big");
  EXPECT_EQ(r.status().code(), Code::PROTOCOL_ERROR) << r.status();
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status();

  RawServer chunked(loop_,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "800\r\n" +
                        std::string(0x800, 'y') + "\r\n0\r\n\r\n");
  r = run(client, "http://127.0.0.1:" + std::to_string(chunked.port()) + "/");
  EXPECT_EQ(r.status().code(), Code::PROTOCOL_ERROR) << r.status();
}

TEST_F(HttpClientTest, BadUrlFailsOnALaterTurn) {
  HttpClient client(loop_);
  EXPECT_EQ(run(client, "https://example.com/").status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(run(client, "http://:80/").status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(run(client, "http://127.0.0.1:99999/").status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(run(client, "http://127.0.0.1:1/a b").status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(HttpClientTest, UrlParse) {
  Result<Url> u = Url::parse("http://[::1]:4161/lookup?topic=t");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 4161);
  EXPECT_EQ(u->target, "/lookup?topic=t");
  u = Url::parse("HTTP://example.com?x=1");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/?x=1");
}

TEST_F(HttpClientTest, DestroyingTheClientCancelsPendingRequests) {
  int calls = 0;
  Status status;
  {
    HttpClient client(loop_);
    client.get(base_ + "/slow", [&](Result<ClientResponse> r) {
      ++calls;
      status = r.status();
    });
    ASSERT_TRUE(loop_.runUntil([&] { return !pending_.empty(); }, 5s));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status.code(), Code::CANCELLED);
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpClientTest, NamesAreResolved) {
  // "localhost" is numeric for InetAddress; the machine's own name goes through the resolver.
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  HttpClient client(loop_);
  Result<ClientResponse> r = run(client, "http://" + std::string(name) + ":" +
                                             std::to_string(server_->address().port()) + "/hello");
  if (!r.isOk() && r.status().code() == Code::UNAVAILABLE) {
    GTEST_SKIP() << "the host name does not resolve to 127.0.0.1 here: " << r.status();
  }
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->status, 201);
}

}  // namespace
}  // namespace push::http
