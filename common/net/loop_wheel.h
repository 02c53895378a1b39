#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

#include "common/net/owning_ptrs.h"
#include "common/net/timing_wheel.h"

namespace push::net {

class EventLoop;

// A TimingWheel driven by one libuv timer on a loop. The timer runs only while the wheel holds
// entries, so an idle process does not wake up every tick.
//
// Ownership: create() returns a LoopWheelPtr; destroying it (or reset()) closes the wheel: no
// callback runs after that, and the object deletes itself in the close callback. Resetting
// it from inside the wheel's own callback is fine. Loop-thread only.
class LoopWheel {
 public:
  static LoopWheelPtr create(EventLoop& loop, int64_t tick_ms, size_t slots,
                             TimingWheel::ExpireFn on_expire);
  void schedule(uint64_t key, int64_t deadline_ms);
  // Loop time in ms (the clock the deadlines are in).
  int64_t nowMs() const;
  size_t size() const { return wheel_.size(); }
  void close();

 private:
  LoopWheel(EventLoop& loop, int64_t tick_ms, size_t slots, TimingWheel::ExpireFn on_expire);
  ~LoopWheel() = default;
  void onTick();

  EventLoop& loop_;
  uv_timer_t timer_;
  TimingWheel wheel_;
  bool running_ = false;
  bool closing_ = false;
};

}  // namespace push::net
