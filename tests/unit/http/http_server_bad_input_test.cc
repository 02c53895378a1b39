// HttpServer against bad input: malformed requests (400, then close, after the answers already
// due), oversized headers (431) and bodies (413), and hostile bytes that must neither crash nor
// hang the server.

#include "common/http/http_server.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
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

}  // namespace
}  // namespace push::http
