#include "common/net/timing_wheel.h"

#include <algorithm>

namespace push::net {

TimingWheel::TimingWheel(int64_t tick_ms, size_t slots, int64_t start_ms, ExpireFn on_expire)
    : tick_ms_(std::max<int64_t>(1, tick_ms)),
      slots_(std::max<size_t>(1, slots)),
      current_tick_(start_ms / tick_ms_),
      on_expire_(std::move(on_expire)) {}

int64_t TimingWheel::schedule(uint64_t key, int64_t deadline_ms) {
  // Round up: an entry never fires early.
  int64_t tick = (deadline_ms + tick_ms_ - 1) / tick_ms_;
  if (tick <= current_tick_) tick = current_tick_ + 1;
  slots_[static_cast<size_t>(tick) % slots_.size()].push_back(Entry{key, tick});
  ++size_;
  // The slot is visited this turn even when the entry is turns away.
  return std::min(tick, current_tick_ + static_cast<int64_t>(slots_.size()));
}

int64_t TimingWheel::nextTick() const {
  const auto n = static_cast<int64_t>(slots_.size());
  for (int64_t tick = current_tick_ + 1; tick < current_tick_ + n; ++tick) {
    if (!slots_[static_cast<size_t>(tick % n)].empty()) return tick;
  }
  return current_tick_ + n;
}

void TimingWheel::advance(int64_t now_ms) {
  const int64_t target = now_ms / tick_ms_;
  if (target <= current_tick_) return;
  // After a long stall one full turn visits every slot; entries compare their own deadline.
  const int64_t first =
      std::max(current_tick_ + 1, target - static_cast<int64_t>(slots_.size()) + 1);
  current_tick_ = target;
  for (int64_t tick = first; tick <= target; ++tick) {
    processSlot(static_cast<size_t>(tick) % slots_.size());
  }
}

void TimingWheel::processSlot(size_t slot) {
  std::vector<Entry>& entries = slots_[slot];
  if (entries.empty()) return;
  // Keep entries whose deadline is turns away; collect due ones first, then fire them, so a
  // callback that schedules into this slot does not disturb the scan.
  size_t kept = 0;
  for (const Entry& e : entries) {
    if (e.deadline_tick <= current_tick_) {
      firing_.push_back(e);
    } else {
      entries[kept++] = e;
    }
  }
  entries.resize(kept);
  if (entries.empty() && entries.capacity() > 1024) std::vector<Entry>().swap(entries);
  size_ -= firing_.size();
  std::vector<Entry> batch;
  batch.swap(firing_);
  for (const Entry& e : batch)
    on_expire_(e.key);
  batch.clear();
  if (firing_.empty()) firing_.swap(batch);  // keep the capacity for next time
}

}  // namespace push::net
