#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "services/register/slot_map.h"

namespace push::reg {

// Which register instance owns each slot when the slots follow the instances registered in
// ZooKeeper (services/register) instead of a static map. A pure function of the instance ids,
// so every register, room and center that sees the same list computes the same map without
// anyone writing it down.
//
// Rendezvous hashing: slot s goes to the instance with the highest mix(hash(id), s). When an
// instance joins it takes about 1/N of the slots, each from whoever held it; when one leaves
// only its own slots move. Nothing else moves, so the sessions to re-pull stay few.
//
// Returns one set per id, in the order given; together they cover every slot once. An empty
// list gives an empty result. Duplicate ids share nothing: the first of them gets the slots.
std::vector<SlotSet> assignSlots(const std::vector<std::string>& instance_ids);

// The slots of `self` under assignSlots(instance_ids); empty if `self` is not listed.
SlotSet slotsOf(const std::vector<std::string>& instance_ids, std::string_view self);

}  // namespace push::reg
