#include "services/room/pending_acks.h"

#include <algorithm>

namespace push::room {

void PendingAcks::add(uint64_t message_id, size_t capacity) {
  if (capacity == 0) return;
  // A replay of a message still pending (a retry through another path) is one delivery.
  if (!ids_.empty() && std::find(ids_.begin(), ids_.end(), message_id) != ids_.end()) return;
  if (ids_.size() >= capacity)
    ids_.erase(ids_.begin(), ids_.begin() + (ids_.size() - capacity + 1));
  ids_.push_back(message_id);
}

bool PendingAcks::take(uint64_t message_id) {
  auto it = std::find(ids_.begin(), ids_.end(), message_id);
  if (it == ids_.end()) return false;
  ids_.erase(it);
  if (ids_.empty()) ids_.shrink_to_fit();
  return true;
}

}  // namespace push::room
