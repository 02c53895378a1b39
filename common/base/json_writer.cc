#include "common/base/json_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace push {

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence that starts `s` (s[0] >= 0x80), or 0 when there is
// none: a continuation or invalid lead byte, a truncated sequence, an overlong form, a
// surrogate, or a value over U+10FFFF.
size_t utf8SequenceLength(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len;
  uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  uint32_t cp = b0 & (0x7Fu >> len);
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void appendJsonEscaped(std::string* out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Runs of plain printable ASCII are the common case: copy them in one go.
    size_t plain = i;
    while (plain < s.size()) {
      const auto c = static_cast<unsigned char>(s[plain]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++plain;
    }
    out->append(s.data() + i, plain - i);
    i = plain;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x80) {  // another control character, or DEL
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else if (size_t len = utf8SequenceLength(s.substr(i)); len > 0) {
          out->append(s.data() + i, len);
          i += len;
          continue;
        } else {
          out->append(kReplacement);
        }
    }
    ++i;
  }
}

void appendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  appendJsonEscaped(out, s);
  out->push_back('"');
}

bool JsonWriter::misuse() {
  assert(false && "JsonWriter used against the JSON grammar");
  ok_ = false;
  return false;
}

bool JsonWriter::beforeValue() {
  if (!ok_) return false;
  if (stack_.empty()) {
    if (top_done_) return misuse();  // a second top-level value
    return true;
  }
  if (stack_.back() == '{') {
    if (!after_key_) return misuse();  // an object member needs its key first
    after_key_ = false;
    return true;
  }
  if (need_comma_) out_.push_back(',');
  return true;
}

void JsonWriter::afterValue() {
  if (stack_.empty()) {
    top_done_ = true;
  } else {
    need_comma_ = true;
  }
}

JsonWriter& JsonWriter::beginObject() {
  if (!beforeValue()) return *this;
  out_.push_back('{');
  stack_.push_back('{');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::endObject() {
  if (!ok_) return *this;
  if (stack_.empty() || stack_.back() != '{' || after_key_) {
    misuse();
    return *this;
  }
  out_.push_back('}');
  stack_.pop_back();
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::beginArray() {
  if (!beforeValue()) return *this;
  out_.push_back('[');
  stack_.push_back('[');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::endArray() {
  if (!ok_) return *this;
  if (stack_.empty() || stack_.back() != '[') {
    misuse();
    return *this;
  }
  out_.push_back(']');
  stack_.pop_back();
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  if (!ok_) return *this;
  if (stack_.empty() || stack_.back() != '{' || after_key_) {
    misuse();
    return *this;
  }
  if (need_comma_) out_.push_back(',');
  appendJsonString(&out_, name);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
  if (!beforeValue()) return *this;
  appendJsonString(&out_, value);
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::int64(int64_t value) {
  if (!beforeValue()) return *this;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, static_cast<size_t>(end - buf));
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::uint64(uint64_t value) {
  if (!beforeValue()) return *this;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, static_cast<size_t>(end - buf));
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::number(double value) {
  if (!beforeValue()) return *this;
  if (!std::isfinite(value)) {
    out_.append("null");
  } else {
    char buf[32];  // the shortest round-trip form of a double takes at most 24 characters
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, static_cast<size_t>(end - buf));
  }
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  if (!beforeValue()) return *this;
  out_.append(value ? "true" : "false");
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::null() {
  if (!beforeValue()) return *this;
  out_.append("null");
  afterValue();
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  if (!beforeValue()) return *this;
  out_.append(json);
  afterValue();
  return *this;
}

std::string JsonWriter::take() {
  std::string out = std::move(out_);
  out_.clear();
  stack_.clear();
  need_comma_ = after_key_ = top_done_ = false;
  ok_ = true;
  return out;
}

}  // namespace push
