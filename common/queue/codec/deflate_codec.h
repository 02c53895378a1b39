#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/queue/codec/stream_codec.h"

namespace push::queue {

// nsqd's `deflate` feature: RAW deflate (RFC 1951, no zlib or gzip header), as Go's
// compress/flate writes and reads it. Each direction is one deflate stream for the life of the
// connection; encode() ends every call with a sync flush (an empty stored block, 00 00 ff ff),
// which is what flate.Writer.Flush writes.
//
// decode() output is at most about 1032 times its input (deflate's maximum ratio); the caller
// bounds what it buffers of it (message size limits). A stream that ends (a final block) and
// is followed by more bytes is an error.
class DeflateCodec final : public StreamCodec {
 public:
  // `level` is IDENTIFY's deflate_level, 1 (fastest) .. 9 (best); values outside are clamped
  // (the protocol layer rejects them first). Never null; if zlib cannot allocate its state,
  // every call returns INTERNAL.
  static std::unique_ptr<StreamCodec> create(int level);
  ~DeflateCodec() override;

  DeflateCodec(const DeflateCodec&) = delete;
  DeflateCodec& operator=(const DeflateCodec&) = delete;

  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override;
  Status encode(std::string_view plain, std::string* to_peer) override;

 private:
  struct Impl;
  explicit DeflateCodec(int level);
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::queue
