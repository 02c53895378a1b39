#pragma once

#include <cstddef>
#include <cstdint>

namespace push::net {

// The client protocol's framing (docs/ARCHITECTURE.md §5): u32 big-endian payload length, then
// payload. A zero-length payload is a valid (empty) frame.
constexpr size_t kLengthPrefixBytes = 4;

enum class FrameStatus {
  Complete,    // a whole frame is at the front of the input
  Incomplete,  // need more bytes (a partial header or payload)
  TooLarge,    // the header announces more than the limit: a protocol error, close the peer
};

struct FrameView {
  const char* payload = nullptr;
  size_t size = 0;      // payload bytes
  size_t consumed = 0;  // header + payload: how far to advance the input
};

// Looks at the front of `data`. On Complete fills `out`; never reads past `len`.
FrameStatus decodeLengthPrefixed(const char* data, size_t len, size_t max_payload, FrameView* out);

// Writes the 4-byte header for a payload of `payload_size` bytes.
void encodeLengthPrefix(uint32_t payload_size, char* out);

// Big-endian helpers shared by the codecs.
inline uint32_t loadBe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
inline void storeBe32(uint32_t v, char* p) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace push::net
