#include "services/register/slot_map.h"

#include <charconv>

#include "common/base/hash.h"

namespace push::reg {

uint32_t slotOf(std::string_view app, std::string_view user) {
  std::string key;
  key.reserve(app.size() + 1 + user.size());
  key.append(app);
  key.push_back('/');
  key.append(user);
  return static_cast<uint32_t>(hash64(key) % kSlotCount);
}

namespace {
bool parseNumber(std::string_view text, uint32_t* out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && !text.empty();
}
}  // namespace

Result<SlotSet> SlotSet::parse(std::string_view text) {
  SlotSet set;
  if (text.empty()) return invalidArgument("empty slot list");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(start, comma - start);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ')
      part.remove_suffix(1);
    uint32_t lo, hi;
    size_t dash = part.find('-');
    bool ok = dash == std::string_view::npos ? parseNumber(part, &lo) && (hi = lo, true)
                                             : parseNumber(part.substr(0, dash), &lo) &&
                                                   parseNumber(part.substr(dash + 1), &hi);
    if (!ok || lo > hi || hi >= kSlotCount) {
      return invalidArgument("bad slot range '" + std::string(part) + "' (slots are 0-" +
                             std::to_string(kSlotCount - 1) + ")");
    }
    for (uint32_t s = lo; s <= hi; ++s)
      set.bits_.set(s);
    start = comma + 1;
  }
  return set;
}

SlotSet SlotSet::all() {
  SlotSet set;
  set.bits_.set();
  return set;
}

SlotSet SlotSet::unite(const SlotSet& other) const {
  SlotSet out;
  out.bits_ = bits_ | other.bits_;
  return out;
}

std::string SlotSet::toString() const {
  std::string out;
  uint32_t s = 0;
  while (s < kSlotCount) {
    if (!bits_.test(s)) {
      ++s;
      continue;
    }
    uint32_t e = s;
    while (e + 1 < kSlotCount && bits_.test(e + 1))
      ++e;
    if (!out.empty()) out += ',';
    out += std::to_string(s);
    if (e != s) out += "-" + std::to_string(e);
    s = e + 1;
  }
  return out;
}

}  // namespace push::reg
