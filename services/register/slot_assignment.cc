#include "services/register/slot_assignment.h"

#include <cstdint>

#include "common/base/hash.h"

namespace push::reg {

std::vector<SlotSet> assignSlots(const std::vector<std::string>& instance_ids) {
  std::vector<SlotSet> sets(instance_ids.size());
  if (instance_ids.empty()) return sets;
  std::vector<uint64_t> seeds;
  seeds.reserve(instance_ids.size());
  for (const std::string& id : instance_ids)
    seeds.push_back(hash64(id));
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    size_t best = 0;
    uint64_t best_score = 0;
    for (size_t i = 0; i < seeds.size(); ++i) {
      const uint64_t score = mix64(seeds[i] ^ mix64(slot + 1));
      // Ties (astronomically rare) go to the smaller id, so the answer never depends on order;
      // an exact duplicate id keeps its first position.
      if (i == 0 || score > best_score ||
          (score == best_score && instance_ids[i] < instance_ids[best])) {
        best = i;
        best_score = score;
      }
    }
    sets[best].add(slot);
  }
  return sets;
}

SlotSet slotsOf(const std::vector<std::string>& instance_ids, std::string_view self) {
  std::vector<SlotSet> sets = assignSlots(instance_ids);
  for (size_t i = 0; i < instance_ids.size(); ++i) {
    if (instance_ids[i] == self) return sets[i];
  }
  return SlotSet();
}

}  // namespace push::reg
