#pragma once

#include <cstddef>
#include <cstdint>

namespace push::rpc::detail {

// RPC frame header (DESIGN.md 5), 12 bytes, integers big-endian:
//   'P' 'R' | version u8 | flags u8 | meta_len u32 | body_len u32
constexpr size_t kHeaderBytes = 12;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kFlagResponse = 0x01;
constexpr uint8_t kKnownFlags = kFlagResponse;

struct FrameHeader {
  uint8_t flags = 0;
  uint32_t meta_len = 0;
  uint32_t body_len = 0;
  size_t frameBytes() const { return kHeaderBytes + size_t{meta_len} + body_len; }
};

enum class HeaderStatus {
  Ok,          // header parsed; the frame may still be incomplete (check frameBytes())
  Incomplete,  // fewer than kHeaderBytes available
  BadMagic,    // not "PR": not our protocol
  BadVersion,  // unknown version or flags
  TooLarge,    // frameBytes() over the limit
};

HeaderStatus parseHeader(const char* data, size_t len, size_t max_frame_bytes, FrameHeader* out);
void writeHeader(const FrameHeader& header, char* out);
const char* headerStatusText(HeaderStatus status);

}  // namespace push::rpc::detail
