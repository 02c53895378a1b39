#include "services/center/batch_splitter.h"

namespace push::center {

bool BatchSplitter::add(uint64_t bytes, uint64_t targets) {
  const bool fits = items_ > 0 && bytes_ + bytes <= limits_.max_bytes &&
                    items_ + 1 <= limits_.max_items && targets_ + targets <= limits_.max_targets;
  if (!fits) {
    ++batches_;
    bytes_ = 0;
    items_ = 0;
    targets_ = 0;
  }
  bytes_ += bytes;
  items_ += 1;
  targets_ += targets;
  return !fits;
}

uint64_t BatchSplitter::itemBytes(uint64_t message_bytes) {
  uint64_t varint = 1;
  for (uint64_t v = message_bytes; v >= 0x80; v >>= 7)
    ++varint;
  return 1 + varint + message_bytes;  // field 1, wire type 2: a one-byte tag
}

}  // namespace push::center
