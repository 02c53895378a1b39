#include "services/room/ack_tracker.h"

namespace push::room {

void AckTracker::delivered(uint64_t message_id, uint32_t connections) {
  auto [it, inserted] = messages_.try_emplace(message_id);
  it->second.delivered += connections;
  if (!inserted) return;
  order_.push_back(message_id);
  while (messages_.size() > capacity_ && !order_.empty()) {
    messages_.erase(order_.front());
    order_.pop_front();
  }
}

bool AckTracker::acked(uint64_t message_id) {
  auto it = messages_.find(message_id);
  if (it == messages_.end()) return false;
  ++it->second.acked;
  return true;
}

AckTracker::Counts AckTracker::counts(uint64_t message_id) const {
  auto it = messages_.find(message_id);
  return it == messages_.end() ? Counts{} : it->second;
}

std::string AckTracker::recentJson(size_t limit) const {
  std::string out = "{";
  size_t n = 0;
  for (auto it = order_.rbegin(); it != order_.rend() && n < limit; ++it, ++n) {
    auto m = messages_.find(*it);
    if (m == messages_.end()) continue;
    if (n) out += ',';
    out += "\"" + std::to_string(*it) + "\":{\"delivered\":" + std::to_string(m->second.delivered) +
           ",\"acked\":" + std::to_string(m->second.acked) + "}";
  }
  return out + "}";
}

}  // namespace push::room
