#include "common/http/websocket.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/base/metrics.h"
#include "common/http/detail/websocket_handshake.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "tests/unit/http/test_client.h"

namespace push::http {
namespace {

using testing::BlockingClient;
using testing::ClientThread;
using testing::ParsedResponse;
using testing::readWsFrame;
using testing::WsFrame;
using testing::wsFrame;
using testing::wsUpgradeRequest;

constexpr uint8_t kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xa;

std::string closePayload(uint16_t code, std::string_view reason = "") {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

// A WebSocket echo server on a real loop: one WebSocketServerSession per accepted connection,
// every data message sent back as it came (binary or text), except "close-me", which closes
// the session with 1008. Records what the sinks saw.
class WsEchoServer final : public net::TcpConnection::Handler {
 public:
  struct Conn final : WebSocketServerSession::Sink {
    Conn(WsEchoServer& server, net::TcpConnection& tcp)
        : server(server), session(tcp, server.options) {}
    void onWsMessage(const char* data, size_t len, bool binary) override {
      server.messages.emplace_back(data, len);
      if (std::string_view(data, len) == "close-me") {
        session.close(1008, "policy");
        EXPECT_FALSE(session.isOpen());
        EXPECT_FALSE(session.sendBinary("late", 4));
        return;
      }
      if (binary) {
        session.sendBinary(data, len);
      } else {
        session.sendText(std::string_view(data, len));
      }
    }
    void onWsOpen() override { ++server.opened; }
    void onWsClosed(uint16_t code) override { server.closed_codes.push_back(code); }

    WsEchoServer& server;
    WebSocketServerSession session;
  };

  explicit WsEchoServer(net::EventLoop& loop) : loop_(loop) {}
  ~WsEchoServer() { EXPECT_TRUE(conns_.empty()); }

  void start() {
    Result<net::TcpServerPtr> listener =
        net::TcpServer::listen(loop_, {}, [this](net::TcpConnection& conn) {
          conn.setContext(new Conn(*this, conn));
          conns_.insert(&conn);
          conn.start(this, &limits_);
        });
    ASSERT_TRUE(listener.isOk()) << listener.status();
    listener_ = std::move(listener).value();
    port = listener_->address().port();
  }

  // Closes the listener and every connection; runs the loop until they are gone.
  void stop() {
    listener_.reset();
    std::vector<net::TcpConnection*> open(conns_.begin(), conns_.end());
    for (auto* c : open)
      c->close();
    EXPECT_TRUE(loop_.runUntil([&] { return conns_.empty(); }));
  }

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    auto* c = static_cast<Conn*>(conn.context());
    return c->session.onData(data, len, *c);
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason) override {
    delete static_cast<Conn*>(conn.context());
    conns_.erase(&conn);
  }

  size_t open() const { return conns_.size(); }

  WebSocketServerSession::Options options;
  uint16_t port = 0;
  int opened = 0;
  std::vector<std::string> messages;
  std::vector<uint16_t> closed_codes;

 private:
  net::EventLoop& loop_;
  net::TcpServerPtr listener_;
  net::TcpConnection::Limits limits_;
  std::unordered_set<net::TcpConnection*> conns_;
};

class WebSocketTest : public ::testing::Test {
 protected:
  void TearDown() override {
    server_.stop();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // Upgrades on a fresh connection; the 101 is checked and consumed.
  std::unique_ptr<BlockingClient> upgrade(std::string_view extra_bytes = "") {
    std::optional<ParsedResponse> resp;
    std::unique_ptr<BlockingClient> c;
    ClientThread client(loop_, [&] {
      c = std::make_unique<BlockingClient>(server_.port);
      c->send(wsUpgradeRequest() + std::string(extra_bytes));
      resp = c->readResponse();
    });
    EXPECT_TRUE(client.wait());
    EXPECT_TRUE(resp && resp->status == 101);
    return c;
  }

  // Sends `bytes` on an open session and reads: the frames until a close frame, then EOF.
  struct Outcome {
    std::vector<WsFrame> frames;
    bool eof = false;
  };
  Outcome sendAndReadToClose(BlockingClient& c, const std::string& bytes) {
    Outcome out;
    ClientThread client(loop_, [&] {
      c.send(bytes);
      while (auto f = readWsFrame(c)) {
        out.frames.push_back(*f);
        if (f->opcode == kClose) break;
      }
      c.readUntilClosed(&out.eof);
    });
    EXPECT_TRUE(client.wait());
    return out;
  }

  net::EventLoop loop_;
  WsEchoServer server_{loop_};
};

metrics::Counter& protocolErrors(std::string_view code) {
  return metrics::Registry::global().counter(
      "push_http_websocket_protocol_errors_total",
      "WebSocket connections closed on bad input, by the close code sent (1002 protocol "
      "error, 1007 invalid UTF-8, 1009 message too big, 1011 internal error).",
      "code=\"" + std::string(code) + "\"");
}

TEST(WebSocketAcceptTest, MatchesRfc6455Sample) {
  EXPECT_EQ(webSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketKeyTest, OnlyBase64OfSixteenBytes) {
  EXPECT_TRUE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(detail::isWebSocketKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_FALSE(detail::isWebSocketKey(""));
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZQ"));     // no padding
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=A"));   // bad padding
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZR=="));   // stray low bits
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25j*Q=="));   // not base64
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZSE="));   // 17 bytes
  EXPECT_FALSE(detail::isWebSocketKey("dGhlIHNhbXBsZSBub25jZQ== "));  // 25 characters
}

TEST_F(WebSocketTest, HandshakeAndFrameInOnePacket) {
  server_.start();
  std::optional<ParsedResponse> resp;
  std::optional<WsFrame> echo;
  ClientThread client(loop_, [&] {
    BlockingClient c(server_.port);
    // One write: the request and a frame right behind it.
    c.send(wsUpgradeRequest() + wsFrame(kBinary, "hello"));
    resp = c.readResponse();
    echo = readWsFrame(c);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 101);
  EXPECT_EQ(resp->header("Upgrade"), "websocket");
  EXPECT_EQ(resp->header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, kBinary);
  EXPECT_TRUE(echo->fin);
  EXPECT_EQ(echo->payload, "hello");
  EXPECT_EQ(server_.opened, 1);
  EXPECT_EQ(server_.messages, (std::vector<std::string>{"hello"}));
}

TEST_F(WebSocketTest, HandshakeSplitIntoSingleBytes) {
  server_.start();
  std::optional<ParsedResponse> resp;
  std::optional<WsFrame> echo;
  ClientThread client(loop_, [&] {
    BlockingClient c(server_.port);
    const std::string bytes = wsUpgradeRequest("/ws?v=1") + wsFrame(kText, "hi");
    for (char ch : bytes)
      c.send(std::string_view(&ch, 1));
    resp = c.readResponse();
    echo = readWsFrame(c);
  });
  ASSERT_TRUE(client.wait());
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 101);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, kText);
  EXPECT_EQ(echo->payload, "hi");
}

TEST_F(WebSocketTest, BadHandshakesAreRefusedThenClosed) {
  server_.options.max_handshake_bytes = 1024;
  server_.start();
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const std::string v13 = "Sec-WebSocket-Version: 13\r\n";
  struct Case {
    std::string name;
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"missing key", "GET /ws HTTP/1.1\r\nHost: t\r\n" + upgrade + v13 + "\r\n", 400},
      {"short key",
       "GET /ws HTTP/1.1\r\nHost: t\r\n" + upgrade + v13 + "Sec-WebSocket-Key: abc\r\n\r\n", 400},
      {"two keys", "GET /ws HTTP/1.1\r\nHost: t\r\n" + upgrade + v13 + key + key + "\r\n", 400},
      {"wrong version",
       "GET /ws HTTP/1.1\r\nHost: t\r\n" + upgrade + key + "Sec-WebSocket-Version: 8\r\n\r\n", 426},
      {"no version", "GET /ws HTTP/1.1\r\nHost: t\r\n" + upgrade + key + "\r\n", 426},
      {"POST",
       "POST /ws HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n" + upgrade + key + v13 + "\r\n", 405},
      {"oversized headers",
       "GET /ws HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(2000, 'p') + "\r\n" + upgrade + key +
           v13 + "\r\n",
       431},
      {"no Host", "GET /ws HTTP/1.1\r\n" + upgrade + key + v13 + "\r\n", 400},
      {"HTTP/1.0", "GET /ws HTTP/1.0\r\nHost: t\r\n" + upgrade + key + v13 + "\r\n", 400},
      {"no Upgrade", "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n" + key + v13 + "\r\n",
       400},
      {"no Connection",
       "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n" + key + v13 + "\r\n", 400},
      {"other path", "GET /other HTTP/1.1\r\nHost: t\r\n" + upgrade + key + v13 + "\r\n", 404},
      {"bad header name",
       "GET /ws HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n" + upgrade + key + v13 + "\r\n", 400},
      {"not HTTP", "HELLO THERE\r\n\r\n", 400},
  };
  metrics::Counter& failures = metrics::Registry::global().counter(
      "push_http_websocket_handshake_failures_total", "WebSocket upgrades refused.");
  const uint64_t failures_before = failures.value();
  for (const Case& tc : cases) {
    std::optional<ParsedResponse> resp;
    bool closed = false;
    std::string rest;
    ClientThread client(loop_, [&] {
      BlockingClient c(server_.port);
      c.send(tc.request);
      resp = c.readResponse();
      rest = c.readUntilClosed(&closed);
    });
    ASSERT_TRUE(client.wait()) << tc.name;
    ASSERT_TRUE(resp) << tc.name;
    EXPECT_EQ(resp->status, tc.status) << tc.name;
    EXPECT_EQ(resp->header("Connection"), "close") << tc.name;
    EXPECT_NE(resp->body.find("websocket upgrade refused"), std::string::npos) << tc.name;
    EXPECT_TRUE(closed) << tc.name;
    EXPECT_EQ(rest, "") << tc.name;
    if (tc.status == 426) {
      EXPECT_EQ(resp->header("Sec-WebSocket-Version"), "13") << tc.name;
    }
    if (tc.status == 405) {
      EXPECT_EQ(resp->header("Allow"), "GET") << tc.name;
    }
  }
  EXPECT_EQ(failures.value() - failures_before, cases.size());
  EXPECT_EQ(server_.opened, 0);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.open() == 0; }));
}

TEST_F(WebSocketTest, ProtocolErrorsGetACloseFrameWithTheirCode) {
  server_.options.max_message_bytes = 1000;
  server_.start();
  // A control frame whose 7-bit length says 126: wslay refuses it while reading the header.
  std::string long_ping = wsFrame(kPing, std::string(126, 'p'));
  // 126 in the 7-bit field followed by a 16-bit length of 5: not minimal, a protocol error.
  std::string non_minimal = {static_cast<char>(0x82),
                             static_cast<char>(0x80 | 126),
                             0,
                             5,
                             0,
                             0,
                             0,
                             0,
                             'a',
                             'b',
                             'c',
                             'd',
                             'e'};
  struct Case {
    std::string name;
    std::string bytes;
    uint16_t code;
  };
  const std::vector<Case> cases = {
      {"unmasked frame", wsFrame(kBinary, "x", /*masked=*/false), 1002},
      {"reserved bit 1", wsFrame(kBinary, "x", true, true, /*rsv=*/4), 1002},
      {"reserved bit 3", wsFrame(kBinary, "x", true, true, /*rsv=*/1), 1002},
      {"reserved opcode", wsFrame(0x3, "x"), 1002},
      {"reserved control opcode", wsFrame(0xb, "x"), 1002},
      {"continuation first", wsFrame(0x0, "x"), 1002},
      {"new message inside a fragmented one",
       wsFrame(kBinary, "a", true, /*fin=*/false) + wsFrame(kBinary, "b"), 1002},
      {"fragmented ping", wsFrame(kPing, "x", true, /*fin=*/false), 1002},
      {"ping over 125 bytes", long_ping, 1002},
      {"non-minimal length", non_minimal, 1002},
      {"close with 1 byte", wsFrame(kClose, "x"), 1002},
      {"close with reserved code", wsFrame(kClose, closePayload(999)), 1002},
      {"close with code 1005", wsFrame(kClose, closePayload(1005)), 1002},
      {"invalid UTF-8 text", wsFrame(kText, "ok \xff\xfe"), 1007},
      {"invalid UTF-8 close reason", wsFrame(kClose, closePayload(1000, "\xc3")), 1007},
      {"message too big", wsFrame(kBinary, std::string(1001, 'x')), 1009},
      {"fragments too big",
       wsFrame(kBinary, std::string(600, 'x'), true, false) + wsFrame(0x0, std::string(600, 'y')),
       1009},
  };
  for (const Case& tc : cases) {
    const uint64_t errors_before = protocolErrors(std::to_string(tc.code)).value();
    const size_t closed_before = server_.closed_codes.size();
    std::unique_ptr<BlockingClient> c = upgrade();
    ASSERT_TRUE(c) << tc.name;
    Outcome out = sendAndReadToClose(*c, tc.bytes);
    if (out.frames.empty()) {
      ADD_FAILURE() << tc.name << ": no close frame";
      continue;
    }
    const WsFrame& last = out.frames.back();
    EXPECT_EQ(last.opcode, kClose) << tc.name;
    EXPECT_EQ(last.closeCode(), tc.code) << tc.name;
    EXPECT_EQ(out.frames.size(), 1u) << tc.name << ": a message got through";
    EXPECT_TRUE(out.eof) << tc.name;
    EXPECT_EQ(protocolErrors(std::to_string(tc.code)).value() - errors_before, 1u) << tc.name;
    EXPECT_EQ(server_.closed_codes.size(), closed_before + 1) << tc.name;
    if (server_.closed_codes.size() > closed_before) {
      EXPECT_EQ(server_.closed_codes.back(), tc.code) << tc.name;
    }
  }
  EXPECT_TRUE(server_.messages.empty());
  EXPECT_TRUE(loop_.runUntil([&] { return server_.open() == 0; }));
}

TEST_F(WebSocketTest, PingPongFragmentsAndCleanClose) {
  server_.start();
  std::unique_ptr<BlockingClient> c = upgrade();
  ASSERT_TRUE(c);
  Outcome out = sendAndReadToClose(*c, wsFrame(kPing, "p1") + wsFrame(kText, "frag", true, false) +
                                           wsFrame(kPing, "p2") + wsFrame(0x0, "mented") +
                                           wsFrame(kClose, closePayload(1000, "bye")));
  ASSERT_EQ(out.frames.size(), 4u);
  EXPECT_EQ(out.frames[0].opcode, kPong);
  EXPECT_EQ(out.frames[0].payload, "p1");
  EXPECT_EQ(out.frames[1].opcode, kPong);
  EXPECT_EQ(out.frames[1].payload, "p2");
  EXPECT_EQ(out.frames[2].opcode, kText);
  EXPECT_EQ(out.frames[2].payload, "fragmented");
  EXPECT_EQ(out.frames[3].opcode, kClose);
  EXPECT_EQ(out.frames[3].closeCode(), 1000);
  EXPECT_TRUE(out.eof);
  EXPECT_EQ(server_.closed_codes, (std::vector<uint16_t>{1000}));
}

// The owner closes from inside onWsMessage: its close frame goes out, and frames that came in
// the same packet are not delivered.
TEST_F(WebSocketTest, OwnerCloseSendsItsCodeAndStopsMessages) {
  server_.start();
  std::unique_ptr<BlockingClient> c = upgrade();
  ASSERT_TRUE(c);
  Outcome out = sendAndReadToClose(
      *c, wsFrame(kBinary, "one") + wsFrame(kBinary, "close-me") + wsFrame(kBinary, "after"));
  ASSERT_EQ(out.frames.size(), 2u);
  EXPECT_EQ(out.frames[0].payload, "one");
  EXPECT_EQ(out.frames[1].opcode, kClose);
  EXPECT_EQ(out.frames[1].closeCode(), 1008);
  EXPECT_EQ(out.frames[1].payload.substr(2), "policy");
  EXPECT_TRUE(out.eof);
  EXPECT_EQ(server_.messages, (std::vector<std::string>{"one", "close-me"}));
}

}  // namespace
}  // namespace push::http
