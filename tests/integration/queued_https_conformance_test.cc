// Conformance of queued with nsqd v1.3.0 on HTTPS (harness: queued_conformance.h): with
// --tls-cert and --tls-key the HTTP API is served over TLS on --https-address, the plain port
// refuses every request under --tls-required=true, a client certificate is required under
// --tls-client-auth-policy=require-verify, and plain HTTP sent to the HTTPS port gets Go's
// "400 Bad Request" text. Each case runs against queued and the real nsqd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/queue/codec/tls_test_util.h"

#include "tests/integration/queued_conformance.h"

namespace push::testing::conformance {
namespace {

// A blocking socket connected to 127.0.0.1:<port of address>; -1 when it cannot connect.
int connectLoopback(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads once within `timeout`: the bytes, or an empty string when the peer closed, failed or
// said nothing in time (*open tells which).
std::string readSome(int fd, std::chrono::milliseconds timeout, bool* open) {
  pollfd p{fd, POLLIN, 0};
  *open = false;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
  char buffer[65536];
  ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) return "";
  *open = true;
  return std::string(buffer, static_cast<size_t>(n));
}

// A whole HTTP answer at the start of `in`: status, headers and the Content-Length body.
// False while incomplete.
bool parseReply(const std::string& in, HttpReply* reply) {
  size_t header_end = in.find("\r\n\r\n");
  if (header_end == std::string::npos || in.size() < 12) return false;
  HttpReply r;
  r.status = std::atoi(in.c_str() + 9);
  size_t content_length = 0;
  size_t pos = in.find("\r\n");
  while (pos < header_end) {
    size_t next = in.find("\r\n", pos + 2);
    std::string line = in.substr(pos + 2, next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      if (strcasecmp(name.c_str(), "Content-Length") == 0) content_length = std::stoul(value);
      r.headers.emplace_back(name, value);
    }
    pos = next;
  }
  if (in.size() < header_end + 4 + content_length) return false;
  r.body = in.substr(header_end + 4, content_length);
  *reply = std::move(r);
  return true;
}

// One HTTP/1.1 request over TLS on a fresh connection ("Connection: close"): a TlsCodec client
// over a blocking socket. UNAVAILABLE when the handshake or the connection fails before a
// whole answer arrived.
Result<HttpReply> httpsRequest(const std::string& address,
                               const std::shared_ptr<queue::TlsContext>& context,
                               const std::string& method, const std::string& path,
                               const std::string& body = "") {
  int fd = connectLoopback(address);
  if (fd < 0) return unavailable("connect " + address);
  auto tls = queue::TlsCodec::create(context);
  std::string wire;
  Status status = tls->start(&wire);
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + address +
                        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  if (status.isOk()) status = tls->encode(request, &wire);  // sent once the handshake ends
  if (status.isOk() && !sendAll(fd, wire)) status = unavailable("send");
  std::string plain;
  HttpReply reply;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (status.isOk() && !parseReply(plain, &reply)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    bool open = false;
    std::string raw = left.count() > 0 ? readSome(fd, left, &open) : "";
    if (!open) {
      status = unavailable("connection ended before a whole answer: " + plain);
      break;
    }
    std::string to_peer;
    status = tls->decode(raw, &plain, &to_peer);
    if (!to_peer.empty()) (void)sendAll(fd, to_peer);
  }
  ::close(fd);
  if (parseReply(plain, &reply)) return reply;
  return status.isOk() ? unavailable("no answer") : status;
}

class QueuedHttps : public QueuedConformance {
 protected:
  void SetUp() override {}  // each case starts the daemon with its own flags

  // Starts the daemon with a certificate, HTTPS on a free port and `flags`.
  void startTls(const std::vector<std::string>& flags) {
    https_address_ = "127.0.0.1:" + std::to_string(freeLoopbackPort());
    std::vector<std::string> all = {"--tls-cert=" + pki_.path("server.pem"),
                                    "--tls-key=" + pki_.path("server.key"),
                                    "--https-address=" + https_address_};
    all.insert(all.end(), flags.begin(), flags.end());
    start(all);
  }
  // A client context that verifies the server against the test CA as "localhost"; with
  // `certificate`, it also presents the client certificate.
  std::shared_ptr<queue::TlsContext> clientContext(bool certificate = false) {
    queue::TlsOptions options = pki_.clientOptions();
    if (certificate) {
      options.cert_file = pki_.path("client.pem");
      options.key_file = pki_.path("client.key");
    }
    auto context = queue::TlsContext::createClient(options);
    EXPECT_TRUE(context.isOk()) << context.status().toString();
    return context.isOk() ? *context : nullptr;
  }
  HttpReply https(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    auto reply = httpsRequest(https_address_, clientContext(), method, path, body);
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    return reply.isOk() ? *reply : HttpReply{};
  }
  int httpsPort() const { return std::stoi(https_address_.substr(https_address_.rfind(':') + 1)); }

  queue::codec_test::TestPki pki_;
  std::string https_address_;
};

TEST_P(QueuedHttps, ServesTheHttpApiOverTls) {
  startTls({});
  if (!daemon_) return;  // skipped
  HttpReply ping = https("GET", "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "OK");
  EXPECT_EQ(ping.header("Content-Type"), "text/plain; charset=utf-8");

  HttpReply pub = https("POST", "/pub?topic=t", "over tls");
  EXPECT_EQ(pub.status, 200);
  EXPECT_EQ(pub.body, "OK");
  EXPECT_EQ(pub.header("X-Nsq-Content-Type"), "nsq; version=1.0");
  HttpReply bad = https("POST", "/pub?topic=bad!", "x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"message":"INVALID_TOPIC"})");
  HttpReply missing = https("GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"message":"NOT_FOUND"})");

  // The message is there, seen over HTTPS and over plain HTTP (open: TLS is not required).
  HttpReply stats = https("GET", "/stats?format=json&topic=t");
  EXPECT_NE(stats.body.find(R"("topic_name":"t","channels":[],"depth":1,"backend_depth":0,)"
                            R"("message_count":1,"message_bytes":8,)"),
            std::string::npos)
      << stats.body;
  EXPECT_NE(http("GET", "/stats?format=json&topic=t").body.find(R"("message_count":1,)"),
            std::string::npos);
  auto consumer = connect();
  consumer->subscribe("t", "c", 1);
  EXPECT_EQ(consumer->message().body, "over tls");

  // /info is the same document on both ports: it names the TCP and HTTP ports, not HTTPS.
  HttpReply info = https("GET", "/info");
  EXPECT_EQ(info.body, http("GET", "/info").body);
  EXPECT_EQ(info.body.find("https"), std::string::npos) << info.body;
  EXPECT_EQ(https("GET", "/config/https_address").body, https_address_);
}

TEST_P(QueuedHttps, TlsRequiredRefusesEveryPlainHttpRequest) {
  startTls({"--tls-required=true"});
  if (!daemon_) return;
  const std::string refusal =
      R"({"message": "TLS_REQUIRED", "https_port": )" + std::to_string(httpsPort()) + "}";
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/ping"}, {"POST", "/pub?topic=t"}, {"GET", "/nope"}, {"PUT", "/ping"}}) {
    HttpReply reply = http(method, path, "x");
    EXPECT_EQ(reply.status, 403) << method << " " << path;
    EXPECT_EQ(reply.body, refusal) << method << " " << path;
    EXPECT_EQ(reply.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(reply.header("X-Nsq-Content-Type"), "nsq; version=1.0");
  }
  EXPECT_EQ(https("POST", "/pub?topic=t", "fine").body, "OK");
  EXPECT_NE(https("GET", "/stats?format=json&topic=t").body.find(R"("message_count":1,)"),
            std::string::npos);
}

TEST_P(QueuedHttps, TlsRequiredWithoutAnHttpsListenerNamesPortZero) {
  start({"--tls-cert=" + pki_.path("server.pem"), "--tls-key=" + pki_.path("server.key"),
         "--https-address=", "--tls-required=true"});
  if (!daemon_) return;
  HttpReply reply = http("GET", "/ping");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.body, R"({"message": "TLS_REQUIRED", "https_port": 0})");
}

TEST_P(QueuedHttps, TcpHttpsLeavesPlainHttpOpen) {
  startTls({"--tls-required=tcp-https"});
  if (!daemon_) return;
  EXPECT_EQ(http("GET", "/ping").body, "OK");
  EXPECT_EQ(https("GET", "/ping").body, "OK");
}

TEST_P(QueuedHttps, RequireVerifyAsksHttpsClientsForACertificate) {
  startTls(
      {"--tls-client-auth-policy=require-verify", "--tls-root-ca-file=" + pki_.path("ca.pem")});
  if (!daemon_) return;
  auto without = httpsRequest(https_address_, clientContext(false), "GET", "/ping");
  EXPECT_FALSE(without.isOk()) << "answered " << (without.isOk() ? without->status : 0)
                               << " without a client certificate";
  auto with = httpsRequest(https_address_, clientContext(true), "GET", "/ping");
  ASSERT_TRUE(with.isOk()) << with.status().toString();
  EXPECT_EQ(with->status, 200);
  EXPECT_EQ(with->body, "OK");
}

// "require": a client certificate must come, and nothing checks it (no CA is configured
// here, so require-verify could not accept it).
TEST_P(QueuedHttps, RequireAsksForACertificateWithoutVerifyingIt) {
  startTls({"--tls-client-auth-policy=require"});
  if (!daemon_) return;
  auto without = httpsRequest(https_address_, clientContext(false), "GET", "/ping");
  EXPECT_FALSE(without.isOk()) << "answered " << (without.isOk() ? without->status : 0)
                               << " without a client certificate";
  auto with = httpsRequest(https_address_, clientContext(true), "GET", "/ping");
  ASSERT_TRUE(with.isOk()) << with.status().toString();
  EXPECT_EQ(with->status, 200);
  EXPECT_EQ(with->body, "OK");
}

TEST_P(QueuedHttps, PlainHttpToTheHttpsPortGetsGosAnswer) {
  startTls({});
  if (!daemon_) return;
  int fd = connectLoopback(https_address_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(sendAll(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  bool open = true;
  while (open)
    got += readSome(fd, 5s, &open);
  ::close(fd);
  EXPECT_EQ(got,
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
}

INSTANTIATE_TEST_SUITE_P(Daemons, QueuedHttps, ::testing::Values("queued", "nsqd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace push::testing::conformance
