#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace push::queue::wire {

// NSQ's TCP protocol V2 on the wire, both sides: what queued parses and writes, and what the
// NSQ client (common/queue/client) writes and parses. Pure functions over bytes; no I/O.
//
// A client opens with kMagicV2, then sends newline-terminated command lines, some followed by
// a body ([u32 big-endian size][size bytes]). The server answers with frames:
//   [u32 size][u32 frame type][size - 4 bytes of data]
// A message frame's data is [i64 timestamp ns][u16 attempts][16-byte id][body].

inline constexpr std::string_view kMagicV2 = "  V2";
inline constexpr size_t kFrameHeaderSize = 8;     // size + type
inline constexpr size_t kMessageHeaderSize = 26;  // timestamp + attempts + id
inline constexpr size_t kMessageIdSize = 16;

enum class FrameType : int32_t { Response = 0, Error = 1, Message = 2 };

using MessageId = std::array<char, kMessageIdSize>;

// Message ids are 16 lowercase hex digits of a 64-bit number (nsqd's are too).
MessageId formatMessageId(uint64_t id);
// false when `text` is not exactly 16 hex digits.
bool parseMessageId(std::string_view text, uint64_t* id);

// ---- encoding ----

inline void putU32(char* out, uint32_t v) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}
inline uint32_t getU32(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void putU64(char* out, uint64_t v);
uint64_t getU64(const char* in);

// Writes the 8-byte frame header for `data_size` bytes of data.
void writeFrameHeader(char* out, FrameType type, size_t data_size);
// Writes the 26-byte message header.
void writeMessageHeader(char* out, int64_t timestamp_ns, uint16_t attempts, const MessageId& id);
// Appends a whole frame.
void appendFrame(std::string* out, FrameType type, std::string_view data);

// ---- parsing frames (client side) ----

enum class ParseStatus { NeedMore, Ok, Error };

struct FrameView {
  FrameType type = FrameType::Response;
  std::string_view data;
};
// One frame from the start of `in`. Ok: *consumed bytes form *frame (views into `in`).
// Error: the size field is below 4 or above max_frame_size, or the type is unknown.
ParseStatus parseFrame(std::string_view in, size_t max_frame_size, FrameView* frame,
                       size_t* consumed);

struct MessageView {
  int64_t timestamp_ns = 0;
  uint16_t attempts = 0;
  std::string_view id;  // 16 bytes
  std::string_view body;
};
// false when `data` is shorter than the message header.
bool parseMessage(std::string_view data, MessageView* message);

// ---- parsing commands (server side) ----

inline constexpr size_t kMaxParams = 8;

struct CommandLine {
  std::string_view name;  // "PUB"
  std::array<std::string_view, kMaxParams> params;
  size_t param_count = 0;  // params beyond kMaxParams are dropped (no command takes that many)
  size_t size = 0;         // bytes of the line including '\n'
};
// The command line at the start of `in`, split on ' ' as nsqd does (a trailing '\r' is
// dropped). NeedMore: no '\n' yet within `max_line` bytes. Error: no '\n' within max_line.
ParseStatus parseLine(std::string_view in, size_t max_line, CommandLine* line);

// A sized body ([i32 size][bytes]) at the start of `in`.
enum class BodyStatus { NeedMore, Ok, BadSize, TooBig };
struct SizedBody {
  int32_t size = 0;  // as sent (BadSize: <= 0; TooBig: > max)
  std::string_view data;
  size_t consumed = 0;  // 4 + size when Ok
};
// NeedMore until the size and then the whole body are present; BadSize / TooBig are decided
// as soon as the size is known (nsqd answers before reading the body).
BodyStatus parseSizedBody(std::string_view in, uint32_t max_size, SizedBody* body);

// The messages of an MPUB body ([u32 count] then count x [u32 size][bytes]). The count must be
// in 1..(max_body_size - 4) / 5 as nsqd checks it. Truncated: the body ended inside the count
// (index = 0, size = -1) or inside message `index`'s size or bytes.
enum class MpubStatus { Ok, Truncated, BadCount, BadMessageSize, MessageTooBig };
struct MpubError {
  size_t index = 0;  // which message, for BadMessageSize
  int32_t size = 0;  // the offending size or count
};
MpubStatus parseMpubBody(std::string_view body, uint32_t max_msg_size, uint32_t max_body_size,
                         std::vector<std::string_view>* messages, MpubError* error);

// ---- names ----

// Topic and channel names: 1..64 characters of [.a-zA-Z0-9_-], optionally ending in
// "#ephemeral" (counted in the 64).
bool isValidName(std::string_view name);
bool isEphemeralName(std::string_view name);

}  // namespace push::queue::wire
