#pragma once

// The harness of the queued conformance suites (queued_protocol_conformance_test.cc,
// queued_service_conformance_test.cc): every case sends the same bytes to a daemon and expects
// the same bytes back, and runs twice: against queued and against the real nsqd v1.3.0
// (skipped with a message when ../shared/peers/nsq/nsqd is absent). The expected strings are
// what nsqd v1.3.0 answers (captured from the binary), so a case that passes on both shows
// queued answering byte for byte as nsqd does.
//
// Raw: a blocking NSQ V2 connection (bytes in, frames out; TLS or compression once set).
// QueuedConformance: the fixture, parameterized by "queued" / "nsqd".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/queue/codec/stream_codec.h"
#include "common/queue/codec/tls_codec.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"

namespace push::testing::conformance {

using namespace std::chrono_literals;

constexpr int kResponse = 0;
constexpr int kError = 1;
constexpr int kMessage = 2;

struct Frame {
  int type = -1;  // -1: the connection closed (or the read timed out: see `timed_out`)
  std::string data;
  bool timed_out = false;
};

struct Msg {
  int64_t timestamp = 0;
  int attempts = 0;
  std::string id;
  std::string body;
};

inline std::string be32(uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  return std::string(b, 4);
}

// A blocking NSQ V2 connection: raw bytes in, frames out.
class Raw {
 public:
  explicit Raw(const std::string& address, bool magic = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (magic) send("  V2");
  }
  ~Raw() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& plain) {
    if (!codec_) return sendRaw(plain);
    std::string wire;
    EXPECT_TRUE(codec_->encode(plain, &wire).isOk());
    sendRaw(wire);
  }
  void sendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  void command(const std::string& line) { send(line + "\n"); }
  void withBody(const std::string& line, const std::string& body) {
    send(line + "\n" + be32(static_cast<uint32_t>(body.size())) + body);
  }

  // The next frame, skipping heartbeats unless asked for them.
  Frame read(std::chrono::milliseconds timeout = 5s, bool keep_heartbeats = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (in_.size() >= 4) {
        uint32_t size = ntohl(*reinterpret_cast<const uint32_t*>(in_.data()));
        if (in_.size() >= 4 + size) {
          Frame frame;
          frame.type = static_cast<int>(ntohl(*reinterpret_cast<const uint32_t*>(in_.data() + 4)));
          frame.data = in_.substr(8, size - 4);
          in_.erase(0, 4 + size);
          if (!keep_heartbeats && frame.type == kResponse && frame.data == "_heartbeat_") continue;
          return frame;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Frame{-1, "", true};
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return Frame{-1, "", true};
      char buffer[65536];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return Frame{};
      receive(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  // True when the peer closed the connection within `timeout` (frames before it are dropped).
  bool closedWithin(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Frame frame = read(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::steady_clock::now()),
                         true);
      if (frame.type == -1) return !frame.timed_out;
    }
    return false;
  }
  Msg message(std::chrono::milliseconds timeout = 5s) {
    Frame frame = read(timeout);
    Msg msg;
    if (frame.type != kMessage || frame.data.size() < 26) return msg;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(frame.data.data());
    for (int i = 0; i < 8; ++i)
      msg.timestamp = (msg.timestamp << 8) | p[i];
    msg.attempts = (p[8] << 8) | p[9];
    msg.id = frame.data.substr(10, 16);
    msg.body = frame.data.substr(26);
    return msg;
  }
  // From now on bytes both ways go through `codec` (TLS or compression negotiated by
  // IDENTIFY). Bytes already received after the last whole frame are decoded by it too.
  void setCodec(std::unique_ptr<queue::StreamCodec> codec) {
    codec_ = std::move(codec);
    std::string pending;
    pending.swap(in_);
    if (!pending.empty()) receive(pending);
  }
  void startTls(std::shared_ptr<queue::TlsContext> context) {
    auto tls = queue::TlsCodec::create(std::move(context));
    std::string hello;
    EXPECT_TRUE(tls->start(&hello).isOk());
    std::unique_ptr<queue::StreamCodec> codec = std::move(tls);
    std::string pending;
    pending.swap(in_);
    codec_ = std::move(codec);
    sendRaw(hello);
    if (!pending.empty()) receive(pending);
  }

  // IDENTIFY with `json`, SUB, RDY: a consumer.
  void subscribe(const std::string& topic, const std::string& channel, int rdy,
                 const std::string& identify = "") {
    if (!identify.empty()) {
      withBody("IDENTIFY", identify);
      EXPECT_EQ(read().data, "OK");
    }
    command("SUB " + topic + " " + channel);
    EXPECT_EQ(read().data, "OK");
    if (rdy >= 0) command("RDY " + std::to_string(rdy));
  }

 private:
  void receive(std::string_view raw) {
    if (!codec_) {
      in_.append(raw);
      return;
    }
    std::string to_peer;
    Status status = codec_->decode(raw, &in_, &to_peer);
    EXPECT_TRUE(status.isOk()) << status.toString();
    if (!to_peer.empty()) sendRaw(to_peer);
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string in_;  // decoded bytes not yet framed
  std::unique_ptr<queue::StreamCodec> codec_;
};

class QueuedConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { start({}); }

  void start(const std::vector<std::string>& flags) {
    daemon_.reset();
    if (NsqDaemon::binaryFor(GetParam()).empty()) {
      GTEST_SKIP() << GetParam() << " binary not found (nsqd: set NSQD_BIN or install "
                   << "../shared/peers/nsq/nsqd); skipping the comparison run";
    }
    auto started = NsqDaemon::start(GetParam(), flags);
    ASSERT_TRUE(started.isOk()) << started.status().toString();
    daemon_ = std::move(started).value();
  }
  std::unique_ptr<Raw> connect(bool magic = true) {
    return std::make_unique<Raw>(daemon_->tcpAddress(), magic);
  }
  void publish(const std::string& topic, const std::string& body) {
    auto producer = connect();
    producer->withBody("PUB " + topic, body);
    ASSERT_EQ(producer->read().data, "OK");
  }
  HttpReply http(const std::string& method, const std::string& path, const std::string& body = "") {
    auto reply = httpRequest(daemon_->httpAddress(), method, path, body);
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    return reply.isOk() ? *reply : HttpReply{};
  }
  void expectFatal(Raw& conn, const std::string& error) {
    Frame frame = conn.read();
    EXPECT_EQ(frame.type, kError) << frame.data;
    EXPECT_EQ(frame.data, error);
    EXPECT_TRUE(conn.closedWithin(3s)) << "a fatal error must close the connection";
  }

  std::unique_ptr<NsqDaemon> daemon_;
};

}  // namespace push::testing::conformance
