#include "common/base/tag_name.h"

namespace push {

bool isValidTagName(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagNameBytes) return false;
  for (unsigned char ch : tag) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace push
