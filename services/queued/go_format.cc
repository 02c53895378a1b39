#include "services/queued/go_format.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace push::queued {

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Length of the valid UTF-8 sequence at text[i], or 0 if it is not one.
size_t utf8Length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

std::string goQuote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t len = utf8Length(text, i);
      if (len > 0) {
        out.append(text.substr(i, len));
        i += len;
        continue;
      }
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

bool parseBase10(std::string_view text, int64_t* value) {
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');  // wraps, as nsqd's does
  }
  *value = static_cast<int64_t>(n);
  return true;
}

std::string goDurationSeconds(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  int64_t hours = seconds / 3600;
  int64_t minutes = (seconds % 3600) / 60;
  int64_t secs = seconds % 60;
  std::string out;
  if (hours > 0) out += std::to_string(hours) + "h";
  out += std::to_string(minutes) + "m" + std::to_string(secs) + "s";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go's value syntax: strconv.ParseInt(s, 0, 64), strconv.ParseBool, time.ParseDuration.

bool isDigitIn(char c, int base) {
  int d;
  if (c >= '0' && c <= '9') {
    d = c - '0';
  } else if (c >= 'a' && c <= 'z') {
    d = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'Z') {
    d = c - 'A' + 10;
  } else {
    return false;
  }
  return d < base;
}

int digitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Go's integer literal with base prefixes (0x, 0o, 0b, leading 0 = octal) and '_' between digits.
std::optional<int64_t> parseGoInt(std::string_view s, std::string* reason) {
  *reason = "parse error";
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int base = 10;
  bool any_digit = false;
  bool underscore_ok = false;  // '_' may follow a digit or a base prefix
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;  // "0755"; the leading 0 is a digit too
      s.remove_prefix(1);
      any_digit = true;
    }
    underscore_ok = true;
  }
  const unsigned __int128 limit = static_cast<unsigned __int128>(kInt64Max) + (negative ? 1 : 0);
  unsigned __int128 value = 0;
  bool overflow = false;
  bool last_underscore = false;
  for (char c : s) {
    if (c == '_') {
      if (!underscore_ok) return std::nullopt;
      underscore_ok = false;
      last_underscore = true;
      continue;
    }
    if (!isDigitIn(c, base)) return std::nullopt;
    if (!overflow) {
      value = value * base + digitValue(c);
      overflow = value > limit;
    }
    any_digit = true;
    last_underscore = false;
    underscore_ok = true;
  }
  if (!any_digit || last_underscore) return std::nullopt;
  if (overflow) {
    *reason = "value out of range";
    return std::nullopt;
  }
  reason->clear();
  if (negative) return static_cast<int64_t>(-static_cast<__int128>(value));
  return static_cast<int64_t>(value);
}

std::optional<bool> parseGoBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Go's time.ParseDuration, in nanoseconds.
std::optional<int64_t> parseGoDuration(std::string_view original, std::string* reason) {
  std::string quoted = "\"" + std::string(original) + "\"";
  *reason = "time: invalid duration " + quoted;
  std::string_view s = original;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    reason->clear();
    return 0;
  }
  if (s.empty()) return std::nullopt;
  unsigned __int128 total = 0;
  const unsigned __int128 limit = static_cast<unsigned __int128>(kInt64Max) + (negative ? 1 : 0);
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return std::nullopt;
    unsigned __int128 whole = 0;
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + (s[i] - '0');
      if (whole > limit) return std::nullopt;
      ++i;
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    long double fraction = 0;
    long double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      i = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < 1e18L) {
          fraction = fraction * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
      post = i > 0;
      s.remove_prefix(i);
    }
    if (!pre && !post) return std::nullopt;
    i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
      ++i;
    std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    if (unit_name.empty()) {
      *reason = "time: missing unit in duration " + quoted;
      return std::nullopt;
    }
    int64_t unit;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60 * int64_t{1000000000};
    } else if (unit_name == "h") {
      unit = 3600 * int64_t{1000000000};
    } else {
      *reason = "time: unknown unit \"" + std::string(unit_name) + "\" in duration " + quoted;
      return std::nullopt;
    }
    unsigned __int128 v = whole * unit;
    if (v > limit) return std::nullopt;
    v += static_cast<unsigned __int128>(fraction * (static_cast<long double>(unit) / scale));
    total += v;
    if (total > limit) return std::nullopt;
  }
  reason->clear();
  if (negative) return static_cast<int64_t>(-static_cast<__int128>(total));
  return static_cast<int64_t>(total);
}

std::optional<double> parseFloat(std::string_view s) {
  std::string text(s);
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || std::isnan(v)) return std::nullopt;
  return v;
}

}  // namespace push::queued
