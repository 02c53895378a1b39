#pragma once

// The fixture of TcpConnection's tests (tcp_connection_test.cc: reading, closing, lifetime;
// tcp_connection_output_test.cc: coalescing, early writes, watermarks, writes in flight): a
// listening server whose accepted connection is recorded, an optional client connection, and
// the small helpers both files use.

#include <poll.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"
#include "common/net/tcp_server.h"
#include "tests/unit/net/net_test_util.h"

namespace push::net::testing {

using namespace std::chrono_literals;

inline std::string frame(std::string_view payload) {
  std::string out(kLengthPrefixBytes, '\0');
  encodeLengthPrefix(static_cast<uint32_t>(payload.size()), out.data());
  out += payload;
  return out;
}

// Consumes whole length-prefixed frames, keeps partial ones (what a protocol handler does).
inline size_t consumeFrames(std::string_view in, std::vector<std::string>* payloads) {
  size_t used = 0;
  for (;;) {
    FrameView f;
    if (decodeLengthPrefixed(in.data() + used, in.size() - used, 1 << 20, &f) !=
        FrameStatus::Complete) {
      return used;
    }
    payloads->emplace_back(f.payload, f.size);
    used += f.consumed;
  }
}

inline void setSendBuffer(int fd, int bytes) {
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes), 0);
}

// One loop turn without blocking.
inline void turn(EventLoop& loop) {
  uv_run(loop.uvLoop(), UV_RUN_NOWAIT);
}

// A listening server whose accepted connection is recorded by `server_`, and an optional
// client connection (through TcpConnector) recorded by `client_`.
class TcpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = TcpServer::listen(loop_, TcpServer::Options{}, [this](TcpConnection& c) {
      ++accepted_;
      server_.attach(c, &server_limits_);
    });
    ASSERT_TRUE(r.isOk()) << r.status();
    listener_ = std::move(r).value();
  }

  void TearDown() override {
    if (server_.conn) server_.conn->close();
    if (client_.conn) client_.conn->close();
    listener_.reset();
    EXPECT_TRUE(loop_.runUntil([&] { return !server_.conn && !client_.conn; }, 5s));
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // A raw peer socket (blocking connect, then non-blocking) whose server side is accepted.
  Fd acceptRaw(int rcvbuf = 0) {
    Fd fd = connectRaw(listener_->address(), rcvbuf);
    EXPECT_TRUE(loop_.runUntil([&] { return server_.conn != nullptr; }, 5s));
    setNonBlocking(fd.get());
    return fd;
  }

  // A TcpConnection client connected to the server, both sides started.
  void connectClient() {
    bool done = false;
    TcpConnector::start(loop_, listener_->address(), 5s, [&](Result<TcpConnection*> r) {
      done = true;
      ASSERT_TRUE(r.isOk()) << r.status();
      client_.attach(**r, &client_limits_);
    });
    ASSERT_TRUE(loop_.runUntil([&] { return done && server_.conn; }, 5s));
    ASSERT_NE(client_.conn, nullptr);
  }

  EventLoop loop_;
  TcpConnection::Limits server_limits_;
  TcpConnection::Limits client_limits_;
  RecordingHandler server_;
  RecordingHandler client_;
  TcpServerPtr listener_;
  int accepted_ = 0;
};

}  // namespace push::net::testing
