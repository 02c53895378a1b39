#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/queue/codec/stream_codec.h"

namespace push::queue {

// nsqd's `snappy` feature: snappy's FRAMING format (google/snappy framing_format.txt), as
// github.com/golang/snappy's Reader and Writer produce and accept it.
//
// Stream: a stream identifier chunk (ff 06 00 00 "sNaPpY") first, then chunks of
// [type u8][length u24 little-endian][data]. Data chunks (compressed 0x00, uncompressed 0x01)
// start with the masked CRC-32C of their uncompressed data and hold at most 65536 bytes of
// it.
//
// encode() writes the identifier before its first data, then one chunk per 65536 bytes of
// input (compressed unless that saves less than 1/8, like golang/snappy). decode() requires
// the identifier first and accepts it again mid-stream; checks every data chunk's CRC; skips
// padding (0xfe) and reserved skippable chunks (0x80..0xfd) without buffering them; fails on
// reserved unskippable chunks (0x02..0x7f), on a data chunk longer than the format allows
// (checked from the header, before anything is buffered) and on corrupt data. It buffers at
// most one chunk (kMaxChunkLength bytes).
class SnappyCodec final : public StreamCodec {
 public:
  // Largest uncompressed data in one chunk.
  static constexpr size_t kMaxBlockSize = 65536;
  // Largest data chunk length accepted: 4 (CRC) + snappy's worst case for a 65536-byte block
  // (32 + n + n / 6), the limit golang/snappy's Reader uses.
  static constexpr size_t kMaxChunkLength = 4 + 32 + kMaxBlockSize + kMaxBlockSize / 6;

  static std::unique_ptr<StreamCodec> create();
  ~SnappyCodec() override;

  SnappyCodec(const SnappyCodec&) = delete;
  SnappyCodec& operator=(const SnappyCodec&) = delete;

  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override;
  Status encode(std::string_view plain, std::string* to_peer) override;

 private:
  struct Impl;
  SnappyCodec();
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::queue
