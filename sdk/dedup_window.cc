#include "sdk/dedup_window.h"

#include <algorithm>

namespace push::sdk {

DedupWindow::DedupWindow(size_t capacity) : ring_(std::max<size_t>(capacity, 1)) {
  seen_.reserve(ring_.size());
}

bool DedupWindow::insert(uint64_t id) {
  if (seen_.count(id)) return false;
  if (count_ == ring_.size()) {
    seen_.erase(ring_[next_]);  // forget the oldest
  } else {
    ++count_;
  }
  ring_[next_] = id;
  next_ = (next_ + 1) % ring_.size();
  seen_.emplace(id, false);
  return true;
}

void DedupWindow::markAcked(uint64_t id) {
  auto it = seen_.find(id);
  if (it != seen_.end()) it->second = true;
}

bool DedupWindow::acked(uint64_t id) const {
  auto it = seen_.find(id);
  return it != seen_.end() && it->second;
}

std::vector<uint64_t> DedupWindow::recent(size_t n) const {
  std::vector<uint64_t> out;
  n = std::min(n, count_);
  out.reserve(n);
  size_t pos = next_;
  for (size_t i = 0; i < n; ++i) {
    pos = (pos + ring_.size() - 1) % ring_.size();
    out.push_back(ring_[pos]);
  }
  return out;
}

}  // namespace push::sdk
