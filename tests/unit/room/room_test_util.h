#pragma once

// Helpers for the RoomServer tests: a RoomServer on the test's loop, and a non-blocking
// client of the room's TCP frame protocol that the test polls while it drives the loop with
// runUntil (the room and the client share the test thread; nothing sleeps).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/auth/token.h"
#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/inet_address.h"
#include "proto/client.pb.h"
#include "services/room/delivery.h"
#include "services/room/room_rpc_service.h"
#include "services/room/room_server.h"

namespace push::room::testing {

using namespace std::chrono_literals;

// How often runUntil wakes to look at the client sockets (the loop does not watch them).
constexpr std::chrono::milliseconds kPoll{2};

inline const std::string kSecret1 = "app1-secret-0123456789";
inline const std::string kSecret2 = "app2-secret-0123456789";
inline const std::string kSecret3 = "app3-secret-0123456789";

inline std::string secretOf(const std::string& app) {
  return app == "app1" ? kSecret1 : app == "app2" ? kSecret2 : kSecret3;
}

inline std::string token(const std::string& app, const std::string& user, const std::string& device,
                         int64_t valid_s = 3600) {
  return auth::mintToken(secretOf(app),
                         auth::TokenClaims{app, user, device, std::time(nullptr) + valid_s});
}

// A client socket of the room protocol: blocking connect (the kernel completes it before the
// room accepts), then non-blocking reads decoded into frames.
class FrameSocket {
 public:
  explicit FrameSocket(const net::InetAddress& address) {
    fd_ = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::connect(fd_, address.sockaddrPtr(), address.length()), 0)
        << "connect " << address.toString() << ": " << std::strerror(errno);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~FrameSocket() { close(); }
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void send(const client::Frame& frame) {
    std::string body = frame.SerializeAsString();
    std::string bytes(net::kLengthPrefixBytes, '\0');
    net::encodeLengthPrefix(static_cast<uint32_t>(body.size()), bytes.data());
    sendRaw(bytes + body);
  }
  // Small writes: the socket buffer takes them whole.
  void sendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      ASSERT_GT(n, 0) << std::strerror(errno);
      sent += static_cast<size_t>(n);
    }
  }

  // Reads what has arrived; true when a frame is waiting.
  bool hasFrame() {
    pump();
    return !frames_.empty();
  }
  // True once the room closed the connection (and every frame before it was read).
  bool closed() {
    pump();
    return eof_;
  }
  client::Frame pop() {
    client::Frame f = std::move(frames_.front());
    frames_.pop_front();
    return f;
  }
  const std::deque<client::Frame>& frames() const { return frames_; }

 private:
  void pump() {
    if (fd_ < 0 || eof_) return;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof_ = true;
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    for (;;) {
      net::FrameView view;
      if (net::decodeLengthPrefixed(in_.data(), in_.size(), 16u << 20, &view) !=
          net::FrameStatus::Complete) {
        break;
      }
      client::Frame frame;
      EXPECT_TRUE(frame.ParseFromArray(view.payload, static_cast<int>(view.size)));
      in_.erase(0, view.consumed);
      frames_.push_back(std::move(frame));
    }
  }

  int fd_ = -1;
  std::string in_;
  std::deque<client::Frame> frames_;
  bool eof_ = false;
};

// A RoomServer on the test's loop (no register), three apps, ports picked by the kernel.
class RoomFixture : public ::testing::Test {
 protected:
  static RoomOptions defaultOptions() {
    RoomOptions o;
    o.name = "test";
    o.tcp_address = "127.0.0.1:0";
    o.rpc.address = "127.0.0.1:0";
    o.apps = {{"app1", kSecret1}, {"app2", kSecret2}, {"app3", kSecret3}};
    return o;
  }

  void startRoom(RoomOptions options = defaultOptions()) {
    auto room = RoomServer::create(loop_, std::move(options));
    ASSERT_TRUE(room.isOk()) << room.status().toString();
    room_ = std::move(*room);
    Status st = room_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
  }

  void TearDown() override {
    clients_.clear();
    if (room_) {
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
      room_.reset();
    }
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  FrameSocket& connect() {
    clients_.push_back(std::make_unique<FrameSocket>(room_->tcpAddress()));
    return *clients_.back();
  }

  // Runs the loop until `client` has a frame, and returns it (a default Frame on timeout).
  client::Frame next(FrameSocket& client) {
    if (!loop_.runUntil([&] { return client.hasFrame(); }, 5s, kPoll)) {
      ADD_FAILURE() << "no frame from the room";
      return client::Frame();
    }
    return client.pop();
  }

  // The next frame, which must be of `type`.
  client::Frame expectFrame(FrameSocket& client, client::Frame::BodyCase type) {
    client::Frame f = next(client);
    EXPECT_EQ(f.body_case(), type) << f.ShortDebugString();
    return f;
  }

  // Runs the loop until the room has closed `client`'s connection (EOF), then closes the
  // client's end as a real client does (the room lingers until then: closeAfterFlush).
  bool waitClosed(FrameSocket& client) {
    if (!loop_.runUntil([&] { return client.closed(); }, 5s, kPoll)) return false;
    client.close();
    return true;
  }

  // Connects and authenticates; checks the AuthResult.
  FrameSocket& authed(const std::string& app, const std::string& user, const std::string& device,
                      client::NetworkType network = client::NETWORK_WIFI) {
    FrameSocket& c = connect();
    client::Frame auth;
    auth.mutable_auth()->set_token(token(app, user, device));
    auth.mutable_auth()->set_network(network);
    c.send(auth);
    client::Frame reply = expectFrame(c, client::Frame::kAuthResult);
    EXPECT_EQ(reply.auth_result().app(), app);
    EXPECT_EQ(reply.auth_result().user(), user);
    EXPECT_EQ(reply.auth_result().device(), device);
    return c;
  }

  // Sends Ping and waits for the Pong: every frame sent before it has been handled. Returns
  // what the room sent before the Pong (the Pong itself is consumed).
  std::vector<client::Frame> roundTrip(FrameSocket& client) {
    client::Frame ping;
    ping.mutable_ping();
    client.send(ping);
    std::vector<client::Frame> before;
    if (!loop_.runUntil([&] { return client.hasFrame() && client.frames().back().has_pong(); }, 5s,
                        kPoll)) {
      ADD_FAILURE() << "no Pong from the room";
      return before;
    }
    while (client.frames().size() > 1)
      before.push_back(client.pop());
    client.pop();
    return before;
  }

  DeliverResponse deliver(const std::string& app, const std::vector<std::string>& users,
                          uint64_t id = 1, const std::string& payload = "hello", uint32_t qos = 0,
                          const std::string& device = "") {
    DeliverRequest req;
    req.mutable_message()->set_id(id);
    req.mutable_message()->set_app(app);
    req.mutable_message()->set_payload(payload);
    req.mutable_message()->set_qos(qos);
    req.mutable_message()->set_created_ms(1234567);
    for (auto& u : users) {
      auto* t = req.add_targets();
      t->set_user(u);
      t->set_device(device);
    }
    DeliverResponse resp;
    room_->delivery().deliver(req, &resp);
    return resp;
  }

  net::EventLoop loop_;
  std::unique_ptr<RoomServer> room_;
  std::vector<std::unique_ptr<FrameSocket>> clients_;
};

}  // namespace push::room::testing
