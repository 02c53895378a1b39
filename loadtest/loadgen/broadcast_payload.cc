#include "loadtest/loadgen/broadcast_payload.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace push::loadgen {
namespace {

constexpr std::string_view kPrefix = "bcast n=";

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;
// client.proto: Frame.push = 5; Push.payload = 3, qos = 4, broadcast_seq = 6.
constexpr uint32_t kFramePush = 5;
constexpr uint32_t kPushPayload = 3;
constexpr uint32_t kPushQos = 4;
constexpr uint32_t kPushBroadcastSeq = 6;

bool readVarint(const char*& p, const char* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const auto b = static_cast<uint8_t>(*p++);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80u) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Skips one field of `wire_type`; false on a malformed or unsupported (group) field.
bool skipField(const char*& p, const char* end, uint32_t wire_type) {
  uint64_t n = 0;
  switch (wire_type) {
    case kVarint:
      return readVarint(p, end, &n);
    case kFixed64:
      n = 8;
      break;
    case kLengthDelimited:
      if (!readVarint(p, end, &n)) return false;
      break;
    case kFixed32:
      n = 4;
      break;
    default:
      return false;
  }
  if (n > static_cast<uint64_t>(end - p)) return false;
  p += n;
  return true;
}

}  // namespace

std::string makeBroadcastPayload(uint64_t number, int64_t sent_ns, size_t bytes) {
  std::string out(kPrefix);
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, number).ptr);
  out += " t=";
  out.append(buf, std::to_chars(buf, buf + sizeof buf, sent_ns).ptr);
  out += ' ';
  if (out.size() < bytes) out.resize(bytes, '.');
  return out;
}

bool parseBroadcastPayload(std::string_view payload, uint64_t* number, int64_t* sent_ns) {
  if (payload.substr(0, kPrefix.size()) != kPrefix) return false;
  const char* p = payload.data() + kPrefix.size();
  const char* end = payload.data() + payload.size();
  auto r = std::from_chars(p, end, *number);
  if (r.ec != std::errc() || end - r.ptr < 3 || r.ptr[0] != ' ' || r.ptr[1] != 't' ||
      r.ptr[2] != '=') {
    return false;
  }
  r = std::from_chars(r.ptr + 3, end, *sent_ns);
  return r.ec == std::errc() && r.ptr < end && *r.ptr == ' ';
}

bool parseBroadcastNumber(std::string_view payload, uint64_t* number) {
  if (payload.size() < kPrefix.size() + 2 ||
      std::memcmp(payload.data(), kPrefix.data(), kPrefix.size()) != 0) {
    return false;
  }
  uint64_t v = 0;
  size_t i = kPrefix.size();
  const size_t end = std::min(payload.size(), kPrefix.size() + 19);  // no overflow
  for (; i < end && payload[i] >= '0' && payload[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(payload[i] - '0');
  if (i == kPrefix.size() || i >= payload.size() || payload[i] != ' ') return false;
  *number = v;
  return true;
}

bool decodePushFrame(std::string_view frame, PushView* out) {
  const char* p = frame.data();
  const char* end = p + frame.size();
  // The Frame: a oneof, so one field; Push is field 5, length-delimited.
  uint64_t key = 0, len = 0;
  if (!readVarint(p, end, &key) || key != (kFramePush << 3 | kLengthDelimited)) return false;
  if (!readVarint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
  end = p + len;
  *out = PushView{};
  while (p < end) {
    if (!readVarint(p, end, &key)) return false;
    const auto field = static_cast<uint32_t>(key >> 3);
    const auto type = static_cast<uint32_t>(key & 7);
    if (field == kPushBroadcastSeq && type == kVarint) {
      if (!readVarint(p, end, &out->broadcast_seq)) return false;
    } else if (field == kPushQos && type == kVarint) {
      uint64_t qos = 0;
      if (!readVarint(p, end, &qos)) return false;
      out->qos = static_cast<uint32_t>(qos);
    } else if (field == kPushPayload && type == kLengthDelimited) {
      if (!readVarint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
      out->payload = std::string_view(p, len);
      p += len;
    } else if (!skipField(p, end, type)) {
      return false;
    }
  }
  return true;
}

}  // namespace push::loadgen
