#include "sdk/token_app.h"

#include <cstdint>

#include "common/base/json_reader.h"

namespace push::sdk {

namespace {

int base64urlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded (or padded) base64url; false on any other character.
bool decodeBase64url(std::string_view in, std::string* out) {
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = base64urlValue(c);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out->push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

}  // namespace

std::string tokenClaim(std::string_view token, std::string_view name) {
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot > 4096) return {};
  std::string claims;
  if (!decodeBase64url(token.substr(0, dot), &claims)) return {};
  JsonReader r(claims);
  if (!r.beginObject().isOk()) return {};
  std::string key;
  while (r.nextKey(&key)) {
    if (key == name) {
      std::string value;
      if (!r.readString(&value).isOk()) return {};
      return value;
    }
    if (!r.skipValue().isOk()) return {};
  }
  return {};
}

std::string tokenApp(std::string_view token) {
  return tokenClaim(token, "app");
}

}  // namespace push::sdk
