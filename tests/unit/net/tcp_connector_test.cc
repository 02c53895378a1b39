#include "common/net/tcp_connector.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "tests/unit/net/net_test_util.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;
using testing::Fd;
using testing::fullListener;
using testing::rawListener;
using testing::RecordingHandler;

// Records the outcome of one connect attempt.
struct Outcome {
  int calls = 0;
  Status status;
  TcpConnection* conn = nullptr;
  TcpConnector::Done done() {
    return [this](Result<TcpConnection*> r) {
      ++calls;
      if (r.isOk()) {
        conn = *r;
      } else {
        status = r.status();
      }
    };
  }
};

TEST(TcpConnectorTest, ConnectsAndHandsOverAnUnstartedConnection) {
  EventLoop loop;
  RecordingHandler server_side, client_side;
  TcpConnection::Limits limits;
  auto listen = TcpServer::listen(loop, {}, [&](TcpConnection& c) {
    server_side.on_data = [](TcpConnection& conn, std::string_view d) {
      EXPECT_TRUE(conn.send(d));
      return d.size();
    };
    server_side.attach(c, &limits);
  });
  ASSERT_TRUE(listen.isOk());
  TcpServerPtr server = std::move(listen).value();

  Outcome outcome;
  TcpConnector::start(loop, server->address(), 5s, outcome.done());
  EXPECT_EQ(outcome.calls, 0);  // never inside start()
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  ASSERT_EQ(outcome.calls, 1);
  ASSERT_NE(outcome.conn, nullptr) << outcome.status;
  EXPECT_EQ(outcome.conn->peerAddress(), server->address());

  client_side.attach(*outcome.conn, &limits);
  ASSERT_TRUE(client_side.conn->send("ping"));
  EXPECT_TRUE(loop.runUntil([&] { return client_side.received == "ping"; }, 5s));

  // No timer is left behind: the connector deleted itself after `done`.
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  client_side.conn->close();
  EXPECT_TRUE(loop.runUntil([&] { return client_side.closed() && server_side.closed(); }, 5s));
  server.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, ASourceAddressIsBoundAndItsPortLeftToConnect) {
  EventLoop loop;
  TcpConnection::Limits limits;
  RecordingHandler server_side;
  auto listen =
      TcpServer::listen(loop, {}, [&](TcpConnection& c) { server_side.attach(c, &limits); });
  ASSERT_TRUE(listen.isOk());
  TcpServerPtr server = std::move(listen).value();

  auto source = InetAddress::parse("127.0.0.9:0");
  ASSERT_TRUE(source.isOk());
  Outcome outcome;
  TcpConnector::start(loop, server->address(), 5s, outcome.done(), &*source);
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  ASSERT_NE(outcome.conn, nullptr) << outcome.status;
  EXPECT_EQ(outcome.conn->localAddress().host(), "127.0.0.9");
  EXPECT_NE(outcome.conn->localAddress().port(), 0);
  // The port was chosen by connect(), not by bind(): a source port may then be shared by
  // connections to different peers, and binding costs no search of the bind table.
  int no_port = 0;
  socklen_t len = sizeof no_port;
  ASSERT_EQ(::getsockopt(outcome.conn->fd(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &no_port, &len),
            0);
  EXPECT_EQ(no_port, 1);
  outcome.conn->close();  // unstarted: just freed
  server.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, ASourceAddressThatCannotBeBoundGivesUnavailableAndLeaksNoFd) {
  EventLoop loop;
  // Sockets only: libuv opens a reserve descriptor of its own on first use.
  auto sockets = [] {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      if (std::filesystem::read_symlink(e.path(), ec).string().starts_with("socket:")) ++n;
    }
    return n;
  };
  auto target = InetAddress::parse("127.0.0.1:9");
  auto source = InetAddress::parse("192.0.2.1:0");  // TEST-NET-1: not an address of this host
  ASSERT_TRUE(target.isOk() && source.isOk());
  const size_t before = sockets();
  Outcome outcome;
  TcpConnector::start(loop, *target, 5s, outcome.done(), &*source);
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.conn, nullptr);
  EXPECT_EQ(outcome.status.code(), Code::UNAVAILABLE) << outcome.status;
  (void)loop.runUntil([] { return false; }, 10ms);  // the socket's close callback
  EXPECT_EQ(sockets(), before);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, RefusedGivesUnavailable) {
  EventLoop loop;
  InetAddress addr;
  Fd bound_only = rawListener(-1, &addr);  // bound, not listening: connects are refused
  Outcome outcome;
  TcpConnector::start(loop, addr, 5s, outcome.done());
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.conn, nullptr);
  EXPECT_EQ(outcome.status.code(), Code::UNAVAILABLE);
  EXPECT_NE(outcome.status.message().find(addr.toString()), std::string::npos) << outcome.status;
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, DeadlineGivesTimeout) {
  Fd listener;
  std::vector<Fd> fillers;
  InetAddress addr;
  if (!fullListener(&listener, &fillers, &addr)) {
    GTEST_SKIP() << "could not fill a listen backlog on this kernel";
  }
  // Created after the slow set-up: timers count from the loop's cached time, which is
  // refreshed once per turn, so a loop idle for a while would run the deadline short.
  EventLoop loop;
  Outcome outcome;
  const auto start = std::chrono::steady_clock::now();
  TcpConnector::start(loop, addr, 150ms, outcome.done());
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.conn, nullptr);
  EXPECT_EQ(outcome.status.code(), Code::TIMEOUT) << outcome.status;
  EXPECT_GE(took, 140ms);
  EXPECT_LT(took, 900ms);  // well before a SYN retransmission could succeed
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, CancelGivesCancelledExactlyOnce) {
  EventLoop loop;
  Fd listener;
  std::vector<Fd> fillers;
  InetAddress addr;
  if (!fullListener(&listener, &fillers, &addr)) {
    GTEST_SKIP() << "could not fill a listen backlog on this kernel";
  }
  Outcome outcome;
  TcpConnector* connector = TcpConnector::start(loop, addr, 5s, outcome.done());
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));  // the attempt is under way
  EXPECT_EQ(outcome.calls, 0);
  connector->cancel();
  EXPECT_EQ(outcome.calls, 0);  // reported on a later turn, never inside cancel()
  connector->cancel();          // idempotent
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  EXPECT_EQ(outcome.status.code(), Code::CANCELLED) << outcome.status;
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, CancelRightAfterStartToALiveServer) {
  EventLoop loop;
  int accepted = 0;
  auto listen = TcpServer::listen(loop, {}, [&](TcpConnection& c) {
    ++accepted;
    c.close();
  });
  ASSERT_TRUE(listen.isOk());
  TcpServerPtr server = std::move(listen).value();
  Outcome outcome;
  TcpConnector* connector = TcpConnector::start(loop, server->address(), 5s, outcome.done());
  connector->cancel();
  EXPECT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  EXPECT_EQ(outcome.status.code(), Code::CANCELLED);
  EXPECT_EQ(outcome.conn, nullptr);
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  server.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, TimeoutCountsFromStartNotFromAStaleLoopClock) {
  EventLoop loop;
  auto listen = TcpServer::listen(loop, {}, [](TcpConnection& c) { c.close(); });
  ASSERT_TRUE(listen.isOk());
  TcpServerPtr server = std::move(listen).value();
  // The loop does not run for longer than the connect timeout (startup work before the loop
  // first runs, a slow handler): its cached clock falls behind. The sleep is the condition
  // under test, not synchronisation.
  std::this_thread::sleep_for(300ms);
  Outcome outcome;
  TcpConnector::start(loop, server->address(), 200ms, outcome.done());
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  // Counted from the stale clock, the timeout fired as the next turn began: TIMEOUT.
  ASSERT_NE(outcome.conn, nullptr) << outcome.status;
  RecordingHandler handler;
  TcpConnection::Limits limits;
  handler.attach(*outcome.conn, &limits);
  EXPECT_TRUE(loop.runUntil([&] { return handler.closed(); }, 5s));  // the server closed it
  server.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(TcpConnectorTest, ManyAttemptsEachCompleteOnce) {
  EventLoop loop;
  std::vector<RecordingHandler> handlers(20);
  TcpConnection::Limits limits;
  int accepted = 0;
  auto listen = TcpServer::listen(loop, {}, [&](TcpConnection& c) {
    ++accepted;
    c.close();
  });
  ASSERT_TRUE(listen.isOk());
  TcpServerPtr server = std::move(listen).value();
  std::vector<Outcome> outcomes(handlers.size());
  for (auto& o : outcomes)
    TcpConnector::start(loop, server->address(), 5s, o.done());
  auto all_done = [&] {
    for (auto& o : outcomes) {
      if (o.calls == 0) return false;
    }
    return true;
  };
  EXPECT_TRUE(loop.runUntil(all_done, 10s));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_EQ(outcomes[i].calls, 1);
    ASSERT_NE(outcomes[i].conn, nullptr) << outcomes[i].status;
    handlers[i].attach(*outcomes[i].conn, &limits);
  }
  // The server closed each one at accept: every client sees EOF and closes.
  EXPECT_TRUE(loop.runUntil(
      [&] {
        for (auto& h : handlers) {
          if (!h.closed()) return false;
        }
        return true;
      },
      5s));
  EXPECT_EQ(accepted, 20);
  server.reset();
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::net
