#include "common/rpc/detail/frame.h"

#include <algorithm>

#include "common/net/frame_codec.h"

namespace push::rpc::detail {

HeaderStatus parseHeader(const char* data, size_t len, size_t max_frame_bytes, FrameHeader* out) {
  // Check the magic on whatever has arrived, so garbage is rejected on its first bytes.
  if (len >= 1 && data[0] != 'P') return HeaderStatus::BadMagic;
  if (len >= 2 && data[1] != 'R') return HeaderStatus::BadMagic;
  if (len < kHeaderBytes) return HeaderStatus::Incomplete;
  if (static_cast<uint8_t>(data[2]) != kVersion) return HeaderStatus::BadVersion;
  out->flags = static_cast<uint8_t>(data[3]);
  if (out->flags & ~kKnownFlags) return HeaderStatus::BadVersion;
  out->meta_len = net::loadBe32(data + 4);
  out->body_len = net::loadBe32(data + 8);
  if (out->frameBytes() > max_frame_bytes) return HeaderStatus::TooLarge;
  return HeaderStatus::Ok;
}

void writeHeader(const FrameHeader& header, char* out) {
  out[0] = 'P';
  out[1] = 'R';
  out[2] = static_cast<char>(kVersion);
  out[3] = static_cast<char>(header.flags);
  net::storeBe32(header.meta_len, out + 4);
  net::storeBe32(header.body_len, out + 8);
}

size_t requestMetaBound(size_t method_len) {
  size_t len_varint = 1;
  for (size_t v = method_len; v >= 0x80; v >>= 7)
    ++len_varint;
  // request_id: tag + 10-byte varint; method: tag + length + bytes; timeout_ms: tag + 5 bytes.
  return (1 + 10) + (1 + len_varint + method_len) + (1 + 5);
}

namespace {

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it does not start with one.
size_t utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c = byte(0);
  if (c < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string boundedErrorText(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxErrorBytes));
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = utf8SequenceLength(text.substr(i));
    const size_t add = n == 0 ? 1 : n;
    if (out.size() + add > kMaxErrorBytes) break;
    if (n == 0) {
      out += '?';
    } else {
      out.append(text.data() + i, n);
    }
    i += add;
  }
  return out;
}

const char* headerStatusText(HeaderStatus status) {
  switch (status) {
    case HeaderStatus::Ok:
      return "ok";
    case HeaderStatus::Incomplete:
      return "incomplete";
    case HeaderStatus::BadMagic:
      return "bad magic (not an RPC frame)";
    case HeaderStatus::BadVersion:
      return "unknown version or flags";
    case HeaderStatus::TooLarge:
      return "frame too large";
  }
  return "?";
}

}  // namespace push::rpc::detail
