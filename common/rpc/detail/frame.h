#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace push::rpc::detail {

// RPC frame header (docs/ARCHITECTURE.md §5), 12 bytes, integers big-endian:
//   'P' 'R' | version u8 | flags u8 | meta_len u32 | body_len u32
constexpr size_t kHeaderBytes = 12;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kFlagResponse = 0x01;
constexpr uint8_t kKnownFlags = kFlagResponse;

// The handshake request's method (proto/rpc.proto, message Hello). Its request_id is 0.
constexpr std::string_view kHelloMethod = "push.rpc.Hello";
// Error texts put in RpcMeta.error are cut to this many bytes (boundedErrorText).
constexpr size_t kMaxErrorBytes = 1024;

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

// An upper bound of the serialized RpcMeta of a request for a method whose full name has
// `method_len` bytes (request_id and timeout_ms at their widest varints). A request frame is
// at most kHeaderBytes + requestMetaBound(method_len) + body bytes, whatever its id and
// deadline, so a size check made with it holds for every later (re)send of the call.
size_t requestMetaBound(size_t method_len);

// `text` as valid UTF-8 of at most kMaxErrorBytes bytes: invalid bytes become '?', and the
// text is cut at a character boundary. RpcMeta.error is a proto3 string: the peer's parser
// rejects invalid UTF-8, and an unparsable RpcMeta closes the connection under every call on
// it, so whatever a handler puts in its status goes through this first.
std::string boundedErrorText(std::string_view text);

}  // namespace push::rpc::detail
