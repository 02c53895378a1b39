#include "services/saver/saver_keys.h"

#include <charconv>

namespace push::saver {

UserKeys userKeys(std::string_view app, std::string_view user) {
  std::string tag;
  tag.reserve(app.size() + user.size() + 3);
  tag.append("{").append(app).append("/").append(user).append("}");
  return UserKeys{"in:" + tag, "mb:" + tag, "ml:" + tag};
}

AppKeys appKeys(std::string_view app) {
  std::string tag = "{" + std::string(app) + "}";
  return AppKeys{"bs:" + tag, "bl:" + tag};
}

std::string idHex(uint64_t id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[id & 0xf];
    id >>= 4;
  }
  return out;
}

bool parseIdHex(std::string_view hex, uint64_t* id) {
  if (hex.size() != 16) return false;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), *id, 16);
  return ec == std::errc() && end == hex.data() + hex.size();
}

bool splitExpiry(std::string_view value, int64_t* expire_ms, std::string_view* rest) {
  size_t space = value.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  auto [end, ec] = std::from_chars(value.data(), value.data() + space, *expire_ms);
  if (ec != std::errc() || end != value.data() + space) return false;
  *rest = value.substr(space + 1);
  return true;
}

}  // namespace push::saver
