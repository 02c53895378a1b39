#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace push::rpc::detail {

// RpcMeta (proto/rpc.proto) without a protobuf message: every call's frame carries one, and
// at depth its parse and serialize were a quarter of the server's CPU (string fields
// assigned and UTF-8-checked per call, then cleared). The bytes are protobuf's own encoding
// of RpcMeta, so either side may be libprotobuf's.
//
// Decoding follows protobuf's rules for the message: fields in any order, the last occurrence
// of a field wins, a field number that is unknown or has an unexpected wire type is skipped,
// uint32/enum values keep the low 32 bits of their varint. Two differences, both on input no
// encoder of RpcMeta produces: groups (wire types 3 and 4) are refused rather than skipped,
// and `method` and `error` are not checked for UTF-8 (the server only compares `method` with
// its method names; the client passes `error` through boundedErrorText()).
struct MetaView {
  uint64_t request_id = 0;
  std::string_view method;  // into the decoded bytes, or the caller's string when encoding
  uint32_t timeout_ms = 0;
  int32_t code = 0;        // push::Code
  std::string_view error;  // the same
  bool not_executed = false;
  bool goaway = false;
};

// Fills `out` from `len` bytes; false when they are not a valid encoding (truncated, a
// varint over 10 bytes, a length past the end, field number 0, a group or an unknown wire
// type). `out` is reset first; its views point into `data`.
bool decodeMeta(const char* data, size_t len, MetaView* out);

// Bytes encodeMeta() writes for `meta`: protobuf's encoding, which leaves out fields at their
// default (0, empty, false), in field-number order.
size_t encodedMetaSize(const MetaView& meta);
// Writes exactly encodedMetaSize(meta) bytes at `out`; returns the end.
char* encodeMeta(const MetaView& meta, char* out);

}  // namespace push::rpc::detail
