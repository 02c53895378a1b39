// PushClientPool (push-load's clients) against a fake room on 127.0.0.1 that answers Auth with
// an AuthResult proposing a 1 s heartbeat, counts the Pings, and can drop, kick or refuse its
// clients (the reconnects of push-loadtest reconnect-storm).
#include "loadtest/loadgen/push_client_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_server.h"
#include "proto/client.pb.h"

namespace push::loadgen {
namespace {

using namespace std::chrono_literals;

class FakeRoom final : private net::TcpConnection::Handler {
 public:
  explicit FakeRoom(net::EventLoop& loop) {
    auto server = net::TcpServer::listen(loop, {}, [this](net::TcpConnection& c) {
      c.start(this, &limits_);
      open_.insert(&c);
      ++connections_;
    });
    EXPECT_TRUE(server.isOk()) << server.status().toString();
    if (server.isOk()) server_ = std::move(server).value();
  }
  net::InetAddress address() const { return server_->address(); }
  int pings = 0;
  // The next this many Auths get an Error frame instead of an AuthResult.
  int refuse_auths = 0;
  int connections() const { return connections_; }
  void close() { server_.reset(); }
  // Closes every client connection without a word (a room worker killed).
  void dropAll() {
    for (net::TcpConnection* c : std::set<net::TcpConnection*>(open_))
      c->close();
  }
  // Sends every client a Reconnect (a drain) and leaves the closing to it.
  void reconnectAll(uint32_t delay_ms) {
    client::Frame frame;
    frame.mutable_reconnect()->set_delay_ms(delay_ms);
    for (net::TcpConnection* c : open_)
      sendFrame(*c, frame);
  }
  size_t open() const { return open_.size(); }
  // Sends a Kick to every client, then closes it.
  void kickAll() {
    client::Frame kick;
    kick.mutable_kick()->set_reason("test");
    for (net::TcpConnection* c : std::set<net::TcpConnection*>(open_)) {
      sendFrame(*c, kick);
      c->closeAfterFlush();
    }
  }

 private:
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    size_t used = 0;
    for (;;) {
      net::FrameView frame;
      auto st = net::decodeLengthPrefixed(data + used, len - used, 1 << 20, &frame);
      if (st != net::FrameStatus::Complete) break;
      used += frame.consumed;
      client::Frame in;
      EXPECT_TRUE(in.ParseFromArray(frame.payload, static_cast<int>(frame.size)));
      client::Frame out;
      if (in.has_auth() && refuse_auths > 0) {
        --refuse_auths;
        out.mutable_error()->set_code(client::ERROR_BAD_TOKEN);
      } else if (in.has_auth()) {
        out.mutable_auth_result()->set_heartbeat_interval_s(1);
      } else if (in.has_ping()) {
        ++pings;
        out.mutable_pong();
      } else {
        continue;
      }
      sendFrame(conn, out);
    }
    return used;
  }
  void onClosed(net::TcpConnection& c, net::TcpConnection::CloseReason) override {
    open_.erase(&c);
  }
  static void sendFrame(net::TcpConnection& conn, const client::Frame& frame) {
    std::string bytes = frame.SerializeAsString();
    char prefix[net::kLengthPrefixBytes];
    net::encodeLengthPrefix(static_cast<uint32_t>(bytes.size()), prefix);
    conn.send(std::string(prefix, sizeof prefix) + bytes);
  }

  std::set<net::TcpConnection*> open_;
  net::TcpConnection::Limits limits_;
  net::TcpServerPtr server_;
  int connections_ = 0;
};

// Pings follow the clock, not the count of timer firings: a worker that waited 2.5 s for a
// core (a loaded machine) still sends the Pings that came due meanwhile, so the room does not
// see its clients fall silent. (Counting firings, the pool sent none for this stall.)
TEST(PushClientPoolTest, PingsThatCameDueDuringAStallStillGoOut) {
  net::EventLoop loop;
  FakeRoom room(loop);
  PushClientPool::Options options;
  options.connect.server = room.address();
  options.connect.count = 1;
  options.app = "app";
  options.secret = "secret-0123456789abcdef";
  PushClientPool pool(loop, options);
  size_t ready = 0;
  pool.setOnSettled([&](size_t r, size_t, const std::string&) { ready = r; });
  pool.start();
  ASSERT_TRUE(loop.runUntil([&] { return ready == 1; }, 5s));
  // The loop thread is busy elsewhere for 2.5 s: the 100 ms timer cannot fire.
  std::this_thread::sleep_for(2500ms);
  // One turn later the missed ticks have run: the Pings due at 1 s and 2 s are out.
  ASSERT_TRUE(loop.runUntil([&] { return room.pings >= 2; }, 1s))
      << "pings after a 2.5 s stall: " << room.pings;
  EXPECT_LE(room.pings, 3);  // one per interval, not one per missed tick
  EXPECT_TRUE(loop.runUntil([&] { return pool.pongs() >= 2; }, 5s));
  EXPECT_EQ(pool.lost(), 0u);
  pool.close();
  room.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

PushClientPool::Options reconnectingOptions(const FakeRoom& room, size_t count) {
  PushClientPool::Options options;
  options.connect.server = room.address();
  options.connect.count = count;
  options.app = "app";
  options.secret = "secret-0123456789abcdef";
  options.reconnect = true;
  options.reconnect_backoff = {.initial = 50ms, .max = 200ms, .jitter = 0.2};
  return options;
}

// A room worker dies under its clients: each one is counted lost once, waits its backoff and
// is back; attempts the room refuses are counted and retried, not given up on.
TEST(PushClientPoolTest, LostClientsReconnectAndRetryRefusedAttempts) {
  net::EventLoop loop;
  FakeRoom room(loop);
  PushClientPool pool(loop, reconnectingOptions(room, 3));
  size_t ready = 0;
  pool.setOnSettled([&](size_t r, size_t, const std::string&) { ready = r; });
  pool.start();
  ASSERT_TRUE(loop.runUntil([&] { return ready == 3; }, 5s));
  EXPECT_EQ(pool.connected(), 3u);
  EXPECT_EQ(pool.lastReconnectNs(), 0);

  room.refuse_auths = 2;
  room.dropAll();
  ASSERT_TRUE(loop.runUntil([&] { return pool.reconnected() == 3; }, 10s))
      << "lost " << pool.lost() << " reconnected " << pool.reconnected();
  EXPECT_EQ(pool.lost(), 3u);
  EXPECT_EQ(pool.reconnectFailures(), 2u);
  EXPECT_EQ(pool.connected(), 3u);
  EXPECT_EQ(pool.failed(), 0u);  // failed counts first connections only
  EXPECT_EQ(pool.ready(), 3u);
  EXPECT_EQ(room.connections(), 3 + 2 + 3);
  EXPECT_GT(pool.lastReconnectNs(), 0);
  EXPECT_EQ(pool.lostBy()[static_cast<size_t>(PushClientPool::Ending::PeerClosed)], 3u);

  // Back for good: the returned clients ping on their new connections.
  const int pings = room.pings;
  EXPECT_TRUE(loop.runUntil([&] { return room.pings >= pings + 3; }, 5s));
  pool.close();
  room.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

// A draining room's Reconnect: each client leaves when its delay is over (the room does not
// have to close it) and comes straight back.
TEST(PushClientPoolTest, ReconnectFramesMoveClientsAfterTheirDelay) {
  net::EventLoop loop;
  FakeRoom room(loop);
  PushClientPool pool(loop, reconnectingOptions(room, 3));
  size_t ready = 0;
  pool.setOnSettled([&](size_t r, size_t, const std::string&) { ready = r; });
  pool.start();
  ASSERT_TRUE(loop.runUntil([&] { return ready == 3; }, 5s));
  room.reconnectAll(200);
  ASSERT_TRUE(loop.runUntil([&] { return pool.reconnected() == 3; }, 5s))
      << "lost " << pool.lost() << " reconnected " << pool.reconnected();
  EXPECT_EQ(pool.lostBy()[static_cast<size_t>(PushClientPool::Ending::Moved)], 3u);
  EXPECT_EQ(pool.lost(), 3u);
  EXPECT_EQ(room.connections(), 6);
  // The old connections were closed by the clients: only the new ones are open.
  EXPECT_TRUE(loop.runUntil([&] { return room.open() == 3; }, 5s)) << room.open();
  EXPECT_EQ(pool.connected(), 3u);
  pool.close();
  room.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

// A kicked client was told to go away: it stays gone (the SDK does not come back either).
TEST(PushClientPoolTest, KickedClientsDoNotReconnect) {
  net::EventLoop loop;
  FakeRoom room(loop);
  PushClientPool pool(loop, reconnectingOptions(room, 2));
  size_t ready = 0;
  pool.setOnSettled([&](size_t r, size_t, const std::string&) { ready = r; });
  pool.start();
  ASSERT_TRUE(loop.runUntil([&] { return ready == 2; }, 5s));
  room.kickAll();
  ASSERT_TRUE(loop.runUntil([&] { return pool.lost() == 2; }, 5s));
  // Four backoffs' worth (at most 60 ms each): nothing comes back.
  EXPECT_FALSE(loop.runUntil([&] { return room.connections() > 2; }, 250ms));
  EXPECT_EQ(pool.reconnected(), 0u);
  EXPECT_EQ(pool.connected(), 0u);
  EXPECT_EQ(pool.lostBy()[static_cast<size_t>(PushClientPool::Ending::Kicked)], 2u);
  pool.close();
  room.close();
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::loadgen
