#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace push::reg {

constexpr uint32_t kSlotCount = 1024;

// The register slot of a user: hash64(app "/" user) % 1024. Stable forever (it decides which
// register instance holds a session).
uint32_t slotOf(std::string_view app, std::string_view user);

// A set of slots, written "0-1023", "0-511", "0-99,200-299,512".
class SlotSet {
 public:
  static Result<SlotSet> parse(std::string_view text);
  static SlotSet all();
  bool contains(uint32_t slot) const { return slot < kSlotCount && bits_.test(slot); }
  void add(uint32_t slot) { bits_.set(slot); }
  size_t count() const { return bits_.count(); }
  bool overlaps(const SlotSet& other) const { return (bits_ & other.bits_).any(); }
  SlotSet unite(const SlotSet& other) const;
  bool operator==(const SlotSet& other) const { return bits_ == other.bits_; }
  // Back to the compact text form.
  std::string toString() const;

 private:
  std::bitset<kSlotCount> bits_;
};

}  // namespace push::reg
