// TcpConnection output: coalescing, early writes, watermarks, the hard limit, writes in flight.
#include "common/net/tcp_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "tests/unit/net/net_test_util.h"
#include "tests/unit/net/tcp_connection_fixture.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;
using testing::counterValue;
using testing::Fd;
using testing::pattern;
using testing::readAvailable;
using testing::writeAll;
using CloseReason = TcpConnection::CloseReason;
using testing::frame;
using testing::setSendBuffer;
using testing::TcpConnectionTest;
using testing::turn;

TEST_F(TcpConnectionTest, SendsInOneTurnAreCoalescedIntoFewWrites) {
  connectClient();
  const uint64_t writes_before = counterValue("push_net_writes_total");
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string msg = "msg" + std::to_string(i) + ";";
    ASSERT_TRUE(client_.conn->send(msg));
    expected += msg;
  }
  EXPECT_EQ(client_.conn->pendingBytes(), expected.size());  // nothing written yet
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received.size() >= expected.size(); }, 5s));
  EXPECT_EQ(server_.received, expected);
  const uint64_t writes = counterValue("push_net_writes_total") - writes_before;
  EXPECT_GE(writes, 1u);
  EXPECT_LE(writes, 5u) << "1000 sends in one turn should leave in about one write";
}

TEST_F(TcpConnectionTest, WriteEarlyBytesSendsALongBurstInPartsWithinTheTurn) {
  client_limits_.write_early_bytes = 1000;
  connectClient();
  const uint64_t writes_before = counterValue("push_net_writes_total");
  std::string expected;
  size_t most_pending = 0;
  for (int i = 0; i < 1000; ++i) {  // ~8.9 KB in one turn
    std::string msg = "msg" + std::to_string(i) + ";";
    ASSERT_TRUE(client_.conn->send(msg));
    expected += msg;
    most_pending = std::max(most_pending, client_.conn->pendingBytes());
  }
  // Each time the queue reached 1000 bytes it went to the kernel at once, not at the turn's
  // end: what is left is the tail after the last part.
  EXPECT_LT(most_pending, 1000u);
  EXPECT_LT(client_.conn->pendingBytes(), 1000u);
  const uint64_t early_writes = counterValue("push_net_writes_total") - writes_before;
  EXPECT_GE(early_writes, expected.size() / 1000 - 1);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received.size() >= expected.size(); }, 5s));
  EXPECT_EQ(server_.received, expected);  // in order, nothing lost or doubled
  // Below the threshold a turn's sends still leave in one write.
  const uint64_t writes_mid = counterValue("push_net_writes_total");
  ASSERT_TRUE(client_.conn->send("small"));
  EXPECT_EQ(client_.conn->pendingBytes(), 5u);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received.size() == expected.size() + 5; }, 5s));
  EXPECT_EQ(counterValue("push_net_writes_total") - writes_mid, 1u);
}

TEST_F(TcpConnectionTest, AnEarlyWriteTheKernelCannotTakeLeavesTheRestToTheTurnsEnd) {
  server_limits_.write_early_bytes = 1000;
  Fd peer = acceptRaw(/*rcvbuf=*/4096);  // a peer that does not read yet
  TcpConnection* conn = server_.conn;
  setSendBuffer(conn->fd(), 4096);
  const uint64_t writes_before = counterValue("push_net_writes_total");
  std::string sent;
  for (int i = 0; i < 200; ++i) {  // 200 KB in one turn, each send over the threshold
    const std::string chunk = pattern(1000, static_cast<size_t>(i));
    ASSERT_TRUE(conn->send(chunk));
    sent += chunk;
  }
  // The kernel took what fits; the first early write it could not finish paused early writes
  // for the turn, so the other sends made no syscall, and nothing closed.
  const uint64_t writes = counterValue("push_net_writes_total") - writes_before;
  EXPECT_GE(writes, 1u);
  EXPECT_LT(writes, 100u);
  EXPECT_GT(conn->pendingBytes(), 0u);
  EXPECT_FALSE(conn->closing());
  std::string got;
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        EXPECT_EQ(readAvailable(peer.get(), &got), 0);
        return got.size() >= sent.size();
      },
      30s, testing::kPoll));
  EXPECT_TRUE(got == sent);  // in order, nothing lost or doubled
}

TEST_F(TcpConnectionTest, HighWatermarkOnceThenLowAfterPeerDrains) {
  server_limits_.high_watermark = 256 << 10;
  server_limits_.low_watermark = 64 << 10;
  Fd peer = acceptRaw(/*rcvbuf=*/4096);  // the peer does not read yet
  TcpConnection* conn = server_.conn;
  setSendBuffer(conn->fd(), 4096);
  size_t pending_at_low = SIZE_MAX;
  server_.on_low = [&](TcpConnection& c) { pending_at_low = c.pendingBytes(); };

  std::string sent;
  const std::string chunk = pattern(16 << 10);
  for (int i = 0; i < 64; ++i) {  // 1 MiB
    ASSERT_TRUE(conn->send(chunk));
    sent += chunk;
    EXPECT_EQ(server_.high, i < 16 ? 0 : 1) << "after " << (i + 1) * chunk.size() << " bytes";
  }
  // The kernel takes what fits; the rest stays queued and the event does not repeat.
  for (int i = 0; i < 5; ++i)
    turn(loop_);
  EXPECT_GT(conn->pendingBytes(), server_limits_.high_watermark);
  ASSERT_TRUE(conn->send(chunk));
  sent += chunk;
  for (int i = 0; i < 5; ++i)
    turn(loop_);
  EXPECT_EQ(server_.high, 1);
  EXPECT_EQ(server_.low, 0);

  // The peer reads everything: the queue drains and the low-watermark event fires once.
  std::string got;
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        EXPECT_EQ(readAvailable(peer.get(), &got), 0);
        return got.size() == sent.size() && server_.low > 0;
      },
      30s, testing::kPoll));
  EXPECT_EQ(server_.low, 1);
  EXPECT_LE(pending_at_low, server_limits_.low_watermark);
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(server_.events, (std::vector<std::string>{"high", "low"}));

  // A new crossing fires again.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(conn->send(chunk));
  EXPECT_EQ(server_.high, 2);
}

TEST_F(TcpConnectionTest, HardLimitClosesSlowPeerAndSendFails) {
  server_limits_.high_watermark = 64 << 10;
  server_limits_.low_watermark = 16 << 10;
  server_limits_.hard_limit = 256 << 10;
  Fd peer = acceptRaw(/*rcvbuf=*/4096);
  TcpConnection* conn = server_.conn;
  setSendBuffer(conn->fd(), 4096);
  const uint64_t slow_before = counterValue("push_net_closed_total", R"(reason="slow_peer")");

  const std::string chunk = pattern(32 << 10);
  size_t accepted = 0;
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) {
    ok = conn->send(chunk);
    if (ok) accepted += chunk.size();
    if (ok && i % 3 == 2) turn(loop_);  // let some of it reach the kernel in between
  }
  ASSERT_FALSE(ok) << "the hard limit never triggered";
  EXPECT_LE(conn->pendingBytes(), server_limits_.hard_limit);
  EXPECT_TRUE(conn->closing());
  EXPECT_FALSE(conn->send("more"));  // still closing: every later send fails too
  EXPECT_EQ(conn->prepareSend(10), nullptr);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::SlowPeer);
  EXPECT_EQ(server_.closed_count, 1);
  EXPECT_EQ(counterValue("push_net_closed_total", R"(reason="slow_peer")"), slow_before + 1);
  EXPECT_EQ(server_.high, 1);
  // The peer got at most what was accepted, then the connection went away.
  std::string got;
  int st = 0;
  EXPECT_TRUE(loop_.runUntil([&] { return (st = readAvailable(peer.get(), &got)) != 0; }, 5s,
                             testing::kPoll));
  EXPECT_LE(got.size(), accepted);
}
// Fills the kernel buffers behind the connection's back, then queues `queued` so that it
// has to wait in an in-flight uv_write. Returns what the peer will read before `queued`.
std::string stallBehindFullKernelBuffers(EventLoop& loop, TcpConnection* conn,
                                         const std::string& queued) {
  const std::string fill = pattern(65536);
  std::string written;
  // A fixed send buffer: with autotuning the kernel grows it as ACKs arrive (to megabytes),
  // so a buffer found full could take the queued bytes a moment later.
  int sndbuf = 16384;
  EXPECT_EQ(::setsockopt(conn->fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  // One EAGAIN does not mean full either: the ACKs of the data in flight free space (late on
  // a loaded machine). Keep filling until three writes a few milliseconds apart find no room;
  // the peer reads nothing, so its window closes and the loop ends.
  for (int no_room = 0; no_room < 3;) {
    ssize_t n = ::send(conn->fd(), fill.data(), fill.size(), MSG_NOSIGNAL);
    if (n > 0) {
      written.append(fill.data(), static_cast<size_t>(n));
      no_room = 0;
      continue;
    }
    EXPECT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
    ++no_room;
    ::poll(nullptr, 0, 5);
  }
  EXPECT_TRUE(conn->send(queued));
  turn(loop);  // flush: nothing fits, the bytes go to an in-flight write
  EXPECT_EQ(conn->pendingBytes(), queued.size());
  return written;
}

// The peer sends a byte and drains what the kernel holds, so that in the next turn the
// server's socket is readable and writable at once: the read runs first, then the in-flight
// write completes in the same libuv callback.
void readableAndWritableInOneTurn(int peer, size_t drain, std::string* got) {
  writeAll(peer, "x");
  for (int i = 0; i < 1000 && got->size() < drain; ++i) {
    ASSERT_EQ(readAvailable(peer, got), 0);
  }
  ASSERT_EQ(got->size(), drain) << "peer could not drain";
}

// Regression: a write that completes in the same loop turn as a read which queued more output
// (so the connection is on the loop's flush list) must not leave it there when it is closed
// and deleted. Before the fix, onWriteDone() flushed directly and cleared the "scheduled" flag
// while the entry stayed on the list; a close from the low-watermark callback then skipped
// cancelling it, and the next flush pass used freed memory.
TEST_F(TcpConnectionTest, WriteCompletingInTheTurnOfAReadThatQueuedOutputIsSafe) {
  server_limits_.high_watermark = 500;
  server_limits_.low_watermark = 100;
  Fd peer = acceptRaw(/*rcvbuf=*/16384);
  TcpConnection* conn = server_.conn;
  const std::string queued = pattern(1000, 3);
  std::string expected = stallBehindFullKernelBuffers(loop_, conn, queued);
  EXPECT_EQ(server_.high, 1);
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("reply"));
    return d.size();
  };
  server_.on_low = [](TcpConnection& c) { c.close(); };  // e.g. "drained: done with it"
  std::string got;
  readableAndWritableInOneTurn(peer.get(), expected.size(), &got);
  expected += queued + "reply";
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.low, 1);
  // More turns: the flush pass must not touch the deleted connection.
  for (int i = 0; i < 3; ++i)
    turn(loop_);
  int st = 0;
  EXPECT_TRUE(loop_.runUntil([&] { return (st = readAvailable(peer.get(), &got)) != 0; }, 5s,
                             testing::kPoll));
  EXPECT_EQ(st, 1);
  EXPECT_TRUE(got == expected);
}

// The same turn with closeAfterFlush() from the read (e.g. answering a bad frame with an
// error and closing): every byte arrives, then EOF, and the server closes once the peer does.
TEST_F(TcpConnectionTest, CloseAfterFlushInTheTurnAWriteCompletes) {
  Fd peer = acceptRaw(/*rcvbuf=*/16384);
  TcpConnection* conn = server_.conn;
  const std::string queued = pattern(1000, 5);
  std::string expected = stallBehindFullKernelBuffers(loop_, conn, queued);
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("bye"));
    c.closeAfterFlush();
    return d.size();
  };
  std::string got;
  readableAndWritableInOneTurn(peer.get(), expected.size(), &got);
  expected += queued + "bye";
  int st = 0;
  EXPECT_TRUE(loop_.runUntil([&] { return (st = readAvailable(peer.get(), &got)) != 0; }, 5s,
                             testing::kPoll));
  EXPECT_EQ(st, 1);
  EXPECT_TRUE(got == expected);
  for (int i = 0; i < 3; ++i)
    turn(loop_);
  peer.reset();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
}
}  // namespace
}  // namespace push::net
