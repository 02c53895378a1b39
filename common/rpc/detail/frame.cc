#include "common/rpc/detail/frame.h"

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

const char* headerStatusText(HeaderStatus status) {
  switch (status) {
    case HeaderStatus::Ok: return "ok";
    case HeaderStatus::Incomplete: return "incomplete";
    case HeaderStatus::BadMagic: return "bad magic (not an RPC frame)";
    case HeaderStatus::BadVersion: return "unknown version or flags";
    case HeaderStatus::TooLarge: return "frame too large";
  }
  return "?";
}

}  // namespace push::rpc::detail
