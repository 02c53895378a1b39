#include "common/queue/wire.h"

#include <cstring>

namespace push::queue::wire {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

constexpr std::string_view kEphemeralSuffix = "#ephemeral";
constexpr size_t kMaxNameLength = 64;

}  // namespace

MessageId formatMessageId(uint64_t id) {
  MessageId out;
  for (size_t i = 0; i < kMessageIdSize; ++i) {
    out[kMessageIdSize - 1 - i] = kHexDigits[id & 0xf];
    id >>= 4;
  }
  return out;
}

bool parseMessageId(std::string_view text, uint64_t* id) {
  if (text.size() != kMessageIdSize) return false;
  uint64_t value = 0;
  for (char c : text) {
    int digit = hexValue(c);
    if (digit < 0) return false;
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  *id = value;
  return true;
}

void putU64(char* out, uint64_t v) {
  putU32(out, static_cast<uint32_t>(v >> 32));
  putU32(out + 4, static_cast<uint32_t>(v));
}

uint64_t getU64(const char* in) {
  return (uint64_t{getU32(in)} << 32) | getU32(in + 4);
}

void writeFrameHeader(char* out, FrameType type, size_t data_size) {
  putU32(out, static_cast<uint32_t>(data_size + 4));
  putU32(out + 4, static_cast<uint32_t>(type));
}

void writeMessageHeader(char* out, int64_t timestamp_ns, uint16_t attempts, const MessageId& id) {
  putU64(out, static_cast<uint64_t>(timestamp_ns));
  out[8] = static_cast<char>(attempts >> 8);
  out[9] = static_cast<char>(attempts);
  std::memcpy(out + 10, id.data(), kMessageIdSize);
}

void appendFrame(std::string* out, FrameType type, std::string_view data) {
  size_t at = out->size();
  out->resize(at + kFrameHeaderSize);
  writeFrameHeader(out->data() + at, type, data.size());
  out->append(data);
}

ParseStatus parseFrame(std::string_view in, size_t max_frame_size, FrameView* frame,
                       size_t* consumed) {
  if (in.size() < 4) return ParseStatus::NeedMore;
  uint32_t size = getU32(in.data());
  if (size < 4 || size > max_frame_size) return ParseStatus::Error;
  if (in.size() < 4 + size) return ParseStatus::NeedMore;
  uint32_t type = getU32(in.data() + 4);
  if (type > static_cast<uint32_t>(FrameType::Message)) return ParseStatus::Error;
  frame->type = static_cast<FrameType>(type);
  frame->data = in.substr(8, size - 4);
  *consumed = 4 + size;
  return ParseStatus::Ok;
}

bool parseMessage(std::string_view data, MessageView* message) {
  if (data.size() < kMessageHeaderSize) return false;
  message->timestamp_ns = static_cast<int64_t>(getU64(data.data()));
  message->attempts = static_cast<uint16_t>((static_cast<unsigned char>(data[8]) << 8) |
                                            static_cast<unsigned char>(data[9]));
  message->id = data.substr(10, kMessageIdSize);
  message->body = data.substr(kMessageHeaderSize);
  return true;
}

ParseStatus parseLine(std::string_view in, size_t max_line, CommandLine* line) {
  size_t newline = in.substr(0, max_line).find('\n');
  if (newline == std::string_view::npos) {
    return in.size() >= max_line ? ParseStatus::Error : ParseStatus::NeedMore;
  }
  std::string_view text = in.substr(0, newline);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  line->size = newline + 1;
  line->param_count = 0;
  size_t space = text.find(' ');
  line->name = text.substr(0, space);
  while (space != std::string_view::npos) {
    text.remove_prefix(space + 1);
    space = text.find(' ');
    if (line->param_count < kMaxParams) line->params[line->param_count++] = text.substr(0, space);
  }
  return ParseStatus::Ok;
}

BodyStatus parseSizedBody(std::string_view in, uint32_t max_size, SizedBody* body) {
  if (in.size() < 4) return BodyStatus::NeedMore;
  body->size = static_cast<int32_t>(getU32(in.data()));
  if (body->size <= 0) return BodyStatus::BadSize;
  if (static_cast<uint32_t>(body->size) > max_size) return BodyStatus::TooBig;
  size_t total = 4 + static_cast<size_t>(body->size);
  if (in.size() < total) return BodyStatus::NeedMore;
  body->data = in.substr(4, static_cast<size_t>(body->size));
  body->consumed = total;
  return BodyStatus::Ok;
}

MpubStatus parseMpubBody(std::string_view body, uint32_t max_msg_size, uint32_t max_body_size,
                         std::vector<std::string_view>* messages, MpubError* error) {
  messages->clear();
  *error = MpubError{0, -1};
  if (body.size() < 4) return MpubStatus::Truncated;
  int32_t count = static_cast<int32_t>(getU32(body.data()));
  int64_t max_count = (static_cast<int64_t>(max_body_size) - 4) / 5;
  if (count <= 0 || count > max_count) {
    error->size = count;
    return MpubStatus::BadCount;
  }
  size_t at = 4;
  for (int32_t i = 0; i < count; ++i) {
    error->index = static_cast<size_t>(i);
    error->size = -1;
    if (body.size() - at < 4) return MpubStatus::Truncated;
    int32_t size = static_cast<int32_t>(getU32(body.data() + at));
    at += 4;
    error->size = size;
    if (size <= 0) return MpubStatus::BadMessageSize;
    if (static_cast<uint32_t>(size) > max_msg_size) return MpubStatus::MessageTooBig;
    if (body.size() - at < static_cast<size_t>(size)) return MpubStatus::Truncated;
    messages->push_back(body.substr(at, static_cast<size_t>(size)));
    at += static_cast<size_t>(size);
  }
  return MpubStatus::Ok;
}

bool isEphemeralName(std::string_view name) {
  return name.size() >= kEphemeralSuffix.size() &&
         name.substr(name.size() - kEphemeralSuffix.size()) == kEphemeralSuffix;
}

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  std::string_view base = name;
  if (isEphemeralName(name)) base.remove_suffix(kEphemeralSuffix.size());
  if (base.empty()) return false;
  for (char c : base) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

}  // namespace push::queue::wire
