#pragma once

// Helpers shared by the codec tests: test data, and feeding a codec in random pieces.

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/queue/codec/stream_codec.h"

namespace push::queue::codec_test {

// `n` bytes, alternating runs of random bytes (incompressible) and of repeated words
// (compressible), so both compressed and stored output paths are taken.
inline std::string randomData(std::mt19937& rng, size_t n) {
  static constexpr std::string_view kWords[] = {"topic ", "channel ", "message ", "PUB ", "\n"};
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    size_t run = std::min<size_t>(n - out.size(), 1 + rng() % 5000);
    if (rng() % 2 == 0) {
      for (size_t i = 0; i < run; ++i)
        out.push_back(static_cast<char>(rng() & 0xff));
    } else {
      while (run > 0) {
        std::string_view w = kWords[rng() % std::size(kWords)].substr(0, run);
        out.append(w);
        run -= w.size();
      }
    }
  }
  return out;
}

// Piece sizes are uniform in [1, max_piece].
inline size_t nextPiece(std::mt19937& rng, size_t left, size_t max_piece) {
  return std::min(left, 1 + rng() % std::max<size_t>(max_piece, 1));
}

// decode() over `in` cut at random points.
inline Status decodeInPieces(StreamCodec& codec, std::string_view in, std::mt19937& rng,
                             size_t max_piece, std::string* plain, std::string* to_peer) {
  while (!in.empty()) {
    size_t n = nextPiece(rng, in.size(), max_piece);
    RETURN_IF_ERROR(codec.decode(in.substr(0, n), plain, to_peer));
    in.remove_prefix(n);
  }
  return Status::ok();
}

// encode() over `plain` cut at random points.
inline Status encodeInPieces(StreamCodec& codec, std::string_view plain, std::mt19937& rng,
                             size_t max_piece, std::string* to_peer) {
  while (!plain.empty()) {
    size_t n = nextPiece(rng, plain.size(), max_piece);
    RETURN_IF_ERROR(codec.encode(plain.substr(0, n), to_peer));
    plain.remove_prefix(n);
  }
  return Status::ok();
}

// The sizes every round-trip test covers: around chunk and record boundaries and beyond.
inline constexpr size_t kSizes[] = {1,     2,     3,     100,    4096,   16384,  16385,
                                    65535, 65536, 65537, 131077, 300000, 1 << 20};

// Largest piece for splitting a stream of `size` bytes: one byte at a time for the smaller
// sizes (fast enough under sanitizers), then pieces of growing size.
inline size_t maxPieceFor(size_t size, int variant) {
  switch (variant % 4) {
    case 0:
      return size <= 70000 ? 1 : 97;
    case 1:
      return 1000;
    case 2:
      return 70000;
    default:
      return size;
  }
}

}  // namespace push::queue::codec_test
