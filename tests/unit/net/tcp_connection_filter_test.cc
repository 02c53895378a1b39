// TcpConnection with a StreamFilter (setFilter): bytes decoded before the handler sees them,
// encoded before they are queued, handshake bytes queued as they are, limits on encoded bytes,
// and a decode error answered with the filter's alert and then closed. A visible fake filter
// checks the bytes; one TLS session (queue::TlsCodec) checks the real thing.
#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"
#include "common/net/stream_filter.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "common/queue/codec/tls_codec.h"
#include "tests/unit/net/net_test_util.h"
#include "tests/unit/queue/codec/tls_test_util.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;
using testing::connectRaw;
using testing::counterValue;
using testing::Fd;
using testing::pattern;
using testing::readAvailable;
using testing::RecordingHandler;
using testing::setNonBlocking;
using testing::writeAll;
using CloseReason = TcpConnection::CloseReason;

constexpr char kKey = 0x5a;

// A stand-in for TLS whose bytes a test can write and check by hand. The wire is a sequence
// of units <n><n bytes, each XOR kKey> with n in 1..254; encode() cuts longer input into several
// units. n = 0 is a "hello": decode() answers it with the unit "\0" in to_peer, as a handshake
// would, and yields no plain bytes. n = 255 is a bad unit: decode() fails and puts "ALERT" in
// to_peer. A partial unit waits inside for its tail. encode() of bytes containing "boom"
// fails. Errors are sticky. `destroyed` counts deletions (the connection owns the filter).
class XorFilter final : public StreamFilter {
 public:
  explicit XorFilter(int* destroyed = nullptr) : destroyed_(destroyed) {}
  ~XorFilter() override {
    if (destroyed_) ++*destroyed_;
  }

  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override {
    if (!error_.isOk()) return error_;
    pending_.append(in);
    size_t pos = 0;
    while (pos < pending_.size()) {
      const auto n = static_cast<uint8_t>(pending_[pos]);
      if (n == 255) {
        to_peer->append("ALERT");
        error_ = Status(Code::INVALID_ARGUMENT, "xor: bad unit");
        return error_;
      }
      if (n == 0) {
        to_peer->push_back('\0');
        ++pos;
        continue;
      }
      if (pending_.size() - pos - 1 < n) break;  // the rest of the unit comes later
      for (size_t i = 0; i < n; ++i)
        plain->push_back(static_cast<char>(pending_[pos + 1 + i] ^ kKey));
      pos += 1 + n;
    }
    pending_.erase(0, pos);
    return Status::ok();
  }

  Status encode(std::string_view plain, std::string* to_peer) override {
    if (!error_.isOk()) return error_;
    if (plain.find("boom") != std::string_view::npos) {
      error_ = Status(Code::INVALID_ARGUMENT, "xor: cannot encode boom");
      return error_;
    }
    to_peer->append(wire(plain));
    return Status::ok();
  }

  // The wire form of `plain` (what encode() appends).
  static std::string wire(std::string_view plain) {
    std::string out;
    while (!plain.empty()) {
      size_t n = std::min<size_t>(plain.size(), 254);
      out.push_back(static_cast<char>(n));
      for (size_t i = 0; i < n; ++i)
        out.push_back(static_cast<char>(plain[i] ^ kKey));
      plain.remove_prefix(n);
    }
    return out;
  }

 private:
  std::string pending_;
  Status error_;
  int* destroyed_;
};

std::string frame(std::string_view payload) {
  std::string out(kLengthPrefixBytes, '\0');
  encodeLengthPrefix(static_cast<uint32_t>(payload.size()), out.data());
  out += payload;
  return out;
}

// Consumes whole length-prefixed frames, keeps partial ones (what a protocol handler does).
size_t consumeFrames(std::string_view in, std::vector<std::string>* payloads) {
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

// A server whose accepted connections get the filter `make_filter` returns; the test talks to
// it from a raw non-blocking socket.
class TcpConnectionFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = TcpServer::listen(loop_, TcpServer::Options{}, [this](TcpConnection& c) {
      if (make_filter_) c.setFilter(make_filter_());
      server_.attach(c, &limits_);
    });
    ASSERT_TRUE(r.isOk()) << r.status();
    listener_ = std::move(r).value();
    make_filter_ = [this] { return std::make_unique<XorFilter>(&destroyed_); };
  }

  void TearDown() override {
    if (server_.conn) server_.conn->close();
    listener_.reset();
    EXPECT_TRUE(loop_.runUntil([&] { return !server_.conn; }, 5s));
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  Fd acceptRaw() {
    Fd fd = connectRaw(listener_->address());
    EXPECT_TRUE(loop_.runUntil([&] { return server_.conn != nullptr; }, 5s));
    setNonBlocking(fd.get());
    return fd;
  }

  // Runs the loop until the peer has read at least `n` bytes (into *got); false on timeout.
  bool readAtLeast(int fd, size_t n, std::string* got) {
    return loop_.runUntil(
        [&] {
          (void)readAvailable(fd, got);
          return got->size() >= n;
        },
        5s, testing::kPoll);
  }

  // Runs the loop until the peer sees the connection end; what came before it is in *got.
  bool readUntilClosed(int fd, std::string* got) {
    return loop_.runUntil([&] { return readAvailable(fd, got) != 0; }, 5s, testing::kPoll);
  }

  EventLoop loop_;
  TcpConnection::Limits limits_;
  RecordingHandler server_;
  TcpServerPtr listener_;
  std::function<std::unique_ptr<StreamFilter>()> make_filter_;
  int destroyed_ = 0;
};

TEST_F(TcpConnectionFilterTest, HandlerSeesDecodedBytesAndItsAnswersAreEncoded) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("got:" + std::string(d) + ";"));
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), XorFilter::wire("hello"));
  std::string got;
  const std::string expected = XorFilter::wire("got:hello;");
  ASSERT_TRUE(readAtLeast(peer.get(), expected.size(), &got));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(server_.received, "hello");

  // Larger than one unit both ways: several units in, several out, in order. The echo is
  // encoded per read, so the peer compares the decoded stream.
  const std::string big = pattern(1000);
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send(d));
    return d.size();
  };
  server_.received.clear();
  writeAll(peer.get(), XorFilter::wire(big));
  XorFilter decoder;
  std::string plain, ignored;
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        std::string raw;
        (void)readAvailable(peer.get(), &raw);
        EXPECT_TRUE(decoder.decode(raw, &plain, &ignored).isOk());
        return plain.size() >= big.size();
      },
      5s, testing::kPoll));
  EXPECT_TRUE(plain == big);
  EXPECT_TRUE(server_.received == big);
}

TEST_F(TcpConnectionFilterTest, PendingBytesAndHardLimitCountEncodedBytes) {
  limits_.hard_limit = 100;
  Fd peer = acceptRaw();
  TcpConnection* conn = server_.conn;
  ASSERT_TRUE(conn->send(pattern(60)));
  EXPECT_EQ(conn->pendingBytes(), 61u);  // one unit: a length byte + 60
  // 39 plain bytes pass the check on the plain size, but their encoding (40) does not fit.
  char* room = conn->prepareSend(39);
  ASSERT_NE(room, nullptr);
  std::memcpy(room, pattern(39).data(), 39);
  const uint64_t slow_before = counterValue("push_net_closed_total", R"(reason="slow_peer")");
  conn->commitSend(39);
  EXPECT_TRUE(conn->closing());
  EXPECT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::SlowPeer);
  EXPECT_EQ(counterValue("push_net_closed_total", R"(reason="slow_peer")"), slow_before + 1);
  EXPECT_EQ(destroyed_, 1) << "the connection owns its filter";
}

TEST_F(TcpConnectionFilterTest, PrepareSendStagesAndCommitSendEncodes) {
  Fd peer = acceptRaw();
  TcpConnection* conn = server_.conn;
  char* room = conn->prepareSend(100);
  ASSERT_NE(room, nullptr);
  std::memcpy(room, "abcdef", 6);
  EXPECT_EQ(conn->pendingBytes(), 0u) << "staged bytes are not output yet";
  conn->commitSend(3);  // only "abc" is sent
  EXPECT_EQ(conn->pendingBytes(), 4u);
  ASSERT_NE(conn->prepareSend(0), nullptr);  // a zero-size reservation is still room
  conn->commitSend(0);                       // and encodes nothing
  ASSERT_TRUE(conn->send("xyz"));
  const std::string expected = XorFilter::wire("abc") + XorFilter::wire("xyz");
  std::string got;
  ASSERT_TRUE(readAtLeast(peer.get(), expected.size(), &got));
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(server_.closed());
}

TEST_F(TcpConnectionFilterTest, PartialUnitsAndPartialFramesAreKeptAcrossReads) {
  std::vector<std::string> payloads;
  server_.on_data = [&](TcpConnection&, std::string_view d) { return consumeFrames(d, &payloads); };
  Fd peer = acceptRaw();
  // Two frames in plain (9 + 304 bytes), two units on the wire (254 + 59 plain bytes). The
  // wire is cut inside the first unit (the filter keeps the start), and the first unit ends
  // inside the second frame (the connection keeps that tail, in plain, as it would unfiltered).
  const std::string first = frame("first");
  const std::string plain = first + frame(pattern(300));
  const std::string wire = XorFilter::wire(plain);
  ASSERT_EQ(wire.size(), 1 + 254 + 1 + 59u);
  const uint64_t read_before = counterValue("push_net_read_bytes_total");
  writeAll(peer.get(), wire.substr(0, 6));
  ASSERT_TRUE(loop_.runUntil(
      [&] { return counterValue("push_net_read_bytes_total") == read_before + 6; }, 5s));
  EXPECT_TRUE(server_.offered.empty()) << "a partial unit decodes to nothing";
  writeAll(peer.get(), wire.substr(6, 255 - 6));
  ASSERT_TRUE(loop_.runUntil([&] { return !server_.offered.empty(); }, 5s));
  ASSERT_EQ(server_.offered.size(), 1u);
  EXPECT_EQ(server_.offered[0], plain.substr(0, 254));
  EXPECT_EQ(payloads, std::vector<std::string>{"first"});
  EXPECT_EQ(server_.conn->bufferedInputBytes(), 254 - first.size());

  writeAll(peer.get(), wire.substr(255));
  ASSERT_TRUE(loop_.runUntil([&] { return payloads.size() == 2; }, 5s));
  ASSERT_EQ(server_.offered.size(), 2u);
  EXPECT_EQ(server_.offered[1], plain.substr(first.size())) << "the tail, then the new bytes";
  EXPECT_EQ(payloads[1], pattern(300));
  EXPECT_EQ(server_.conn->bufferedInputBytes(), 0u);
}

TEST_F(TcpConnectionFilterTest, HandshakeBytesFromDecodeGoOutAsTheyAre) {
  Fd peer = acceptRaw();
  writeAll(peer.get(), std::string(1, '\0'));  // a hello unit
  std::string got;
  ASSERT_TRUE(readAtLeast(peer.get(), 1, &got));
  EXPECT_EQ(got, std::string(1, '\0'));
  EXPECT_TRUE(server_.offered.empty()) << "a handshake alone gives the handler nothing";

  // A handshake answer goes out before what the handler answers to the same read.
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("re:" + std::string(d)));
    return d.size();
  };
  writeAll(peer.get(), std::string(1, '\0') + XorFilter::wire("q"));
  got.clear();
  const std::string expected = std::string(1, '\0') + XorFilter::wire("re:q");
  ASSERT_TRUE(readAtLeast(peer.get(), expected.size(), &got));
  EXPECT_EQ(got, expected);
}

TEST_F(TcpConnectionFilterTest, DecodeErrorWritesTheAlertThenClosesAsFilterError) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("re:" + std::string(d)));
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), XorFilter::wire("ok"));
  std::string got;
  const std::string answer = XorFilter::wire("re:ok");
  ASSERT_TRUE(readAtLeast(peer.get(), answer.size(), &got));
  const uint64_t before = counterValue("push_net_closed_total", R"(reason="filter_error")");

  // Valid bytes before the bad unit in the same read are dropped: the stream is broken.
  writeAll(peer.get(), XorFilter::wire("lost") + std::string(1, '\xff'));
  got.clear();
  ASSERT_TRUE(readUntilClosed(peer.get(), &got));
  EXPECT_EQ(got, "ALERT") << "the alert is written before the connection closes";
  ASSERT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::FilterError);
  EXPECT_EQ(server_.received, "ok");
  EXPECT_EQ(counterValue("push_net_closed_total", R"(reason="filter_error")"), before + 1);
  EXPECT_EQ(destroyed_, 1);
}

TEST_F(TcpConnectionFilterTest, EncodeErrorFailsTheSendAndCloses) {
  Fd peer = acceptRaw();
  TcpConnection* conn = server_.conn;
  EXPECT_FALSE(conn->send("kaboom"));
  EXPECT_TRUE(conn->closing());
  EXPECT_FALSE(conn->send("fine"));
  EXPECT_EQ(conn->prepareSend(4), nullptr);
  ASSERT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::FilterError);
  std::string got;
  ASSERT_TRUE(readUntilClosed(peer.get(), &got));
  EXPECT_EQ(got, "");
}

TEST_F(TcpConnectionFilterTest, WithoutAFilterBytesPassUnchanged) {
  make_filter_ = nullptr;
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send(d));
    return d.size();
  };
  Fd peer = acceptRaw();
  writeAll(peer.get(), std::string("\0\xff plain", 8));
  std::string got;
  ASSERT_TRUE(readAtLeast(peer.get(), 8, &got));
  EXPECT_EQ(got, std::string("\0\xff plain", 8));
  EXPECT_EQ(destroyed_, 0);
}

// The real thing: a TLS session whose server end is the connection's filter and whose client
// end the test drives over the raw socket.
class TcpConnectionTlsTest : public TcpConnectionFilterTest {
 protected:
  void SetUp() override {
    TcpConnectionFilterTest::SetUp();
    auto server_ctx = queue::TlsContext::createServer(pki_.serverOptions());
    ASSERT_TRUE(server_ctx.isOk()) << server_ctx.status();
    auto client_ctx = queue::TlsContext::createClient(pki_.clientOptions());
    ASSERT_TRUE(client_ctx.isOk()) << client_ctx.status();
    client_ctx_ = *client_ctx;
    make_filter_ = [ctx = *server_ctx] { return queue::TlsCodec::create(ctx); };
  }

  queue::codec_test::TestPki pki_;
  std::shared_ptr<queue::TlsContext> client_ctx_;
};

TEST_F(TcpConnectionTlsTest, EchoOverTls) {
  server_.on_data = [](TcpConnection& c, std::string_view d) {
    EXPECT_TRUE(c.send("echo:" + std::string(d)));
    return d.size();
  };
  Fd peer = acceptRaw();
  auto client = queue::TlsCodec::create(client_ctx_);
  std::string out;
  ASSERT_TRUE(client->start(&out).isOk());
  // Queued before the handshake ends; the client sends it once it does.
  ASSERT_TRUE(client->encode("secret ping", &out).isOk());
  writeAll(peer.get(), out);

  std::string raw_seen, plain;
  ASSERT_TRUE(loop_.runUntil(
      [&] {  // runUntil() asks once more at the end: no bytes then, the same answer
        std::string raw;
        (void)readAvailable(peer.get(), &raw);
        if (!raw.empty()) {
          raw_seen += raw;
          std::string to_server;
          EXPECT_TRUE(client->decode(raw, &plain, &to_server).isOk());
          if (!to_server.empty()) writeAll(peer.get(), to_server);
        }
        return plain == "echo:secret ping";
      },
      5s, testing::kPoll));
  EXPECT_TRUE(client->handshakeDone());
  EXPECT_EQ(server_.received, "secret ping");
  EXPECT_EQ(raw_seen.find("secret"), std::string::npos) << "the answer went out encrypted";
}

TEST_F(TcpConnectionTlsTest, ABadHandshakeGetsAnAlertAndTheConnectionCloses) {
  Fd peer = acceptRaw();
  // A handshake record holding a message of an unknown type: OpenSSL answers with an alert.
  writeAll(peer.get(), std::string("\x16\x03\x01\x00\x04\xff\x00\x00\x00", 9));
  std::string got;
  ASSERT_TRUE(readUntilClosed(peer.get(), &got));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], '\x15') << "a TLS alert record";
  ASSERT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::FilterError);
  EXPECT_TRUE(server_.offered.empty());
}

TEST_F(TcpConnectionTlsTest, PlainTextToATlsConnectionCloses) {
  Fd peer = acceptRaw();
  writeAll(peer.get(), "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  ASSERT_TRUE(readUntilClosed(peer.get(), &got));
  ASSERT_TRUE(loop_.runUntil([&] { return server_.closed(); }, 5s));
  EXPECT_EQ(server_.reason, CloseReason::FilterError);
  EXPECT_TRUE(server_.offered.empty()) << "nothing reaches the handler";
}

}  // namespace
}  // namespace push::net
