// The SDK's dispatcher GET (sdk/http_get.h) against a raw socket that answers with exactly the
// bytes a test gives, then closes: answers cut short, bodies that end at the close, and chunk
// sizes chosen to overflow. Run under ASan: a double delete or an unbounded body shows here.
#include "sdk/http_get.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "common/net/event_loop.h"

namespace push::sdk {
namespace {

using namespace std::chrono_literals;

// Accepts one connection on 127.0.0.1, reads the request head, writes `answer`, closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    const int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    size_t off = 0;
    while (off < answer_.size()) {
      const ssize_t n = ::write(conn, answer_.data() + off, answer_.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(conn);
  }

  std::string answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

struct Outcome {
  std::optional<Result<HttpGet::Response>> result;
};

Outcome get(const std::string& answer, size_t max_bytes = 64 << 10) {
  OneShotServer server(answer);
  net::EventLoop loop;
  auto url = HttpUrl::parse("http://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_TRUE(url.isOk());
  Outcome out;
  HttpGet::start(loop, *url, "/v1/route?app=a&user=u", 5s, max_bytes,
                 [&](Result<HttpGet::Response> r) { out.result = std::move(r); });
  EXPECT_TRUE(loop.runUntil([&] { return out.result.has_value(); }, 10s));
  // Let the request finish closing (its connection's close callback) before the loop goes.
  loop.runUntil([] { return false; }, 50ms);
  return out;
}

TEST(SdkHttpGet, ContentLengthAnswer) {
  Outcome o = get("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(o.result && o.result->isOk()) << o.result->status();
  EXPECT_EQ((*o.result)->status, 200);
  EXPECT_EQ((*o.result)->body, "hello");
}

TEST(SdkHttpGet, ABodyThatEndsAtTheCloseIsTheAnswer) {
  Outcome o = get("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ttl\":60}");
  ASSERT_TRUE(o.result && o.result->isOk()) << o.result->status();
  EXPECT_EQ((*o.result)->body, "{\"ttl\":60}");
}

TEST(SdkHttpGet, AnAnswerCutShortIsUnavailable) {
  for (const char* cut :
       {"", "HTTP/1.1 200 OK\r\nContent-Len", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"}) {
    Outcome o = get(cut);
    ASSERT_TRUE(o.result.has_value()) << cut;
    EXPECT_EQ(o.result->status().code(), Code::UNAVAILABLE) << cut;
  }
}

TEST(SdkHttpGet, ChunkedBodies) {
  Outcome o = get(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(o.result && o.result->isOk()) << o.result->status();
  EXPECT_EQ((*o.result)->body, "abcde");
}

TEST(SdkHttpGet, ChunkSizesThatWouldWrapOrExceedTheBoundAreMalformed) {
  // size + 2 wraps to 0 for this size: it must not be taken as a complete chunk.
  std::string answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 200; ++i)
    answer += "fffffffffffffffe\r\n";
  Outcome o = get(answer);
  ASSERT_TRUE(o.result.has_value());
  EXPECT_EQ(o.result->status().code(), Code::PROTOCOL_ERROR) << o.result->status();
  o = get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\nabc");
  ASSERT_TRUE(o.result.has_value());
  EXPECT_EQ(o.result->status().code(), Code::PROTOCOL_ERROR) << o.result->status();
}

TEST(SdkHttpGet, AnAnswerOverTheBoundIsRefused) {
  Outcome o = get("HTTP/1.1 200 OK\r\n\r\n" + std::string(4096, 'x'), 1024);
  ASSERT_TRUE(o.result.has_value());
  EXPECT_EQ(o.result->status().code(), Code::PROTOCOL_ERROR) << o.result->status();
}

}  // namespace
}  // namespace push::sdk
