#include "common/queue/codec/deflate_codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "tests/unit/queue/codec/codec_test_util.h"

namespace push::queue {
namespace {

using codec_test::decodeInPieces;
using codec_test::encodeInPieces;
using codec_test::kSizes;
using codec_test::maxPieceFor;
using codec_test::randomData;

// Plain zlib raw inflate (windowBits -15), the reference decoder: Go's flate.NewReader reads
// the same format.
class RawInflater {
 public:
  RawInflater() { EXPECT_EQ(inflateInit2(&z_, -15), Z_OK); }
  ~RawInflater() { inflateEnd(&z_); }
  // Everything decodable from `in` so far; false on a zlib error.
  bool feed(std::string_view in, std::string* out) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      char buf[4096];
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof(buf);
      int rc = inflate(&z_, Z_SYNC_FLUSH);
      out->append(buf, sizeof(buf) - z_.avail_out);
      if (rc == Z_BUF_ERROR || rc == Z_STREAM_END) return true;
      if (rc != Z_OK) return false;
      if (z_.avail_in == 0 && z_.avail_out != 0) return true;
    }
  }

 private:
  z_stream z_{};
};

// Plain zlib raw deflate, the reference encoder.
class RawDeflater {
 public:
  explicit RawDeflater(int level) {
    EXPECT_EQ(deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  }
  ~RawDeflater() { deflateEnd(&z_); }
  std::string feed(std::string_view in, int flush) {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      char buf[4096];
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof(buf);
      int rc = deflate(&z_, flush);
      out.append(buf, sizeof(buf) - z_.avail_out);
      EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
      if (z_.avail_out != 0) return out;
    }
  }

 private:
  z_stream z_{};
};

TEST(DeflateCodecTest, RoundTripsManySizesSplitAnywhere) {
  std::mt19937 rng(1);
  int variant = 0;
  for (int level : {1, 6, 9}) {
    for (size_t size : kSizes) {
      auto encoder = DeflateCodec::create(level);
      auto decoder = DeflateCodec::create(level);
      std::string data = randomData(rng, size);
      std::string wire;
      ASSERT_TRUE(encodeInPieces(*encoder, data, rng, 1 + size / 3, &wire).isOk());
      std::string plain;
      std::string to_peer;
      size_t max_piece = maxPieceFor(size, variant++);
      ASSERT_TRUE(decodeInPieces(*decoder, wire, rng, max_piece, &plain, &to_peer).isOk());
      ASSERT_EQ(plain.size(), data.size()) << "level " << level << " size " << size;
      ASSERT_TRUE(plain == data) << "level " << level << " size " << size;
      EXPECT_TRUE(to_peer.empty());
    }
  }
}

TEST(DeflateCodecTest, EveryEncodeIsFlushedAndInflatesWithPlainZlib) {
  std::mt19937 rng(2);
  auto encoder = DeflateCodec::create(6);
  RawInflater reference;
  std::string sent;
  std::string received;
  for (int i = 0; i < 50; ++i) {
    std::string piece = randomData(rng, 1 + rng() % 20000);
    std::string wire;
    ASSERT_TRUE(encoder->encode(piece, &wire).isOk());
    // A sync flush ends with an empty stored block.
    ASSERT_GE(wire.size(), 4u);
    EXPECT_EQ(wire.substr(wire.size() - 4), std::string("\x00\x00\xff\xff", 4));
    sent += piece;
    ASSERT_TRUE(reference.feed(wire, &received));
    // Everything sent so far is decodable now, not only after later calls.
    ASSERT_EQ(received.size(), sent.size());
    ASSERT_TRUE(received == sent);
  }
}

TEST(DeflateCodecTest, StartsWithoutAZlibHeader) {
  auto encoder = DeflateCodec::create(6);
  std::string wire;
  ASSERT_TRUE(encoder->encode("hello hello hello", &wire).isOk());
  // A zlib stream would start with 0x78 (CMF: deflate, 32K window); raw deflate does not.
  ASSERT_FALSE(wire.empty());
  EXPECT_NE(static_cast<unsigned char>(wire[0]), 0x78);
  std::string out;
  RawInflater reference;
  ASSERT_TRUE(reference.feed(wire, &out));
  EXPECT_EQ(out, "hello hello hello");
}

TEST(DeflateCodecTest, DecodesPlainZlibRawDeflateSplitAnywhere) {
  std::mt19937 rng(3);
  for (size_t size : {size_t{10}, size_t{70000}, size_t{400000}}) {
    RawDeflater reference(9);
    std::string data = randomData(rng, size);
    std::string wire;
    size_t half = size / 2;
    wire += reference.feed(std::string_view(data).substr(0, half), Z_SYNC_FLUSH);
    wire += reference.feed(std::string_view(data).substr(half), Z_NO_FLUSH);
    wire += reference.feed("", Z_SYNC_FLUSH);
    auto decoder = DeflateCodec::create(1);
    std::string plain;
    std::string to_peer;
    ASSERT_TRUE(decodeInPieces(*decoder, wire, rng, size < 100 ? 1 : 999, &plain, &to_peer).isOk());
    ASSERT_TRUE(plain == data) << size;
  }
}

TEST(DeflateCodecTest, DataAfterTheFinalBlockIsAnError) {
  RawDeflater reference(6);
  std::string wire = reference.feed("last words", Z_FINISH);
  auto decoder = DeflateCodec::create(6);
  std::string plain;
  std::string to_peer;
  ASSERT_TRUE(decoder->decode(wire, &plain, &to_peer).isOk());
  EXPECT_EQ(plain, "last words");
  Status status = decoder->decode("x", &plain, &to_peer);
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("after the end"), std::string::npos) << status;
}

TEST(DeflateCodecTest, CorruptInputIsAStickyErrorNotACrash) {
  auto decoder = DeflateCodec::create(6);
  std::string plain;
  std::string to_peer;
  // BTYPE 11 is reserved in RFC 1951.
  Status status = decoder->decode(std::string("\xff\xff\xff\xff", 4), &plain, &to_peer);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind("deflate: ", 0), 0u) << status;
  // Later calls, even with valid data, keep failing the same way.
  auto encoder = DeflateCodec::create(6);
  std::string wire;
  ASSERT_TRUE(encoder->encode("fine", &wire).isOk());
  EXPECT_EQ(decoder->decode(wire, &plain, &to_peer), status);
}

TEST(DeflateCodecTest, ZlibWrappedInputIsRejected) {
  // Go's flate.Reader reads raw deflate only; a zlib-wrapped stream must not decode as data.
  std::string zlib_wrapped;
  {
    z_stream z{};
    ASSERT_EQ(deflateInit(&z, 6), Z_OK);
    std::string in(1000, 'a');
    char buf[256];
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    zlib_wrapped.assign(buf, sizeof(buf) - z.avail_out);
    deflateEnd(&z);
  }
  auto decoder = DeflateCodec::create(6);
  std::string plain;
  std::string to_peer;
  Status status = decoder->decode(zlib_wrapped, &plain, &to_peer);
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(plain, std::string(1000, 'a'));
}

TEST(DeflateCodecTest, EmptyEncodeWritesNothing) {
  auto encoder = DeflateCodec::create(6);
  std::string wire;
  ASSERT_TRUE(encoder->encode("", &wire).isOk());
  EXPECT_TRUE(wire.empty());
}

}  // namespace
}  // namespace push::queue
