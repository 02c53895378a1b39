#include "common/queue/codec/snappy_codec.h"

#include <snappy.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "common/queue/codec/crc32c.h"

namespace push::queue {
namespace {

constexpr unsigned char kTypeCompressed = 0x00;
constexpr unsigned char kTypeUncompressed = 0x01;
constexpr unsigned char kTypePadding = 0xfe;
constexpr unsigned char kTypeStreamIdentifier = 0xff;
constexpr std::string_view kIdentifierBody = "sNaPpY";
constexpr std::string_view kStreamIdentifier("\xff\x06\x00\x00sNaPpY", 10);
constexpr size_t kHeaderSize = 4;    // type u8, length u24 little-endian
constexpr size_t kChecksumSize = 4;  // masked CRC-32C, little-endian

// framing_format.txt §3: the CRC is masked so that checksumming data that holds CRCs works.
uint32_t maskedCrc(std::string_view data) {
  uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

void putLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t getLe32(std::string_view p) {
  return uint32_t{static_cast<unsigned char>(p[0])} |
         uint32_t{static_cast<unsigned char>(p[1])} << 8 |
         uint32_t{static_cast<unsigned char>(p[2])} << 16 |
         uint32_t{static_cast<unsigned char>(p[3])} << 24;
}

void putHeader(char* p, unsigned char type, size_t length) {
  p[0] = static_cast<char>(type);
  p[1] = static_cast<char>(length & 0xff);
  p[2] = static_cast<char>((length >> 8) & 0xff);
  p[3] = static_cast<char>((length >> 16) & 0xff);
}

std::string hexType(unsigned char type) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", type);
  return buf;
}

Status corrupt(std::string what) {
  return invalidArgument("snappy: " + std::move(what));
}

static_assert(SnappyCodec::kMaxChunkLength == 76494);

}  // namespace

struct SnappyCodec::Impl {
  // Encoder.
  bool wrote_identifier = false;

  // Decoder.
  bool seen_identifier = false;
  char header[kHeaderSize];
  size_t header_len = 0;  // bytes of `header` filled; kHeaderSize once the chunk's type is known
  unsigned char type = 0;
  size_t length = 0;     // of the current chunk's data
  size_t skip_left = 0;  // bytes of a skippable chunk still to drop
  std::string body;      // partial data of the current chunk (at most kMaxChunkLength)
  Status failed;         // sticky

  Status fail(Status status) {
    failed = std::move(status);
    return failed;
  }
  // Checks a header as soon as it is complete, before any of its data is buffered.
  Status startChunk();
  Status finishChunk(std::string_view data, std::string* plain);
};

Status SnappyCodec::Impl::startChunk() {
  type = static_cast<unsigned char>(header[0]);
  length = static_cast<unsigned char>(header[1]) |
           size_t{static_cast<unsigned char>(header[2])} << 8 |
           size_t{static_cast<unsigned char>(header[3])} << 16;
  if (!seen_identifier && type != kTypeStreamIdentifier) {
    return corrupt("stream does not start with the stream identifier");
  }
  if (type == kTypeStreamIdentifier) {
    if (length != kIdentifierBody.size()) return corrupt("bad stream identifier length");
  } else if (type == kTypeCompressed) {
    if (length < kChecksumSize) return corrupt("compressed chunk shorter than its checksum");
    if (length > kMaxChunkLength) {
      return corrupt("compressed chunk length " + std::to_string(length) + " over the maximum " +
                     std::to_string(kMaxChunkLength));
    }
  } else if (type == kTypeUncompressed) {
    if (length < kChecksumSize) return corrupt("uncompressed chunk shorter than its checksum");
    if (length > kChecksumSize + kMaxBlockSize) {
      return corrupt("uncompressed chunk length " + std::to_string(length) + " over the maximum " +
                     std::to_string(kChecksumSize + kMaxBlockSize));
    }
  } else if (type < 0x80) {
    return corrupt("reserved unskippable chunk type " + hexType(type));
  } else {
    // 0x80..0xfd reserved skippable, 0xfe padding: dropped as they arrive.
    skip_left = length;
    header_len = 0;
  }
  return Status::ok();
}

Status SnappyCodec::Impl::finishChunk(std::string_view data, std::string* plain) {
  header_len = 0;
  if (type == kTypeStreamIdentifier) {
    if (data != kIdentifierBody) return corrupt("bad stream identifier");
    seen_identifier = true;
    return Status::ok();
  }
  uint32_t expected = getLe32(data);
  data.remove_prefix(kChecksumSize);
  size_t old = plain->size();
  if (type == kTypeUncompressed) {
    if (maskedCrc(data) != expected) return corrupt("bad checksum");
    plain->append(data);
    return Status::ok();
  }
  size_t decoded_len = 0;
  if (!snappy::GetUncompressedLength(data.data(), data.size(), &decoded_len)) {
    return corrupt("corrupt compressed chunk");
  }
  if (decoded_len > kMaxBlockSize) {
    return corrupt("compressed chunk decodes to " + std::to_string(decoded_len) +
                   " bytes, over the maximum " + std::to_string(kMaxBlockSize));
  }
  plain->resize(old + decoded_len);
  if (!snappy::RawUncompress(data.data(), data.size(), plain->data() + old)) {
    plain->resize(old);
    return corrupt("corrupt compressed chunk");
  }
  if (maskedCrc(std::string_view(*plain).substr(old)) != expected) {
    plain->resize(old);
    return corrupt("bad checksum");
  }
  return Status::ok();
}

std::unique_ptr<StreamCodec> SnappyCodec::create() {
  return std::unique_ptr<StreamCodec>(new SnappyCodec());
}

SnappyCodec::SnappyCodec() : impl_(std::make_unique<Impl>()) {}
SnappyCodec::~SnappyCodec() = default;

Status SnappyCodec::decode(std::string_view in, std::string* plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  while (!in.empty()) {
    if (s.skip_left > 0) {
      size_t n = std::min(s.skip_left, in.size());
      in.remove_prefix(n);
      s.skip_left -= n;
      continue;
    }
    if (s.header_len < kHeaderSize) {
      size_t n = std::min(kHeaderSize - s.header_len, in.size());
      std::copy_n(in.data(), n, s.header + s.header_len);
      s.header_len += n;
      in.remove_prefix(n);
      if (s.header_len < kHeaderSize) break;
      Status started = s.startChunk();
      if (!started.isOk()) return s.fail(std::move(started));
      if (s.header_len < kHeaderSize) continue;  // a skippable chunk: now skipping
      s.body.clear();
    }
    if (s.body.empty() && in.size() >= s.length) {
      // The whole chunk is here: decode it in place.
      Status done = s.finishChunk(in.substr(0, s.length), plain);
      if (!done.isOk()) return s.fail(std::move(done));
      in.remove_prefix(s.length);
      continue;
    }
    size_t n = std::min(s.length - s.body.size(), in.size());
    s.body.append(in.data(), n);
    in.remove_prefix(n);
    if (s.body.size() == s.length) {
      Status done = s.finishChunk(s.body, plain);
      if (!done.isOk()) return s.fail(std::move(done));
      s.body.clear();
    }
  }
  return Status::ok();
}

Status SnappyCodec::encode(std::string_view plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  if (plain.empty()) return Status::ok();
  if (!s.wrote_identifier) {
    to_peer->append(kStreamIdentifier);
    s.wrote_identifier = true;
  }
  while (!plain.empty()) {
    std::string_view block = plain.substr(0, kMaxBlockSize);
    plain.remove_prefix(block.size());
    uint32_t crc = maskedCrc(block);
    size_t old = to_peer->size();
    size_t data_at = old + kHeaderSize + kChecksumSize;
    to_peer->resize(data_at + snappy::MaxCompressedLength(block.size()));
    size_t compressed_len = 0;
    snappy::RawCompress(block.data(), block.size(), to_peer->data() + data_at, &compressed_len);
    char* out = to_peer->data();
    if (compressed_len >= block.size() - block.size() / 8) {
      // Not worth it (as golang/snappy decides): send the block as it is.
      std::copy(block.begin(), block.end(), out + data_at);
      putHeader(out + old, kTypeUncompressed, kChecksumSize + block.size());
      to_peer->resize(data_at + block.size());
    } else {
      putHeader(out + old, kTypeCompressed, kChecksumSize + compressed_len);
      to_peer->resize(data_at + compressed_len);
    }
    putLe32(to_peer->data() + old + kHeaderSize, crc);
  }
  return Status::ok();
}

}  // namespace push::queue
