#include "common/queue/codec/codec_chain.h"

namespace push::queue {
namespace {

// Scratch buffers keep their capacity between calls, but not a burst's worth of it.
constexpr size_t kKeptScratchCapacity = 256 * 1024;

void resetScratch(std::string* scratch) {
  if (scratch->capacity() > kKeptScratchCapacity) {
    std::string().swap(*scratch);
  } else {
    scratch->clear();
  }
}

}  // namespace

std::unique_ptr<CodecChain> CodecChain::create(std::unique_ptr<StreamCodec> outer,
                                               std::unique_ptr<StreamCodec> inner) {
  return std::unique_ptr<CodecChain>(new CodecChain(std::move(outer), std::move(inner)));
}

CodecChain::CodecChain(std::unique_ptr<StreamCodec> outer, std::unique_ptr<StreamCodec> inner)
    : outer_(std::move(outer)), inner_(std::move(inner)) {}

Status CodecChain::decode(std::string_view in, std::string* plain, std::string* to_peer) {
  if (!outer_) return decodeInner(in, plain, to_peer);
  if (!inner_) return outer_->decode(in, plain, to_peer);
  decode_scratch_.clear();
  Status status = outer_->decode(in, &decode_scratch_, to_peer);
  // What the outer layer decoded before an error still goes through: it was valid.
  Status inner_status = decodeInner(decode_scratch_, plain, to_peer);
  resetScratch(&decode_scratch_);
  return status.isOk() ? inner_status : status;
}

Status CodecChain::decodeInner(std::string_view outer_decoded, std::string* plain,
                               std::string* to_peer) {
  if (!inner_) {
    plain->append(outer_decoded);
    return Status::ok();
  }
  if (!outer_) return inner_->decode(outer_decoded, plain, to_peer);
  std::string inner_to_peer;
  Status status = inner_->decode(outer_decoded, plain, &inner_to_peer);
  if (!inner_to_peer.empty()) {
    Status sent = outer_->encode(inner_to_peer, to_peer);
    if (status.isOk()) status = sent;
  }
  return status;
}

Status CodecChain::encode(std::string_view plain, std::string* to_peer) {
  if (!inner_)
    return outer_ ? outer_->encode(plain, to_peer) : (to_peer->append(plain), Status::ok());
  if (!outer_) return inner_->encode(plain, to_peer);
  encode_scratch_.clear();
  Status status = inner_->encode(plain, &encode_scratch_);
  if (status.isOk()) status = outer_->encode(encode_scratch_, to_peer);
  resetScratch(&encode_scratch_);
  return status;
}

}  // namespace push::queue
