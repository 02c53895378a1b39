#include "common/rpc/detail/meta_codec.h"

#include <cstring>

namespace push::rpc::detail {

namespace {

// Field numbers and wire types of RpcMeta (proto/rpc.proto).
enum Field : uint32_t {
  kRequestId = 1,
  kMethod = 2,
  kTimeoutMs = 3,
  kCode = 4,
  kError = 5,
  kNotExecuted = 6,
  kGoaway = 7,
};
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads a varint at *p (before `end`); false when truncated or longer than 10 bytes.
bool readVarint(const char*& p, const char* end, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return false;
    const auto byte = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) {
      *value = v;
      return true;
    }
  }
  return false;
}

size_t varintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7)
    ++n;
  return n;
}

char* writeVarint(uint64_t v, char* out) {
  while (v >= 0x80) {
    *out++ = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<char>(v);
  return out;
}

constexpr uint64_t tag(Field field, WireType type) {
  return (static_cast<uint64_t>(field) << 3) | type;
}

// protobuf encodes a negative int32 (an enum) as its 64-bit two's complement.
uint64_t enumWire(int32_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(v));
}

}  // namespace

bool decodeMeta(const char* data, size_t len, MetaView* out) {
  *out = MetaView{};
  const char* p = data;
  const char* const end = data + len;
  while (p < end) {
    uint64_t key;
    if (!readVarint(p, end, &key) || key > UINT32_MAX) return false;
    const auto field = static_cast<uint32_t>(key >> 3);
    const auto type = static_cast<uint32_t>(key & 7);
    if (field == 0) return false;
    switch (type) {
      case kVarint: {
        uint64_t v;
        if (!readVarint(p, end, &v)) return false;
        if (field == kRequestId) out->request_id = v;
        if (field == kTimeoutMs) out->timeout_ms = static_cast<uint32_t>(v);
        if (field == kCode) out->code = static_cast<int32_t>(static_cast<uint32_t>(v));
        if (field == kNotExecuted) out->not_executed = v != 0;
        if (field == kGoaway) out->goaway = v != 0;
        break;
      }
      case kLengthDelimited: {
        uint64_t n;
        if (!readVarint(p, end, &n) || n > static_cast<uint64_t>(end - p)) return false;
        const std::string_view bytes(p, static_cast<size_t>(n));
        p += n;
        if (field == kMethod) out->method = bytes;
        if (field == kError) out->error = bytes;
        break;
      }
      case kFixed64:
        if (end - p < 8) return false;
        p += 8;
        break;
      case kFixed32:
        if (end - p < 4) return false;
        p += 4;
        break;
      default:  // groups (3, 4) and the undefined 6, 7
        return false;
    }
  }
  return true;
}

size_t encodedMetaSize(const MetaView& m) {
  size_t n = 0;
  if (m.request_id) n += 1 + varintSize(m.request_id);
  if (!m.method.empty()) n += 1 + varintSize(m.method.size()) + m.method.size();
  if (m.timeout_ms) n += 1 + varintSize(m.timeout_ms);
  if (m.code) n += 1 + varintSize(enumWire(m.code));
  if (!m.error.empty()) n += 1 + varintSize(m.error.size()) + m.error.size();
  if (m.not_executed) n += 2;
  if (m.goaway) n += 2;
  return n;
}

char* encodeMeta(const MetaView& m, char* out) {
  const auto bytesField = [&out](Field field, std::string_view bytes) {
    out = writeVarint(tag(field, kLengthDelimited), out);
    out = writeVarint(bytes.size(), out);
    std::memcpy(out, bytes.data(), bytes.size());
    out += bytes.size();
  };
  const auto varintField = [&out](Field field, uint64_t v) {
    out = writeVarint(tag(field, kVarint), out);
    out = writeVarint(v, out);
  };
  if (m.request_id) varintField(kRequestId, m.request_id);
  if (!m.method.empty()) bytesField(kMethod, m.method);
  if (m.timeout_ms) varintField(kTimeoutMs, m.timeout_ms);
  if (m.code) varintField(kCode, enumWire(m.code));
  if (!m.error.empty()) bytesField(kError, m.error);
  if (m.not_executed) varintField(kNotExecuted, 1);
  if (m.goaway) varintField(kGoaway, 1);
  return out;
}

}  // namespace push::rpc::detail
