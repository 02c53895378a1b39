#include "services/room/pending_acks.h"

#include <algorithm>

namespace push::room {

namespace {
auto byId(uint64_t id) {
  return [id](const auto& e) { return e.id == id; };
}
}  // namespace

void PendingAcks::add(uint64_t message_id, size_t capacity, uint16_t app) {
  if (capacity == 0) return;
  // A replay of a message still pending (a retry through another path) is one delivery.
  if (contains(message_id)) return;
  if (ids_.size() >= capacity)
    ids_.erase(ids_.begin(), ids_.begin() + (ids_.size() - capacity + 1));
  ids_.push_back({message_id, app});
}

bool PendingAcks::contains(uint64_t message_id) const {
  return std::find_if(ids_.begin(), ids_.end(), byId(message_id)) != ids_.end();
}

bool PendingAcks::take(uint64_t message_id, uint16_t* app) {
  auto it = std::find_if(ids_.begin(), ids_.end(), byId(message_id));
  if (it == ids_.end()) return false;
  if (app) *app = it->app;
  ids_.erase(it);
  if (ids_.empty()) ids_.shrink_to_fit();
  return true;
}

}  // namespace push::room
