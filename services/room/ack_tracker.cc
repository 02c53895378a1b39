#include "services/room/ack_tracker.h"

#include "common/base/json_writer.h"

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

void AckTracker::writeRecent(JsonWriter& out, size_t limit) const {
  out.beginObject();
  size_t n = 0;
  for (auto it = order_.rbegin(); it != order_.rend() && n < limit; ++it, ++n) {
    auto m = messages_.find(*it);
    if (m == messages_.end()) continue;
    out.key(std::to_string(*it)).beginObject();
    out.key("delivered").uint64(m->second.delivered);
    out.key("acked").uint64(m->second.acked);
    out.endObject();
  }
  out.endObject();
}

std::string AckTracker::recentJson(size_t limit) const {
  JsonWriter w;
  writeRecent(w, limit);
  return w.take();
}

}  // namespace push::room
