#include "services/queued/toml_reader.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "services/queued/go_format.h"

namespace push::queued {
namespace {

void appendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool TomlReader::next(std::string* key, TomlValue* value, int* key_line) {
  skipBlankAndComments(true);
  if (atEnd()) return false;
  *key_line = line_;
  if (peek() == '[') return fail("tables ([section]) are not supported");
  if (!readKey(key)) return false;
  skipSpaces();
  if (atEnd() || peek() != '=') return fail("expected '=' after key \"" + *key + "\"");
  ++pos_;
  skipSpaces();
  if (!readValue(value)) return false;
  skipSpaces();
  if (!atEnd() && peek() == '#') skipToLineEnd();
  if (!atEnd() && peek() == '\r') ++pos_;
  if (!atEnd() && peek() != '\n') return fail("unexpected text after the value of " + *key);
  return true;
}

bool TomlReader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

void TomlReader::skipSpaces() {
  while (!atEnd() && (peek() == ' ' || peek() == '\t'))
    ++pos_;
}
void TomlReader::skipToLineEnd() {
  while (!atEnd() && peek() != '\n')
    ++pos_;
}
void TomlReader::skipBlankAndComments(bool newlines) {
  while (!atEnd()) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\r') {
      ++pos_;
    } else if (c == '#') {
      skipToLineEnd();
    } else if (c == '\n' && newlines) {
      ++pos_;
      ++line_;
    } else {
      break;
    }
  }
}

bool TomlReader::readKey(std::string* key) {
  key->clear();
  if (peek() == '"' || peek() == '\'') {
    TomlValue v;
    if (!readString(&v)) return false;
    *key = v.text;
  } else {
    while (!atEnd() &&
           (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')) {
      key->push_back(text_[pos_++]);
    }
    if (key->empty()) return fail("expected a key");
  }
  skipSpaces();
  if (!atEnd() && peek() == '.') return fail("dotted keys are not supported");
  return true;
}

bool TomlReader::readString(TomlValue* v) {
  v->type = TomlValue::Type::String;
  v->text.clear();
  char q = text_[pos_++];
  if (text_.compare(pos_, 2, std::string(2, q)) == 0) {
    return fail("multi-line strings are not supported");
  }
  while (true) {
    if (atEnd() || peek() == '\n') return fail("unterminated string");
    char c = text_[pos_++];
    if (c == q) return true;
    if (c != '\\' || q == '\'') {
      v->text.push_back(c);
      continue;
    }
    if (atEnd()) return fail("unterminated string");
    char e = text_[pos_++];
    switch (e) {
      case 'b':
        v->text.push_back('\b');
        break;
      case 't':
        v->text.push_back('\t');
        break;
      case 'n':
        v->text.push_back('\n');
        break;
      case 'f':
        v->text.push_back('\f');
        break;
      case 'r':
        v->text.push_back('\r');
        break;
      case '"':
        v->text.push_back('"');
        break;
      case '\\':
        v->text.push_back('\\');
        break;
      case 'u':
      case 'U': {
        size_t n = e == 'u' ? 4 : 8;
        if (pos_ + n > text_.size()) return fail("bad \\" + std::string(1, e) + " escape");
        uint32_t cp = 0;
        for (size_t i = 0; i < n; ++i) {
          char h = text_[pos_ + i];
          if (!isDigitIn(h, 16)) return fail("bad \\" + std::string(1, e) + " escape");
          cp = cp * 16 + static_cast<uint32_t>(digitValue(h));
        }
        pos_ += n;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("bad code point");
        appendUtf8(&v->text, cp);
        break;
      }
      default:
        return fail("unknown escape \\" + std::string(1, e));
    }
  }
}

bool TomlReader::readValue(TomlValue* v) {
  if (atEnd() || peek() == '\n') return fail("missing value");
  char c = peek();
  if (c == '"' || c == '\'') return readString(v);
  if (c == '{') return fail("inline tables are not supported");
  if (c == '[') {
    ++pos_;
    v->type = TomlValue::Type::Array;
    v->items.clear();
    while (true) {
      skipBlankAndComments(true);
      if (atEnd()) return fail("unterminated array");
      if (peek() == ']') {
        ++pos_;
        break;
      }
      TomlValue item;
      if (!readValue(&item)) return false;
      if (item.type == TomlValue::Type::Array) return fail("nested arrays are not supported");
      v->items.push_back(std::move(item));
      skipBlankAndComments(true);
      if (atEnd()) return fail("unterminated array");
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ']') {
        return fail("expected ',' or ']' in array");
      }
    }
    v->text = "[...]";
    return true;
  }
  // A bare word: a boolean or a number, up to a delimiter.
  size_t start = pos_;
  while (!atEnd() && peek() != ',' && peek() != ']' && peek() != '#' && peek() != '\n' &&
         peek() != ' ' && peek() != '\t' && peek() != '\r') {
    ++pos_;
  }
  v->text = text_.substr(start, pos_ - start);
  if (v->text == "true" || v->text == "false") {
    v->type = TomlValue::Type::Bool;
    v->boolean = v->text == "true";
    return true;
  }
  std::string reason;
  std::optional<int64_t> i;
  bool leading_zero = v->text.size() > 1 && v->text[0] == '0' &&
                      std::isdigit(static_cast<unsigned char>(v->text[1]));
  if (!leading_zero) i = parseGoInt(v->text, &reason);
  if (i) {
    v->type = TomlValue::Type::Integer;
    v->integer = *i;
    return true;
  }
  std::string digits = v->text;
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  std::optional<double> f = parseFloat(digits);
  size_t first = !digits.empty() && (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
  bool looks_numeric =
      first < digits.size() && std::isdigit(static_cast<unsigned char>(digits[first]));
  if (f && looks_numeric && digits.find_first_of("xXpP") == std::string::npos) {
    v->type = TomlValue::Type::Float;
    v->number = *f;
    return true;
  }
  return fail("unsupported value " + v->text + " (want a string, number, boolean or array)");
}

}  // namespace push::queued
