// HttpServer bounds on what a connection may hold: the idle timeout, the close-linger deadline
// for closing connections whose client never reads or never closes, and the connection caps
// (max_connections, max_connections_per_ip), each with the metric it counts.

#include "common/http/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "tests/unit/http/http_server_test_util.h"
#include "tests/unit/http/test_client.h"

namespace push::http {
namespace {

using testing::BlockingClient;
using testing::ClientThread;
using testing::getRequest;
using testing::HttpServerTest;
using testing::ParsedResponse;

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
