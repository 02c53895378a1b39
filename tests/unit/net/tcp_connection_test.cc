// TcpConnection: reading, input limits, closing, lifetime (output: tcp_connection_output_test.cc).
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
using testing::bytesQueued;
using testing::connectRaw;
using testing::counterValue;
using testing::Fd;
using testing::pattern;
using testing::readAvailable;
using testing::writeAll;
using CloseReason = TcpConnection::CloseReason;
using testing::consumeFrames;
using testing::frame;
using testing::setSendBuffer;
using testing::TcpConnectionTest;
using testing::turn;

TEST_F(TcpConnectionTest, EchoRoundTrip) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send(d));
    return d.size();
  };
  connectClient();
  EXPECT_EQ(client_.conn->peerAddress(), listener_->address());
  EXPECT_EQ(server_.conn->peerAddress(), client_.conn->localAddress());
  EXPECT_EQ(server_.conn->localAddress(), listener_->address());
  EXPECT_GE(client_.conn->fd(), 0);
  EXPECT_EQ(&client_.conn->loop(), &loop_);

  ASSERT_TRUE(client_.conn->send("hello"));
  EXPECT_TRUE(loop_.runUntil([&] { return client_.received == "hello"; }, 5s));
  ASSERT_TRUE(client_.conn->send(std::string_view("again")));
  EXPECT_TRUE(loop_.runUntil([&] { return client_.received == "helloagain"; }, 5s));
  EXPECT_EQ(server_.received, "helloagain");

  // The client closes: the server sees EOF, finishes and closes as PeerClosed.
  client_.conn->close();
  EXPECT_TRUE(loop_.runUntil([&] { return client_.closed() && server_.closed(); }, 5s));
  EXPECT_EQ(client_.reason, CloseReason::Local);
  EXPECT_EQ(server_.reason, CloseReason::PeerClosed);
  EXPECT_EQ(server_.closed_count, 1);
  EXPECT_EQ(client_.closed_count, 1);
}

TEST_F(TcpConnectionTest, BusyPollingFollowsReadsAndEndsAfterItsWindow) {
  Fd peer = acceptRaw();
  // Off by default: reads never make the loop spin.
  writeAll(peer.get(), "a");
  ASSERT_TRUE(loop_.runUntil([&] { return server_.received == "a"; }, 5s));
  uv_run(loop_.uvLoop(), UV_RUN_NOWAIT);
  EXPECT_FALSE(loop_.busyPolling());

  // On: the turn after a read polls without sleeping.
  loop_.setBusyPoll(std::chrono::seconds(10));
  writeAll(peer.get(), "b");
  ASSERT_TRUE(loop_.runUntil([&] { return server_.received == "ab"; }, 5s));
  uv_run(loop_.uvLoop(), UV_RUN_NOWAIT);
  EXPECT_TRUE(loop_.busyPolling());

  // A short window: without further reads the loop goes back to sleeping in the kernel.
  loop_.setBusyPoll(std::chrono::milliseconds(2));
  writeAll(peer.get(), "c");
  ASSERT_TRUE(loop_.runUntil([&] { return server_.received == "abc"; }, 5s));
  EXPECT_TRUE(loop_.runUntil([&] { return !loop_.busyPolling(); }, 5s, testing::kPoll));

  // Turning it off stops a spin at once.
  loop_.setBusyPoll(std::chrono::seconds(10));
  writeAll(peer.get(), "d");
  ASSERT_TRUE(loop_.runUntil([&] { return server_.received == "abcd"; }, 5s));
  uv_run(loop_.uvLoop(), UV_RUN_NOWAIT);
  ASSERT_TRUE(loop_.busyPolling());
  loop_.setBusyPoll(std::chrono::microseconds(0));
  uv_run(loop_.uvLoop(), UV_RUN_NOWAIT);
  EXPECT_FALSE(loop_.busyPolling());
}

TEST_F(TcpConnectionTest, LargeEchoArrivesIntactThroughPartialWrites) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send(d));
    return d.size();
  };
  connectClient();
  setSendBuffer(client_.conn->fd(), 8192);  // force partial writes and queued output
  const std::string big = pattern(4 << 20);
  ASSERT_TRUE(client_.conn->send(big));
  EXPECT_EQ(client_.conn->pendingBytes(), big.size());
  EXPECT_TRUE(loop_.runUntil([&] { return client_.received.size() >= big.size(); }, 30s));
  EXPECT_TRUE(client_.received == big) << "echoed bytes differ";
  EXPECT_EQ(client_.conn->pendingBytes(), 0u);
  EXPECT_EQ(server_.conn->pendingBytes(), 0u);
}

TEST_F(TcpConnectionTest, UnconsumedInputOverMaxInputClosesConnection) {
  server_limits_.max_input = 1000;
  server_.on_data = [](TcpConnection&, std::string_view) { return size_t{0}; };
  Fd peer = acceptRaw();
  const uint64_t before = counterValue("push_net_closed_total", R"(reason="input_too_large")");
  // Exactly the limit is kept...
  writeAll(peer.get(), pattern(1000));
  EXPECT_TRUE(loop_.runUntil([&] { return server_.conn->bufferedInputBytes() == 1000; }, 5s));
  turn(loop_);
  EXPECT_FALSE(server_.closed());
  // ...one byte more is not.
  writeAll(peer.get(), "x");
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::InputTooLarge);
  EXPECT_EQ(counterValue("push_net_closed_total", R"(reason="input_too_large")"), before + 1);
  std::string ignored;
  int st = 0;
  EXPECT_TRUE(loop_.runUntil([&] { return (st = readAvailable(peer.get(), &ignored)) != 0; }, 5s,
                             testing::kPoll));
}

TEST_F(TcpConnectionTest, OneLargeReadOverMaxInputCloses) {
  server_limits_.max_input = 100;
  std::vector<std::string> payloads;
  server_.on_data = [&](TcpConnection&, std::string_view d) { return consumeFrames(d, &payloads); };
  Fd peer = acceptRaw();
  writeAll(peer.get(), frame("fine") + frame(pattern(500)).substr(0, 300));
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::InputTooLarge);
  EXPECT_EQ(payloads, (std::vector<std::string>{"fine"}));
}

TEST_F(TcpConnectionTest, PartialConsumptionKeepsTailAndReoffersItWithNextBytes) {
  std::vector<std::string> payloads;
  server_.on_data = [&](TcpConnection&, std::string_view d) { return consumeFrames(d, &payloads); };
  Fd peer = acceptRaw();
  const std::string f1 = frame(pattern(100)), f2 = frame("second"), f3 = frame("third");
  writeAll(peer.get(), f1 + f2.substr(0, 7));
  EXPECT_TRUE(loop_.runUntil([&] { return server_.offered.size() == 1; }, 5s));
  EXPECT_EQ(payloads.size(), 1u);
  EXPECT_EQ(server_.conn->bufferedInputBytes(), 7u);

  writeAll(peer.get(), f2.substr(7) + f3);
  EXPECT_TRUE(loop_.runUntil([&] { return payloads.size() == 3; }, 5s));
  ASSERT_EQ(server_.offered.size(), 2u);
  EXPECT_EQ(server_.offered[1], f2 + f3);  // the kept tail, then the new bytes
  EXPECT_EQ(payloads, (std::vector<std::string>{pattern(100), "second", "third"}));
  EXPECT_EQ(server_.conn->bufferedInputBytes(), 0u);
}

TEST_F(TcpConnectionTest, FramesFedByteByByteAreReassembled) {
  std::vector<std::string> payloads;
  server_.on_data = [&](TcpConnection&, std::string_view d) { return consumeFrames(d, &payloads); };
  Fd peer = acceptRaw();
  const std::string wire = frame("ab") + frame("") + frame("xyz");
  size_t kept = 0;
  for (size_t i = 0; i < wire.size(); ++i) {
    writeAll(peer.get(), wire.substr(i, 1));
    ASSERT_TRUE(loop_.runUntil([&] { return server_.offered.size() == i + 1; }, 5s)) << i;
    // Each call offers everything kept so far plus the new byte.
    EXPECT_EQ(server_.offered[i].size(), kept + 1) << i;
    kept = server_.conn->bufferedInputBytes();
  }
  EXPECT_EQ(payloads, (std::vector<std::string>{"ab", "", "xyz"}));
  EXPECT_EQ(kept, 0u);
}

TEST_F(TcpConnectionTest, StopReadingPausesAndStartReadingReoffersKeptInput) {
  std::vector<std::string> payloads;
  bool paused_once = false;
  server_.on_data = [&](TcpConnection& c, std::string_view d) -> size_t {
    if (!paused_once) {
      // Take one frame, then push back on the peer.
      paused_once = true;
      FrameView f;
      EXPECT_EQ(decodeLengthPrefixed(d.data(), d.size(), 1 << 20, &f), FrameStatus::Complete);
      payloads.emplace_back(f.payload, f.size);
      c.stopReading();
      return f.consumed;
    }
    return consumeFrames(d, &payloads);
  };
  const std::string f1 = frame("one"), f2 = frame("two"), f3 = frame(pattern(50));
  // Everything but the end of f3 is already queued when the server accepts, so the first
  // read sees f1, f2 and half of f3 at once.
  Fd peer = connectRaw(listener_->address());
  writeAll(peer.get(), f1 + f2 + f3.substr(0, 20));
  EXPECT_TRUE(loop_.runUntil([&] { return payloads.size() == 1; }, 5s));
  ASSERT_NE(server_.conn, nullptr);
  TcpConnection* conn = server_.conn;
  EXPECT_EQ(conn->bufferedInputBytes(), f2.size() + 20);

  // While paused, new bytes wait in the kernel and nothing is offered.
  writeAll(peer.get(), f3.substr(20));
  EXPECT_TRUE(loop_.runUntil([&] { return bytesQueued(conn->fd()) == 34; }, 5s, testing::kPoll));
  for (int i = 0; i < 5; ++i)
    turn(loop_);
  EXPECT_EQ(server_.offered.size(), 1u);
  EXPECT_EQ(payloads.size(), 1u);

  conn->startReading();
  EXPECT_TRUE(loop_.runUntil([&] { return payloads.size() == 3; }, 5s));
  ASSERT_GE(server_.offered.size(), 3u);
  EXPECT_EQ(server_.offered[1], f2 + f3.substr(0, 20));  // kept input offered on its own first
  EXPECT_EQ(server_.offered[2], f3);
  EXPECT_EQ(payloads, (std::vector<std::string>{"one", "two", pattern(50)}));
  conn->stopReading();
  conn->stopReading();  // idempotent
  conn->startReading();
  conn->startReading();
  writeAll(peer.get(), frame("four"));
  EXPECT_TRUE(loop_.runUntil([&] { return payloads.size() == 4; }, 5s));
}

TEST_F(TcpConnectionTest, ResumingInsideOnDataWithNothingKeptOffersNothingEmpty) {
  int call = 0;
  server_.on_data = [&](TcpConnection& c, std::string_view d) -> size_t {
    if (++call == 1) return 0;  // keep the first bytes
    // Second call (kept input plus new bytes): pause and resume, then take everything.
    c.stopReading();
    c.startReading();
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), "abc");
  EXPECT_TRUE(loop_.runUntil([&] { return call == 1; }, 5s));
  writeAll(peer.get(), "def");
  EXPECT_TRUE(loop_.runUntil([&] { return call == 2; }, 5s));
  EXPECT_EQ(server_.offered[1], "abcdef");
  for (int i = 0; i < 5; ++i)
    turn(loop_);
  EXPECT_EQ(call, 2) << "an empty offer was made: '" << server_.offered.back() << "'";
  writeAll(peer.get(), "g");
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received == "abcdefg"; }, 5s));
}

TEST_F(TcpConnectionTest, CloseAfterFlushDeliversEverythingThenCloses) {
  Fd peer = acceptRaw(/*rcvbuf=*/8192);
  TcpConnection* conn = server_.conn;
  setSendBuffer(conn->fd(), 8192);
  const std::string big = pattern(2 << 20);
  ASSERT_TRUE(conn->send(big));
  ASSERT_TRUE(conn->send("END"));
  conn->closeAfterFlush();
  EXPECT_TRUE(conn->closing());
  EXPECT_FALSE(conn->send("too late"));
  conn->closeAfterFlush();  // idempotent

  std::string got;
  int st = 0;
  EXPECT_TRUE(loop_.runUntil([&] { return (st = readAvailable(peer.get(), &got)) != 0; }, 30s,
                             testing::kPoll));
  EXPECT_EQ(st, 1) << "expected a clean EOF";
  EXPECT_EQ(got.size(), big.size() + 3);
  EXPECT_TRUE(got == big + "END");
  // FIN is out; the server closes when the peer closes its side.
  peer.reset();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
  EXPECT_EQ(server_.closed_count, 1);
  EXPECT_EQ(server_.peer_shutdowns, 0);  // the owner was closing already: no callback
}

TEST_F(TcpConnectionTest, CloseAfterFlushDeliversEverythingEvenIfThePeerKeepsSending) {
  // The usual case: reply with an error, then close, while the peer is still sending. Input
  // left unread at close() makes the kernel answer with a reset, which throws away whatever
  // output is still in the send buffer; the peer must still get every queued byte.
  Fd peer = acceptRaw(/*rcvbuf=*/8192);
  TcpConnection* conn = server_.conn;
  setSendBuffer(conn->fd(), 8192);
  const std::string reply = pattern(512 << 10) + "END";
  ASSERT_TRUE(conn->send(reply));
  conn->closeAfterFlush();
  turn(loop_);
  writeAll(peer.get(), "more requests the server no longer wants");
  std::string got;
  int st = 0;
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        st = readAvailable(peer.get(), &got);
        if (st == 0) writeAll(peer.get(), "x");  // the peer keeps talking
        return st != 0;
      },
      30s, testing::kPoll));
  EXPECT_EQ(st, 1) << "expected EOF, got " << st << " after " << got.size() << " bytes";
  EXPECT_EQ(got.size(), reply.size());
  EXPECT_TRUE(got == reply);
  peer.reset();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
  EXPECT_EQ(server_.offered.size(), 0u);  // input after closeAfterFlush() is not offered
}

TEST_F(TcpConnectionTest, CloseAfterFlushWithNothingQueuedSendsFinAtOnce) {
  Fd peer = acceptRaw();
  server_.conn->stopReading();  // even a paused connection drains its input while closing
  server_.conn->closeAfterFlush();
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(got, "");
  // Lingering: input still arriving is read and dropped until the peer closes.
  writeAll(peer.get(), "late");
  EXPECT_TRUE(
      loop_.runUntil([&] { return bytesQueued(server_.conn->fd()) == 0; }, 5s, testing::kPoll));
  EXPECT_FALSE(server_.closed());
  EXPECT_TRUE(server_.offered.empty());
  peer.reset();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
}

TEST_F(TcpConnectionTest, CloseAfterWriteClosesOnceWrittenWithoutWaitingForThePeer) {
  // A refusal must not hold the descriptor until the peer closes (a peer that never closes
  // would hold it forever): the reply goes out, then the connection is gone.
  Fd peer = acceptRaw();
  ASSERT_TRUE(server_.conn->send("refused"));
  server_.conn->closeAfterWrite();
  EXPECT_TRUE(server_.conn->closing());
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
  // The peer, which never closed, reads the reply and then EOF.
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(got, "refused");
}

TEST_F(TcpConnectionTest, CloseDuringLingerIsImmediate) {
  Fd peer = acceptRaw();
  server_.conn->closeAfterFlush();
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) == 1; }, 5s, testing::kPoll));
  // The owner's deadline passes before the peer closes.
  server_.conn->close();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::Local);
  EXPECT_EQ(server_.closed_count, 1);
}

TEST_F(TcpConnectionTest, PeerEofGivesPeerShutdownThenPeerClosed) {
  std::string received_at_shutdown;
  server_.on_peer_shutdown = [&](TcpConnection& c) {
    received_at_shutdown = server_.received;
    EXPECT_TRUE(c.send("bye"));  // the half-closed socket still writes
    c.closeAfterFlush();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), "abc");
  ASSERT_EQ(::shutdown(peer.get(), SHUT_WR), 0);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(received_at_shutdown, "abc");
  EXPECT_EQ(server_.peer_shutdowns, 1);
  EXPECT_EQ(server_.reason, CloseReason::PeerClosed);
  ASSERT_GE(server_.events.size(), 3u);
  EXPECT_EQ(server_.events.front(), "data");
  EXPECT_EQ(server_.events[server_.events.size() - 2], "peer_shutdown");
  EXPECT_EQ(server_.events.back(), "closed");
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(got, "bye");
}

TEST_F(TcpConnectionTest, DefaultPeerShutdownFinishesWritingThenCloses) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send(d));
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), "echo me");
  ASSERT_EQ(::shutdown(peer.get(), SHUT_WR), 0);
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) == 1; }, 5s, testing::kPoll));
  EXPECT_EQ(got, "echo me");
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::PeerClosed);
}

TEST_F(TcpConnectionTest, PeerResetGivesReadError) {
  Fd peer = acceptRaw();
  linger hard{1, 0};  // close() sends RST
  ASSERT_EQ(::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  peer.reset();
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::ReadError);
  EXPECT_EQ(server_.peer_shutdowns, 0);
}

TEST_F(TcpConnectionTest, CloseIsIdempotentAndDropsQueuedOutput) {
  Fd peer = acceptRaw();
  TcpConnection* conn = server_.conn;
  ASSERT_TRUE(conn->send("never sent"));
  conn->close();
  conn->close(CloseReason::SlowPeer);  // ignored: the first reason wins
  EXPECT_TRUE(conn->closing());
  EXPECT_EQ(conn->fd(), -1);
  EXPECT_FALSE(conn->send("x"));
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.closed_count, 1);
  EXPECT_EQ(server_.reason, CloseReason::Local);
  std::string got;
  EXPECT_TRUE(
      loop_.runUntil([&] { return readAvailable(peer.get(), &got) != 0; }, 5s, testing::kPoll));
  EXPECT_EQ(got, "");
}

TEST_F(TcpConnectionTest, HandlerMayCloseFromOnData) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    c.close();
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), "first");
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.offered.size(), 1u);
  EXPECT_EQ(server_.reason, CloseReason::Local);
}

TEST_F(TcpConnectionTest, ZeroLengthSendOnOpenConnectionSucceeds) {
  connectClient();
  // An empty payload is legal (a zero-length frame body); it must not look like a failure.
  EXPECT_TRUE(client_.conn->send(""));
  EXPECT_TRUE(client_.conn->send(nullptr, 0));
  EXPECT_NE(client_.conn->prepareSend(0), nullptr);
  client_.conn->commitSend(0);
  ASSERT_TRUE(client_.conn->send("after"));
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received == "after"; }, 5s));
}

TEST_F(TcpConnectionTest, PrepareSendWritesInPlace) {
  connectClient();
  char* p = client_.conn->prepareSend(64);
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "zero-copy", 9);
  client_.conn->commitSend(9);
  EXPECT_EQ(client_.conn->pendingBytes(), 9u);
  EXPECT_TRUE(loop_.runUntil([&] { return server_.received == "zero-copy"; }, 5s));
}

TEST_F(TcpConnectionTest, SendBeforeStartFails) {
  TcpConnection* conn = TcpConnection::createUnstarted(loop_);
  EXPECT_FALSE(conn->send("no handler yet"));
  EXPECT_EQ(conn->prepareSend(1), nullptr);
  conn->close();  // never started: deleted in the close callback without calling anyone
}

TEST_F(TcpConnectionTest, IdAndContextAreOwnersState) {
  connectClient();
  int state = 5;
  client_.conn->setId(77);
  client_.conn->setContext(&state);
  EXPECT_EQ(client_.conn->id(), 77u);
  EXPECT_EQ(client_.conn->context(), &state);
  EXPECT_STREQ(TcpConnection::reasonName(CloseReason::SlowPeer), "slow peer");
  EXPECT_STREQ(TcpConnection::reasonName(CloseReason::PeerClosed), "peer closed");
}

TEST_F(TcpConnectionTest, OpenConnectionsGaugeTracksLifetime) {
  auto& open = metrics::Registry::global().gauge("push_net_connections_open", "");
  const int64_t before = open.value();
  connectClient();
  EXPECT_EQ(open.value(), before + 2);  // client and accepted server side
  client_.conn->close();
  server_.conn->close();
  EXPECT_TRUE(loop_.runUntil([&] { return client_.closed() && server_.closed(); }, 5s));
  EXPECT_EQ(open.value(), before);
}

}  // namespace
}  // namespace push::net
