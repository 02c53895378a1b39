// PushClientPool (push-load's clients) against a fake room on 127.0.0.1 that answers Auth with
// an AuthResult proposing a 1 s heartbeat and counts the Pings.
#include "loadtest/loadgen/push_client_pool.h"

#include <gtest/gtest.h>

#include <chrono>
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
      ++connections_;
    });
    EXPECT_TRUE(server.isOk()) << server.status().toString();
    if (server.isOk()) server_ = std::move(server).value();
  }
  net::InetAddress address() const { return server_->address(); }
  int pings = 0;
  int connections() const { return connections_; }
  void close() { server_.reset(); }

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
      if (in.has_auth()) {
        out.mutable_auth_result()->set_heartbeat_interval_s(1);
      } else if (in.has_ping()) {
        ++pings;
        out.mutable_pong();
      } else {
        continue;
      }
      std::string bytes = out.SerializeAsString();
      char prefix[net::kLengthPrefixBytes];
      net::encodeLengthPrefix(static_cast<uint32_t>(bytes.size()), prefix);
      conn.send(std::string(prefix, sizeof prefix) + bytes);
    }
    return used;
  }
  void onClosed(net::TcpConnection&, net::TcpConnection::CloseReason) override {}

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

}  // namespace
}  // namespace push::loadgen
