#include "common/net/frame_codec.h"

namespace push::net {

FrameStatus decodeLengthPrefixed(const char* data, size_t len, size_t max_payload,
                                 FrameView* out) {
  if (len < kLengthPrefixBytes) return FrameStatus::Incomplete;
  const uint32_t size = loadBe32(data);
  // Checked before waiting for the payload: a hostile header must not make us buffer 4 GiB.
  if (size > max_payload) return FrameStatus::TooLarge;
  if (len - kLengthPrefixBytes < size) return FrameStatus::Incomplete;
  out->payload = data + kLengthPrefixBytes;
  out->size = size;
  out->consumed = kLengthPrefixBytes + size;
  return FrameStatus::Complete;
}

void encodeLengthPrefix(uint32_t payload_size, char* out) { storeBe32(payload_size, out); }

}  // namespace push::net
