#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

#include "common/net/owning_ptrs.h"
#include "common/net/timing_wheel.h"

namespace push::net {

class EventLoop;

// A TimingWheel driven by one libuv timer on a loop. The timer runs only while the wheel holds
// entries, and then wakes the loop only at ticks whose slot holds one: a sparse wheel (an RPC
// channel's call deadlines at a 2 ms tick, seconds away) costs a wake per deadline, not one
// per tick. (Waking every tick made 63 room workers with a register call always in flight
// wake 31,500 times a second on 2 cores.)
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
  // How often the timer woke the loop (for tests and metrics).
  uint64_t wakeups() const { return wakeups_; }
  void close();

 private:
  LoopWheel(EventLoop& loop, int64_t tick_ms, size_t slots, TimingWheel::ExpireFn on_expire);
  ~LoopWheel() = default;
  void onTick();
  // Makes the timer fire by `tick` (a wheel tick) if it would fire later or is stopped.
  void armBy(int64_t tick);

  EventLoop& loop_;
  uv_timer_t timer_;
  TimingWheel wheel_;
  bool running_ = false;
  // While running_: the tick the timer fires at (kNotArmed inside onTick until re-armed).
  static constexpr int64_t kNotArmed = INT64_MAX;
  int64_t armed_tick_ = kNotArmed;
  uint64_t wakeups_ = 0;
  bool closing_ = false;
};

}  // namespace push::net
