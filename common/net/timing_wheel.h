#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace push::net {

// Deadlines for many objects without a timer each: a ring of slots, one per tick. An entry is
// 16 bytes (key + deadline); scheduling is O(1); there is no cancel: when an entry fires, the
// owner looks the key up and ignores it if it no longer applies (or schedules it again).
// Typical use: a connection's heartbeat deadline is `last_seen + timeout`; the wheel holds at
// most one entry per connection and re-checks it when it fires, so traffic never touches the
// wheel.
//
// Pure logic: time comes in through advance(now_ms), so tests drive it with a fake clock;
// LoopWheel (loop_wheel.h) drives it from a libuv timer. Not thread-safe.
class TimingWheel {
 public:
  using ExpireFn = std::function<void(uint64_t key)>;

  // Ticks of `tick_ms` milliseconds, `slots` slots (span = tick_ms * slots; later deadlines
  // wait extra turns). `start_ms` is the current time.
  TimingWheel(int64_t tick_ms, size_t slots, int64_t start_ms, ExpireFn on_expire);

  // `key` fires at the first advance() whose time is >= deadline_ms rounded up to a tick.
  // A deadline already past fires on the next advance(). The same key may be scheduled more
  // than once; each entry fires. Returns the tick the entry waits in (nextTick() units).
  int64_t schedule(uint64_t key, int64_t deadline_ms);

  // Moves time to now_ms and fires every due entry (on_expire may schedule again).
  void advance(int64_t now_ms);

  size_t size() const { return size_; }
  // The first tick after the current one whose slot holds an entry (an entry there may be
  // turns away: then nothing fires at it), or a full turn ahead when none does. A driver that
  // sleeps until then instead of waking every tick finds every entry in time. O(slots) at
  // worst: call it once per wake, not per schedule().
  int64_t nextTick() const;
  int64_t tickMs() const { return tick_ms_; }

 private:
  struct Entry {
    uint64_t key;
    int64_t deadline_tick;
  };
  void processSlot(size_t slot);

  const int64_t tick_ms_;
  std::vector<std::vector<Entry>> slots_;
  std::vector<Entry> firing_;
  int64_t current_tick_;  // every tick <= current_tick_ has been processed
  size_t size_ = 0;
  ExpireFn on_expire_;
};

}  // namespace push::net
