#include "common/queue/codec/deflate_codec.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>

namespace push::queue {
namespace {

constexpr int kRawWindowBits = -15;  // negative: raw deflate, no zlib header or trailer
constexpr int kMemLevel = 8;         // zlib's default
constexpr size_t kOutputStep = 16384;

Status zlibError(std::string_view what, const z_stream& z, int rc) {
  std::string msg = "deflate: ";
  msg += what;
  msg += ": ";
  msg += z.msg != nullptr ? z.msg : zError(rc);
  return {Code::INVALID_ARGUMENT, std::move(msg)};
}

}  // namespace

struct DeflateCodec::Impl {
  z_stream deflater{};
  z_stream inflater{};
  bool deflater_ok = false;
  bool inflater_ok = false;
  bool input_ended = false;  // the peer's stream had its final block
  Status failed;             // sticky

  ~Impl() {
    if (deflater_ok) deflateEnd(&deflater);
    if (inflater_ok) inflateEnd(&inflater);
  }
};

std::unique_ptr<StreamCodec> DeflateCodec::create(int level) {
  return std::unique_ptr<StreamCodec>(new DeflateCodec(level));
}

DeflateCodec::DeflateCodec(int level) : impl_(std::make_unique<Impl>()) {
  level = std::clamp(level, 1, 9);
  impl_->deflater_ok = deflateInit2(&impl_->deflater, level, Z_DEFLATED, kRawWindowBits, kMemLevel,
                                    Z_DEFAULT_STRATEGY) == Z_OK;
  impl_->inflater_ok = inflateInit2(&impl_->inflater, kRawWindowBits) == Z_OK;
  if (!impl_->deflater_ok || !impl_->inflater_ok) {
    impl_->failed = internalError("deflate: cannot initialize zlib");
  }
}

DeflateCodec::~DeflateCodec() = default;

Status DeflateCodec::decode(std::string_view in, std::string* plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  if (in.empty()) return Status::ok();
  if (s.input_ended) {
    s.failed = invalidArgument("deflate: data after the end of the stream");
    return s.failed;
  }
  z_stream& z = s.inflater;
  while (!in.empty()) {
    size_t take = std::min<size_t>(in.size(), UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(take);
    for (;;) {
      char out[kOutputStep];
      z.next_out = reinterpret_cast<Bytef*>(out);
      z.avail_out = sizeof(out);
      int rc = inflate(&z, Z_NO_FLUSH);
      plain->append(out, sizeof(out) - z.avail_out);
      if (rc == Z_STREAM_END) {
        s.input_ended = true;
        if (z.avail_in > 0 || take < in.size()) {
          s.failed = invalidArgument("deflate: data after the end of the stream");
          return s.failed;
        }
        return Status::ok();
      }
      if (rc == Z_BUF_ERROR) {
        // No progress possible: all input consumed and nothing more to output yet.
        if (z.avail_in == 0) break;
        if (z.avail_out == 0) continue;
        s.failed = zlibError("inflate", z, rc);
        return s.failed;
      }
      if (rc != Z_OK) {
        s.failed = zlibError("corrupt input", z, rc);
        return s.failed;
      }
      if (z.avail_in == 0 && z.avail_out != 0) break;
    }
    in.remove_prefix(take);
  }
  return Status::ok();
}

Status DeflateCodec::encode(std::string_view plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  if (plain.empty()) return Status::ok();
  z_stream& z = s.deflater;
  while (!plain.empty()) {
    size_t take = std::min<size_t>(plain.size(), UINT_MAX / 2);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    z.avail_in = static_cast<uInt>(take);
    plain.remove_prefix(take);
    // Flush only with the last piece: one sync-flush marker per call.
    int flush = plain.empty() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
      size_t room = deflateBound(&z, z.avail_in) + 64;
      size_t old = to_peer->size();
      to_peer->resize(old + room);
      z.next_out = reinterpret_cast<Bytef*>(to_peer->data() + old);
      z.avail_out = static_cast<uInt>(room);
      int rc = deflate(&z, flush);
      to_peer->resize(old + room - z.avail_out);
      if (rc == Z_BUF_ERROR) break;  // nothing left to do (a repeated flush)
      if (rc != Z_OK) {
        s.failed = zlibError("deflate", z, rc);
        return s.failed;
      }
      if (z.avail_in == 0 && z.avail_out != 0) break;
    }
  }
  return Status::ok();
}

}  // namespace push::queue
