#include "common/queue/codec/snappy_codec.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <random>
#include <string>
#include <vector>

#include "common/queue/codec/crc32c.h"
#include "tests/unit/queue/codec/codec_test_util.h"

namespace push::queue {
namespace {

using codec_test::decodeInPieces;
using codec_test::encodeInPieces;
using codec_test::kSizes;
using codec_test::maxPieceFor;
using codec_test::randomData;

const std::string kIdentifier("\xff\x06\x00\x00sNaPpY", 10);

// The test's own statement of framing_format.txt: masked CRC and chunk layout.
uint32_t mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string le32(uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::string header(unsigned char type, size_t length) {
  std::string out;
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(length & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  return out;
}

std::string chunk(unsigned char type, std::string_view data) {
  return header(type, data.size()) + std::string(data);
}

struct Chunk {
  unsigned char type;
  std::string data;
};

// Splits a stream into its chunks (the test's own parser).
std::vector<Chunk> parseChunks(std::string_view wire) {
  std::vector<Chunk> out;
  while (wire.size() >= 4) {
    size_t len = static_cast<unsigned char>(wire[1]) |
                 size_t{static_cast<unsigned char>(wire[2])} << 8 |
                 size_t{static_cast<unsigned char>(wire[3])} << 16;
    EXPECT_LE(4 + len, wire.size());
    out.push_back({static_cast<unsigned char>(wire[0]), std::string(wire.substr(4, len))});
    wire.remove_prefix(std::min(wire.size(), 4 + len));
  }
  EXPECT_TRUE(wire.empty());
  return out;
}

Status decodeAll(std::string_view wire, std::string* plain) {
  auto decoder = SnappyCodec::create();
  std::string to_peer;
  Status status = decoder->decode(wire, plain, &to_peer);
  EXPECT_TRUE(to_peer.empty());
  return status;
}

TEST(SnappyCodecTest, StreamStartsWithTheIdentifierOnce) {
  auto encoder = SnappyCodec::create();
  std::string wire;
  ASSERT_TRUE(encoder->encode("", &wire).isOk());
  EXPECT_TRUE(wire.empty());
  ASSERT_TRUE(encoder->encode("hello", &wire).isOk());
  ASSERT_GE(wire.size(), 10u);
  EXPECT_EQ(wire.substr(0, 10), std::string("\xff\x06\x00\x00\x73\x4e\x61\x50\x70\x59", 10));
  size_t first = wire.size();
  ASSERT_TRUE(encoder->encode("world", &wire).isOk());
  EXPECT_EQ(wire.find(kIdentifier, first), std::string::npos);
}

TEST(SnappyCodecTest, ChunksCarryTheMaskedCrcOfTheirData) {
  auto encoder = SnappyCodec::create();
  std::string wire;
  ASSERT_TRUE(encoder->encode("123456789", &wire).isOk());
  std::vector<Chunk> chunks = parseChunks(wire);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].type, 0xff);
  // Nine bytes do not compress by an eighth: stored uncompressed.
  ASSERT_EQ(chunks[1].type, 0x01);
  EXPECT_EQ(chunks[1].data, le32(mask(0xE3069283u)) + "123456789");
}

TEST(SnappyCodecTest, RoundTripsManySizesSplitAnywhere) {
  std::mt19937 rng(11);
  int variant = 0;
  for (size_t size : kSizes) {
    auto encoder = SnappyCodec::create();
    auto decoder = SnappyCodec::create();
    std::string data = randomData(rng, size);
    std::string wire;
    ASSERT_TRUE(encodeInPieces(*encoder, data, rng, 1 + size / 3, &wire).isOk());
    std::string plain;
    std::string to_peer;
    size_t max_piece = maxPieceFor(size, variant++);
    ASSERT_TRUE(decodeInPieces(*decoder, wire, rng, max_piece, &plain, &to_peer).isOk());
    ASSERT_TRUE(plain == data) << "size " << size;
    EXPECT_TRUE(to_peer.empty());
  }
}

TEST(SnappyCodecTest, LargeInputIsSplitIntoBlocksOfAtMost65536) {
  std::mt19937 rng(12);
  std::string compressible(200000, 'x');
  std::string random(200000, '\0');
  for (char& c : random)
    c = static_cast<char>(rng() & 0xff);
  for (const std::string* data : {&compressible, &random}) {
    auto encoder = SnappyCodec::create();
    std::string wire;
    ASSERT_TRUE(encoder->encode(*data, &wire).isOk());
    std::vector<Chunk> chunks = parseChunks(wire);
    ASSERT_EQ(chunks.size(), 1u + 4u);  // identifier, then ceil(200000 / 65536) blocks
    std::string rebuilt;
    for (size_t i = 1; i < chunks.size(); ++i) {
      const Chunk& c = chunks[i];
      std::string block;
      if (c.type == 0x00) {
        ASSERT_TRUE(snappy::Uncompress(c.data.data() + 4, c.data.size() - 4, &block));
      } else {
        ASSERT_EQ(c.type, 0x01);
        block = c.data.substr(4);
      }
      EXPECT_LE(block.size(), 65536u);
      // The checksum is over the uncompressed data.
      uint32_t crc = 0;
      for (int b = 0; b < 4; ++b) {
        crc |= uint32_t{static_cast<unsigned char>(c.data[b])} << (8 * b);
      }
      EXPECT_EQ(crc, mask(crc32c(block)));
      // Compressible blocks are compressed, random ones stored.
      EXPECT_EQ(c.type, data == &compressible ? 0x00 : 0x01);
      rebuilt += block;
    }
    EXPECT_TRUE(rebuilt == *data);
  }
}

TEST(SnappyCodecTest, DecodesHandBuiltChunksOfBothKinds) {
  std::string text(1000, 'n');
  text += "sq";
  std::string compressed;
  snappy::Compress(text.data(), text.size(), &compressed);
  std::string wire = kIdentifier + chunk(0x01, le32(mask(0xE3069283u)) + "123456789") +
                     chunk(0x00, le32(mask(crc32c(text))) + compressed);
  std::string plain;
  ASSERT_TRUE(decodeAll(wire, &plain).isOk());
  EXPECT_EQ(plain, "123456789" + text);
}

TEST(SnappyCodecTest, BadChecksumIsAnError) {
  std::string good = chunk(0x01, le32(mask(0xE3069283u)) + "123456789");
  std::string bad = chunk(0x01, le32(mask(0xE3069283u) ^ 1) + "123456789");
  std::string plain;
  ASSERT_TRUE(decodeAll(kIdentifier + good, &plain).isOk());
  Status status = decodeAll(kIdentifier + good + bad, &plain);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "snappy: bad checksum");

  std::string compressed;
  snappy::Compress("abcabcabcabcabcabc", 18, &compressed);
  std::string bad_compressed = chunk(0x00, le32(0x12345678) + compressed);
  status = decodeAll(kIdentifier + bad_compressed, &plain);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "snappy: bad checksum");
}

TEST(SnappyCodecTest, ErrorsAreSticky) {
  auto decoder = SnappyCodec::create();
  std::string plain;
  std::string to_peer;
  Status status = decoder->decode(kIdentifier + chunk(0x01, "\0\0\0\0x"), &plain, &to_peer);
  ASSERT_FALSE(status.isOk());
  auto encoder = SnappyCodec::create();
  std::string fresh;
  ASSERT_TRUE(encoder->encode("fine", &fresh).isOk());
  EXPECT_EQ(decoder->decode(fresh, &plain, &to_peer), status);
}

TEST(SnappyCodecTest, ReservedUnskippableChunkIsAnError) {
  for (unsigned char type : {0x02, 0x3a, 0x7f}) {
    std::string plain;
    Status status = decodeAll(kIdentifier + chunk(type, "abcd"), &plain);
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("reserved unskippable"), std::string::npos) << status;
  }
}

TEST(SnappyCodecTest, PaddingAndSkippableChunksAreSkippedWithoutBuffering) {
  std::mt19937 rng(13);
  auto encoder = SnappyCodec::create();
  std::string data_wire;
  ASSERT_TRUE(encoder->encode("payload", &data_wire).isOk());
  std::string wire = data_wire.substr(0, 10) + chunk(0xfe, std::string(100, '\0')) +
                     chunk(0x80, "skip me") + header(0xfd, 3 << 20) + std::string(3 << 20, 'z') +
                     chunk(0xfe, "") + data_wire.substr(10);
  auto decoder = SnappyCodec::create();
  std::string plain;
  std::string to_peer;
  ASSERT_TRUE(decodeInPieces(*decoder, wire, rng, 100000, &plain, &to_peer).isOk());
  EXPECT_EQ(plain, "payload");
}

TEST(SnappyCodecTest, OversizedChunkLengthFailsFromTheHeaderAlone) {
  struct Case {
    unsigned char type;
    size_t length;
  };
  for (Case c : {Case{0x00, 0xffffff}, Case{0x00, SnappyCodec::kMaxChunkLength + 1},
                 Case{0x01, 4 + 65536 + 1}, Case{0xff, 7}}) {
    auto decoder = SnappyCodec::create();
    std::string plain;
    std::string to_peer;
    // Only the header: the error comes before any of the chunk's data is buffered.
    Status status = decoder->decode(kIdentifier + header(c.type, c.length), &plain, &to_peer);
    EXPECT_FALSE(status.isOk()) << int{c.type} << " " << c.length;
  }
  // The largest legal lengths are accepted (they wait for their data).
  for (Case c : {Case{0x00, SnappyCodec::kMaxChunkLength}, Case{0x01, 4 + 65536}}) {
    auto decoder = SnappyCodec::create();
    std::string plain;
    std::string to_peer;
    EXPECT_TRUE(decoder->decode(kIdentifier + header(c.type, c.length), &plain, &to_peer).isOk());
  }
}

TEST(SnappyCodecTest, CompressedChunkDecodingPast65536IsAnError) {
  std::string big(70000, 'a');
  std::string compressed;
  snappy::Compress(big.data(), big.size(), &compressed);
  ASSERT_LT(compressed.size() + 4, SnappyCodec::kMaxChunkLength);
  std::string plain;
  Status status =
      decodeAll(kIdentifier + chunk(0x00, le32(mask(crc32c(big))) + compressed), &plain);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(plain.empty());
}

TEST(SnappyCodecTest, CorruptCompressedDataIsAnError) {
  std::string plain;
  Status status = decodeAll(kIdentifier + chunk(0x00, le32(0) + "\xff\xff\xff\xff\xff"), &plain);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind("snappy: ", 0), 0u);
}

TEST(SnappyCodecTest, StreamMustStartWithTheIdentifier) {
  std::string plain;
  Status status = decodeAll(chunk(0x01, le32(mask(0xE3069283u)) + "123456789"), &plain);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("stream identifier"), std::string::npos);
  EXPECT_FALSE(decodeAll(chunk(0xff, "SnAppy"), &plain).isOk());
}

TEST(SnappyCodecTest, IdentifierIsAcceptedAgainMidStream) {
  auto a = SnappyCodec::create();
  auto b = SnappyCodec::create();
  std::string wire;
  ASSERT_TRUE(a->encode("first ", &wire).isOk());
  ASSERT_TRUE(b->encode("second", &wire).isOk());  // starts with its own identifier
  std::string plain;
  ASSERT_TRUE(decodeAll(wire, &plain).isOk());
  EXPECT_EQ(plain, "first second");
}

}  // namespace
}  // namespace push::queue
