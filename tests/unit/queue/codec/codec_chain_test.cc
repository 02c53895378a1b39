#include "common/queue/codec/codec_chain.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "common/queue/codec/deflate_codec.h"
#include "common/queue/codec/snappy_codec.h"
#include "common/queue/codec/tls_codec.h"
#include "tests/unit/queue/codec/codec_test_util.h"
#include "tests/unit/queue/codec/tls_test_util.h"

namespace push::queue {
namespace {

using codec_test::MemoryLink;
using codec_test::randomData;
using codec_test::TestPki;

using CompressionFactory = std::function<std::unique_ptr<StreamCodec>()>;

class CodecChainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // Both ends as chains with TLS outside and `compression` (may be null) inside; runs the
  // handshake.
  void connect(const CompressionFactory& compression) {
    auto server_ctx = TlsContext::createServer(pki_->serverOptions());
    auto client_ctx = TlsContext::createClient(pki_->clientOptions());
    ASSERT_TRUE(server_ctx.isOk()) << server_ctx.status();
    ASSERT_TRUE(client_ctx.isOk()) << client_ctx.status();
    auto client_tls = TlsCodec::create(*client_ctx);
    auto server_tls = TlsCodec::create(*server_ctx);
    client_tls_ = client_tls.get();
    server_tls_ = server_tls.get();
    client_ = CodecChain::create(std::move(client_tls), compression ? compression() : nullptr);
    server_ = CodecChain::create(std::move(server_tls), compression ? compression() : nullptr);
    link_.client = client_.get();
    link_.server = server_.get();
    ASSERT_TRUE(client_tls_->start(&link_.to_server).isOk());
    link_.pump(rng_, 1 << 20);
    ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
    ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
    ASSERT_TRUE(client_tls_->handshakeDone());
    ASSERT_TRUE(server_tls_->handshakeDone());
  }

  void roundTripBothWays() {
    int variant = 0;
    for (size_t size : codec_test::kSizes) {
      std::string up = randomData(rng_, size);
      std::string down = randomData(rng_, size);
      link_.client_plain.clear();
      link_.server_plain.clear();
      ASSERT_TRUE(
          codec_test::encodeInPieces(*client_, up, rng_, 1 + size / 4, &link_.to_server).isOk());
      ASSERT_TRUE(
          codec_test::encodeInPieces(*server_, down, rng_, 1 + size / 4, &link_.to_client).isOk());
      link_.pump(rng_, codec_test::maxPieceFor(size, variant++));
      ASSERT_TRUE(link_.client_status.isOk()) << link_.client_status;
      ASSERT_TRUE(link_.server_status.isOk()) << link_.server_status;
      ASSERT_TRUE(link_.server_plain == up) << size;
      ASSERT_TRUE(link_.client_plain == down) << size;
    }
  }

  static TestPki* pki_;
  std::mt19937 rng_{31};
  TlsCodec* client_tls_ = nullptr;  // owned by client_
  TlsCodec* server_tls_ = nullptr;  // owned by server_
  std::unique_ptr<CodecChain> client_;
  std::unique_ptr<CodecChain> server_;
  MemoryLink link_{};
};

TestPki* CodecChainTest::pki_ = nullptr;

TEST_F(CodecChainTest, TlsWithSnappyRoundTripsBothWays) {
  connect([] { return SnappyCodec::create(); });
  roundTripBothWays();
}

TEST_F(CodecChainTest, TlsWithDeflateRoundTripsBothWays) {
  connect([] { return DeflateCodec::create(6); });
  roundTripBothWays();
}

TEST_F(CodecChainTest, TlsAloneRoundTripsBothWays) {
  connect(nullptr);
  roundTripBothWays();
}

TEST_F(CodecChainTest, CompressionSitsInsideTls) {
  connect([] { return SnappyCodec::create(); });
  // Take the server's compression layer off: what TLS alone decodes must be a snappy stream.
  server_->setInner(nullptr);
  ASSERT_TRUE(client_->encode("PUB topic\n", &link_.to_server).isOk());
  std::string tls_plain;
  std::string to_peer;
  ASSERT_TRUE(server_->decode(link_.to_server, &tls_plain, &to_peer).isOk());
  ASSERT_GE(tls_plain.size(), 10u);
  EXPECT_EQ(tls_plain.substr(0, 10), std::string("\xff\x06\x00\x00sNaPpY", 10));
  // And with the layer back, those bytes decode to the message.
  server_->setInner(SnappyCodec::create());
  std::string plain;
  ASSERT_TRUE(server_->decodeInner(tls_plain, &plain, &to_peer).isOk());
  EXPECT_EQ(plain, "PUB topic\n");
}

// NSQ's upgrade order: plaintext, then TLS after IDENTIFY, then compression after the "OK"
// sent over TLS. The server's "OK" and its first compressed bytes reach the client in one read.
TEST_F(CodecChainTest, UpgradesMidStreamLikeNsq) {
  auto server_ctx = TlsContext::createServer(pki_->serverOptions());
  auto client_ctx = TlsContext::createClient(pki_->clientOptions());
  ASSERT_TRUE(server_ctx.isOk() && client_ctx.isOk());
  client_ = CodecChain::create(nullptr, nullptr);
  server_ = CodecChain::create(nullptr, nullptr);

  // Plaintext stage: the chain passes bytes through.
  std::string wire;
  ASSERT_TRUE(client_->encode("IDENTIFY\n", &wire).isOk());
  EXPECT_EQ(wire, "IDENTIFY\n");
  std::string plain;
  std::string to_peer;
  ASSERT_TRUE(server_->decode(wire, &plain, &to_peer).isOk());
  EXPECT_EQ(plain, "IDENTIFY\n");

  // TLS stage.
  auto client_tls = TlsCodec::create(*client_ctx);
  TlsCodec* client_tls_raw = client_tls.get();
  client_->setOuter(std::move(client_tls));
  server_->setOuter(TlsCodec::create(*server_ctx));
  link_.client = client_.get();
  link_.server = server_.get();
  ASSERT_TRUE(client_tls_raw->start(&link_.to_server).isOk());
  link_.pump(rng_, 1 << 20);
  ASSERT_TRUE(client_tls_raw->handshakeDone());

  // The server answers OK over TLS, then compresses everything after it.
  std::string to_client;
  ASSERT_TRUE(server_->encode("OK", &to_client).isOk());
  server_->setInner(DeflateCodec::create(6));
  std::string message = randomData(rng_, 50000);
  ASSERT_TRUE(server_->encode(message, &to_client).isOk());

  // The client reads both in one go with TLS only, finds the OK, then installs deflate and
  // hands it the rest.
  std::string tls_plain;
  ASSERT_TRUE(client_->decode(to_client, &tls_plain, &to_peer).isOk());
  ASSERT_GE(tls_plain.size(), 2u);
  ASSERT_EQ(tls_plain.substr(0, 2), "OK");
  client_->setInner(DeflateCodec::create(6));
  std::string decoded;
  ASSERT_TRUE(
      client_->decodeInner(std::string_view(tls_plain).substr(2), &decoded, &to_peer).isOk());
  EXPECT_TRUE(decoded == message);

  // From here on both directions run TLS + deflate.
  link_.client_plain.clear();
  link_.server_plain.clear();
  ASSERT_TRUE(client_->encode("FIN 1\n", &link_.to_server).isOk());
  ASSERT_TRUE(server_->encode("MSG 2\n", &link_.to_client).isOk());
  link_.pump(rng_, 3);
  EXPECT_EQ(link_.server_plain, "FIN 1\n");
  EXPECT_EQ(link_.client_plain, "MSG 2\n");
}

TEST(CodecChainNoTlsTest, NullLayersPassBytesThrough) {
  auto chain = CodecChain::create(nullptr, nullptr);
  std::string wire;
  ASSERT_TRUE(chain->encode("abc", &wire).isOk());
  EXPECT_EQ(wire, "abc");
  std::string plain;
  std::string to_peer;
  ASSERT_TRUE(chain->decode("xyz", &plain, &to_peer).isOk());
  EXPECT_EQ(plain, "xyz");
  EXPECT_TRUE(to_peer.empty());
}

TEST(CodecChainNoTlsTest, CompressionAloneMatchesTheCodecAlone) {
  std::mt19937 rng(41);
  std::string data = randomData(rng, 200000);
  auto chain = CodecChain::create(nullptr, SnappyCodec::create());
  auto alone = SnappyCodec::create();
  std::string via_chain;
  std::string via_codec;
  ASSERT_TRUE(chain->encode(data, &via_chain).isOk());
  ASSERT_TRUE(alone->encode(data, &via_codec).isOk());
  EXPECT_TRUE(via_chain == via_codec);
  auto decoder = CodecChain::create(nullptr, SnappyCodec::create());
  std::string plain;
  std::string to_peer;
  ASSERT_TRUE(codec_test::decodeInPieces(*decoder, via_chain, rng, 999, &plain, &to_peer).isOk());
  EXPECT_TRUE(plain == data);
}

TEST(CodecChainNoTlsTest, InnerErrorsComeBack) {
  auto chain = CodecChain::create(nullptr, SnappyCodec::create());
  std::string plain;
  std::string to_peer;
  Status status = chain->decode("not snappy at all", &plain, &to_peer);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind("snappy: ", 0), 0u);
}

}  // namespace
}  // namespace push::queue
