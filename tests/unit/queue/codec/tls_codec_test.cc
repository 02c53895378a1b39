#include "common/queue/codec/tls_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/unit/queue/codec/codec_test_util.h"
#include "tests/unit/queue/codec/tls_test_util.h"

namespace push::queue {
namespace {

using codec_test::MemoryLink;
using codec_test::randomData;
using codec_test::TestPki;

class TlsCodecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  static std::shared_ptr<TlsContext> server(const TlsOptions& options) {
    auto ctx = TlsContext::createServer(options);
    EXPECT_TRUE(ctx.isOk()) << ctx.status();
    return ctx.isOk() ? *ctx : nullptr;
  }
  static std::shared_ptr<TlsContext> client(const TlsOptions& options) {
    auto ctx = TlsContext::createClient(options);
    EXPECT_TRUE(ctx.isOk()) << ctx.status();
    return ctx.isOk() ? *ctx : nullptr;
  }

  // Runs a handshake between fresh codecs; the link keeps pointers to them.
  void handshake(const TlsOptions& server_options, const TlsOptions& client_options,
                 size_t max_piece = 1 << 20) {
    server_ = TlsCodec::create(server(server_options));
    client_ = TlsCodec::create(client(client_options));
    link_.client = client_.get();
    link_.server = server_.get();
    ASSERT_TRUE(client_->start(&link_.to_server).isOk());
    ASSERT_FALSE(link_.to_server.empty());  // the ClientHello
    link_.pump(rng_, max_piece);
  }

  static TestPki* pki_;
  std::mt19937 rng_{21};
  std::unique_ptr<TlsCodec> server_;
  std::unique_ptr<TlsCodec> client_;
  MemoryLink link_{};
};

TestPki* TlsCodecTest::pki_ = nullptr;

TEST_F(TlsCodecTest, HandshakeCompletesThroughMemoryAndDataFlowsBothWays) {
  handshake(pki_->serverOptions(), pki_->clientOptions());
  ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
  ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
  EXPECT_TRUE(client_->handshakeDone());
  EXPECT_TRUE(server_->handshakeDone());

  for (size_t size : {size_t{1}, size_t{16384}, size_t{16385}, size_t{1} << 20}) {
    std::string up = randomData(rng_, size);
    std::string down = randomData(rng_, size / 2 + 1);
    link_.client_plain.clear();
    link_.server_plain.clear();
    ASSERT_TRUE(codec_test::encodeInPieces(*client_, up, rng_, 70000, &link_.to_server).isOk());
    ASSERT_TRUE(server_->encode(down, &link_.to_client).isOk());
    // Ciphertext is not the plaintext (for 16+ bytes: a byte or two of random data would turn
    // up in random ciphertext by chance).
    if (size >= 16) {
      EXPECT_EQ(link_.to_server.find(up.substr(0, 64)), std::string::npos);
    }
    link_.pump(rng_, 5000);
    ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
    ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
    ASSERT_TRUE(link_.server_plain == up) << size;
    ASSERT_TRUE(link_.client_plain == down) << size;
  }
}

TEST_F(TlsCodecTest, HandshakeWorksFedOneByteAtATime) {
  handshake(pki_->serverOptions(), pki_->clientOptions(), 1);
  ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
  ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
  ASSERT_TRUE(client_->handshakeDone());
  ASSERT_TRUE(server_->handshakeDone());
  ASSERT_TRUE(client_->encode("PUB topic\n", &link_.to_server).isOk());
  link_.pump(rng_, 1);
  EXPECT_EQ(link_.server_plain, "PUB topic\n");
}

TEST_F(TlsCodecTest, DataEncodedBeforeTheHandshakeEndsIsSentAfterIt) {
  server_ = TlsCodec::create(server(pki_->serverOptions()));
  client_ = TlsCodec::create(client(pki_->clientOptions()));
  link_.client = client_.get();
  link_.server = server_.get();
  ASSERT_TRUE(client_->start(&link_.to_server).isOk());
  std::string before = link_.to_server;
  ASSERT_TRUE(client_->encode("early from client", &link_.to_server).isOk());
  EXPECT_EQ(link_.to_server, before);  // queued, nothing sent yet
  ASSERT_TRUE(server_->encode("early from server", &link_.to_client).isOk());
  EXPECT_TRUE(link_.to_client.empty());
  link_.pump(rng_, 1 << 20);
  ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
  ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
  EXPECT_EQ(link_.server_plain, "early from client");
  EXPECT_EQ(link_.client_plain, "early from server");
}

TEST_F(TlsCodecTest, TooMuchDataBeforeTheHandshakeIsAnError) {
  client_ = TlsCodec::create(client(pki_->clientOptions()));
  std::string to_peer;
  ASSERT_TRUE(client_->start(&to_peer).isOk());
  std::string big(TlsCodec::kMaxQueuedBeforeHandshake, 'x');
  ASSERT_TRUE(client_->encode(big, &to_peer).isOk());
  EXPECT_FALSE(client_->encode("y", &to_peer).isOk());
}

TEST_F(TlsCodecTest, ClientVerifyingAgainstTheWrongCaFails) {
  TlsOptions options = pki_->clientOptions();
  options.root_ca_file = pki_->path("other_ca.pem");
  handshake(pki_->serverOptions(), options);
  ASSERT_FALSE(link_.client_status.isOk());
  EXPECT_NE(link_.client_status.message().find("certificate verify failed"), std::string::npos)
      << link_.client_status;
  EXPECT_FALSE(client_->handshakeDone());
  // The client's alert reaches the server, which fails too.
  ASSERT_FALSE(link_.to_server.empty());
  std::string plain;
  std::string to_peer;
  EXPECT_FALSE(server_->decode(link_.to_server, &plain, &to_peer).isOk());
  EXPECT_FALSE(server_->handshakeDone());
  // Errors are sticky.
  EXPECT_EQ(client_->encode("x", &to_peer), link_.client_status);
}

TEST_F(TlsCodecTest, ClientVerifyingTheWrongNameFails) {
  TlsOptions options = pki_->clientOptions();
  options.server_name = "nsqd.example.com";
  handshake(pki_->serverOptions(), options);
  ASSERT_FALSE(link_.client_status.isOk());
  EXPECT_NE(link_.client_status.message().find("hostname mismatch"), std::string::npos)
      << link_.client_status;
}

TEST_F(TlsCodecTest, ClientVerifiesAnIpAddressName) {
  TlsOptions options = pki_->clientOptions();
  options.server_name = "127.0.0.1";
  handshake(pki_->serverOptions(), options);
  EXPECT_TRUE(link_.client_status.isOk()) << link_.client_status;
  EXPECT_TRUE(client_->handshakeDone());
}

TEST_F(TlsCodecTest, ClientWithoutVerificationAcceptsAnyServer) {
  TlsOptions options;  // nsq's tls_insecure_skip_verify
  handshake(pki_->serverOptions(), options);
  EXPECT_TRUE(link_.client_status.isOk()) << link_.client_status;
  EXPECT_TRUE(client_->handshakeDone());
  EXPECT_TRUE(server_->handshakeDone());
}

TEST_F(TlsCodecTest, ServerRequiringClientCertificatesChecksThem) {
  TlsOptions server_options = pki_->serverOptions();
  server_options.verify_peer = true;
  server_options.root_ca_file = pki_->path("ca.pem");

  handshake(server_options, pki_->clientOptions());  // no client certificate
  ASSERT_FALSE(link_.server_status.isOk());
  EXPECT_NE(link_.server_status.message().find("certificate"), std::string::npos)
      << link_.server_status;
  EXPECT_FALSE(server_->handshakeDone());

  TlsOptions client_options = pki_->clientOptions();
  client_options.cert_file = pki_->path("client.pem");
  client_options.key_file = pki_->path("client.key");
  link_ = MemoryLink{};
  handshake(server_options, client_options);
  ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
  ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
  EXPECT_TRUE(server_->handshakeDone());
}

// nsqd's "require": a client certificate must come, but nothing verifies it (here the server
// trusts no CA at all, so verification would fail).
TEST_F(TlsCodecTest, ServerRequiringAnyClientCertificateDoesNotVerifyIt) {
  TlsOptions server_options = pki_->serverOptions();
  server_options.require_peer_cert = true;

  handshake(server_options, pki_->clientOptions());  // no client certificate
  ASSERT_FALSE(link_.server_status.isOk());
  EXPECT_FALSE(server_->handshakeDone());

  TlsOptions client_options = pki_->clientOptions();
  client_options.cert_file = pki_->path("client.pem");
  client_options.key_file = pki_->path("client.key");
  link_ = MemoryLink{};
  handshake(server_options, client_options);
  ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
  ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
  EXPECT_TRUE(server_->handshakeDone());
}

TEST_F(TlsCodecTest, MinimumVersionTakesNsqdsNames) {
  for (const char* version : {"tls1.0", "tls1.1", "tls1.2", "tls1.3", ""}) {
    TlsOptions options = pki_->serverOptions();
    options.min_version = version;
    auto ctx = TlsContext::createServer(options);
    EXPECT_TRUE(ctx.isOk()) << version << ": " << ctx.status();
  }
  TlsOptions bad = pki_->serverOptions();
  bad.min_version = "ssl3";
  auto refused = TlsContext::createServer(bad);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("min_version"), std::string::npos);

  // Both ends at TLS 1.3 minimum still meet.
  TlsOptions server_options = pki_->serverOptions();
  server_options.min_version = "tls1.3";
  TlsOptions client_options = pki_->clientOptions();
  client_options.min_version = "tls1.3";
  handshake(server_options, client_options);
  EXPECT_TRUE(link_.client_status.isOk()) << link_.client_status;
  EXPECT_TRUE(server_->handshakeDone());
}

TEST_F(TlsCodecTest, ContextCreationNamesTheBadFile) {
  TlsOptions options = pki_->serverOptions();
  options.cert_file = pki_->path("missing.pem");
  auto ctx = TlsContext::createServer(options);
  ASSERT_FALSE(ctx.isOk());
  EXPECT_NE(ctx.status().message().find("missing.pem"), std::string::npos) << ctx.status();

  options = pki_->serverOptions();
  options.key_file = pki_->path("client.key");  // not the server certificate's key
  ctx = TlsContext::createServer(options);
  ASSERT_FALSE(ctx.isOk());
  EXPECT_NE(ctx.status().message().find("client.key"), std::string::npos) << ctx.status();
  EXPECT_NE(ctx.status().message().find("mismatch"), std::string::npos) << ctx.status();

  EXPECT_FALSE(TlsContext::createServer(TlsOptions{}).isOk());
  options = pki_->clientOptions();
  options.root_ca_file = pki_->path("missing_ca.pem");
  auto client_ctx = TlsContext::createClient(options);
  ASSERT_FALSE(client_ctx.isOk());
  EXPECT_NE(client_ctx.status().message().find("missing_ca.pem"), std::string::npos);
}

TEST_F(TlsCodecTest, GarbageFromTheClientIsAnErrorNotACrash) {
  server_ = TlsCodec::create(server(pki_->serverOptions()));
  std::string plain;
  std::string to_peer;
  Status status = server_->decode("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &plain, &to_peer);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind("tls: ", 0), 0u) << status;
  EXPECT_TRUE(plain.empty());
}

TEST_F(TlsCodecTest, ServerStartIsANoOp) {
  server_ = TlsCodec::create(server(pki_->serverOptions()));
  std::string to_peer;
  EXPECT_TRUE(server_->start(&to_peer).isOk());
  EXPECT_TRUE(to_peer.empty());
}

}  // namespace
}  // namespace push::queue
