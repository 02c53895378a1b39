#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/status.h"
#include "common/queue/codec/stream_codec.h"

namespace push::queue {

// A connection's codecs stacked as nsqd stacks them: socket <-> outer (TLS) <-> inner
// (compression) <-> protocol. Either layer may be null (bytes pass through it unchanged), and
// either may be installed later, as NSQ upgrades a connection mid-stream: TLS after the
// IDENTIFY response, then compression after the "OK" that follows it.
//
// Bytes the inner layer emits toward the peer (none for deflate and snappy) are encoded by the
// outer layer. Loop-thread only, like every StreamCodec.
class CodecChain final : public StreamCodec {
 public:
  static std::unique_ptr<CodecChain> create(std::unique_ptr<StreamCodec> outer,
                                            std::unique_ptr<StreamCodec> inner);

  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override;
  Status encode(std::string_view plain, std::string* to_peer) override;

  // Installs (or replaces, or with null removes) a layer; affects only later calls. A
  // TlsCodec installed here can still be reached through outer() for start() and
  // handshakeDone(): keep a TlsCodec* taken before moving it in.
  void setOuter(std::unique_ptr<StreamCodec> outer) { outer_ = std::move(outer); }
  void setInner(std::unique_ptr<StreamCodec> inner) { inner_ = std::move(inner); }
  StreamCodec* outer() const { return outer_.get(); }
  StreamCodec* inner() const { return inner_.get(); }

  // Feeds bytes that already went through the outer layer to the inner layer alone. For the
  // upgrade point: a decode() made before setInner() may return plain bytes past the "OK"
  // after which the peer compresses; those bytes go here once setInner() has run.
  Status decodeInner(std::string_view outer_decoded, std::string* plain, std::string* to_peer);

 private:
  CodecChain(std::unique_ptr<StreamCodec> outer, std::unique_ptr<StreamCodec> inner);

  std::unique_ptr<StreamCodec> outer_;
  std::unique_ptr<StreamCodec> inner_;
  std::string decode_scratch_;  // outer's output before the inner layer, reused
  std::string encode_scratch_;  // inner's output before the outer layer, reused
};

}  // namespace push::queue
