#include "common/base/json_reader.h"

#include <cstdlib>

namespace push {

namespace {
constexpr int kMaxDepth = 64;

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}
}  // namespace

Status JsonReader::fail(std::string what) {
  if (status_.isOk()) {
    status_ = invalidArgument("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  return status_;
}

void JsonReader::skipSpace() {
  while (pos_ < text_.size() && isSpace(text_[pos_]))
    ++pos_;
}

bool JsonReader::consume(char c) {
  skipSpace();
  if (pos_ < text_.size() && text_[pos_] == c) {
    ++pos_;
    return true;
  }
  return false;
}

Status JsonReader::beginObject() {
  if (!status_.isOk()) return status_;
  if (!consume('{')) return fail("expected an object");
  if (++depth_ > kMaxDepth) return fail("nested too deep");
  first_ = true;
  return Status::ok();
}

bool JsonReader::nextKey(std::string* key) {
  if (!status_.isOk()) return false;
  if (consume('}')) {
    --depth_;
    first_ = false;
    return false;
  }
  if (!first_ && !consume(',')) {
    (void)fail("expected ',' or '}'");
    return false;
  }
  first_ = false;
  if (!readString(key).isOk()) return false;
  if (!consume(':')) {
    (void)fail("expected ':' after a key");
    return false;
  }
  return true;
}

Status JsonReader::beginArray() {
  if (!status_.isOk()) return status_;
  if (!consume('[')) return fail("expected an array");
  if (++depth_ > kMaxDepth) return fail("nested too deep");
  first_ = true;
  return Status::ok();
}

bool JsonReader::nextElement() {
  if (!status_.isOk()) return false;
  if (consume(']')) {
    --depth_;
    first_ = false;
    return false;
  }
  if (!first_ && !consume(',')) {
    (void)fail("expected ',' or ']'");
    return false;
  }
  first_ = false;
  return true;
}

Status JsonReader::readString(std::string* out) {
  if (!status_.isOk()) return status_;
  if (!consume('"')) return fail("expected a string");
  out->clear();
  while (pos_ < text_.size()) {
    const char c = text_[pos_++];
    if (c == '"') return Status::ok();
    if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (pos_ >= text_.size()) break;
    const char e = text_[pos_++];
    switch (e) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        auto hex4 = [&](uint32_t* v) {
          if (pos_ + 4 > text_.size()) return false;
          *v = 0;
          for (int i = 0; i < 4; ++i) {
            int h = hexValue(text_[pos_++]);
            if (h < 0) return false;
            *v = (*v << 4) | static_cast<uint32_t>(h);
          }
          return true;
        };
        uint32_t cp;
        if (!hex4(&cp)) return fail("bad \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low;
          if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
            return fail("lone high surrogate");
          }
          pos_ += 2;
          if (!hex4(&low) || low < 0xdc00 || low > 0xdfff) return fail("bad low surrogate");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          return fail("lone low surrogate");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return fail("bad escape");
    }
  }
  return fail("unterminated string");
}

Status JsonReader::readUint(uint64_t* out, uint64_t max) {
  if (!status_.isOk()) return status_;
  skipSpace();
  size_t start = pos_;
  uint64_t v = 0;
  while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
    if (v > (max - digit) / 10)
      return fail("number out of range (max " + std::to_string(max) + ")");
    v = v * 10 + digit;
    ++pos_;
  }
  if (pos_ == start) return fail("expected a non-negative integer");
  if (pos_ - start > 1 && text_[start] == '0') return fail("leading zero");
  if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
    return fail("expected an integer");
  }
  *out = v;
  return Status::ok();
}

Status JsonReader::readInt(int64_t* out, int64_t min, int64_t max) {
  if (!status_.isOk()) return status_;
  skipSpace();
  bool negative = pos_ < text_.size() && text_[pos_] == '-';
  if (negative) ++pos_;
  uint64_t magnitude = 0;
  // The magnitude of min (as unsigned) bounds a negative value, max a positive one.
  uint64_t limit = negative ? static_cast<uint64_t>(-(min + 1)) + 1 : static_cast<uint64_t>(max);
  if (negative && min >= 0) return fail("number out of range (min " + std::to_string(min) + ")");
  RETURN_IF_ERROR(readUint(&magnitude, limit));
  int64_t value = static_cast<int64_t>(magnitude);
  if (negative) value = magnitude == 0 ? 0 : -static_cast<int64_t>(magnitude - 1) - 1;
  if (value < min || value > max) {
    return fail("number out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  *out = value;
  return Status::ok();
}

Status JsonReader::readUintTruncated(uint64_t* out, uint64_t max) {
  if (!status_.isOk()) return status_;
  skipSpace();
  // RFC 8259 number: -? int frac? exp?, checked here; the value is then read with strtod.
  const size_t start = pos_;
  auto digits = [&] {
    const size_t from = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
      ++pos_;
    return pos_ - from;
  };
  if (pos_ < text_.size() && text_[pos_] == '-') return fail("number out of range (negative)");
  const size_t int_start = pos_;
  const size_t int_digits = digits();
  if (int_digits == 0) return fail("expected a number");
  if (int_digits > 1 && text_[int_start] == '0') return fail("leading zero");
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (digits() == 0) return fail("expected digits after '.'");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (digits() == 0) return fail("expected digits in the exponent");
  }
  const std::string number(text_.substr(start, pos_ - start));
  const double value = std::strtod(number.c_str(), nullptr);
  if (!(value < static_cast<double>(max) + 1.0)) {
    return fail("number out of range (max " + std::to_string(max) + ")");
  }
  *out = static_cast<uint64_t>(value);
  if (*out > max) *out = max;  // max + 1 - epsilon truncates to max
  return Status::ok();
}

Status JsonReader::readBool(bool* out) {
  if (!status_.isOk()) return status_;
  skipSpace();
  if (text_.substr(pos_, 4) == "true") {
    pos_ += 4;
    *out = true;
  } else if (text_.substr(pos_, 5) == "false") {
    pos_ += 5;
    *out = false;
  } else {
    return fail("expected true or false");
  }
  return Status::ok();
}

bool JsonReader::isNull() {
  skipSpace();
  if (status_.isOk() && text_.substr(pos_, 4) == "null") {
    pos_ += 4;
    return true;
  }
  return false;
}

Status JsonReader::skipValue() {
  return skipDepth(depth_);
}

Status JsonReader::skipDepth(int depth) {
  if (!status_.isOk()) return status_;
  if (depth >= kMaxDepth) return fail("nested too deep");
  skipSpace();
  if (pos_ >= text_.size()) return fail("expected a value");
  const char c = text_[pos_];
  std::string scratch;
  if (c == '"') return readString(&scratch);
  if (c == '{') {
    RETURN_IF_ERROR(beginObject());
    while (nextKey(&scratch))
      RETURN_IF_ERROR(skipDepth(depth + 1));
    return status_;
  }
  if (c == '[') {
    RETURN_IF_ERROR(beginArray());
    while (nextElement())
      RETURN_IF_ERROR(skipDepth(depth + 1));
    return status_;
  }
  if (isNull()) return Status::ok();
  bool b;
  if (c == 't' || c == 'f') return readBool(&b);
  // A number: -?digits(.digits)?([eE][+-]?digits)?
  if (text_[pos_] == '-') ++pos_;
  auto digits = [&] {
    size_t s = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
      ++pos_;
    return pos_ > s;
  };
  const size_t int_start = pos_;
  if (!digits()) return fail("expected a value");
  if (pos_ - int_start > 1 && text_[int_start] == '0') return fail("leading zero");
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (!digits()) return fail("bad number");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (!digits()) return fail("bad number");
  }
  return Status::ok();
}

Status JsonReader::finish() {
  if (!status_.isOk()) return status_;
  if (depth_ != 0) return fail("unclosed object or array");
  skipSpace();
  if (pos_ != text_.size()) return fail("unexpected data after the value");
  return Status::ok();
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(n) >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

}  // namespace push
