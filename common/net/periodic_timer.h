#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>

#include "common/net/owning_ptrs.h"

namespace push::net {

class EventLoop;

// Runs a callback every `interval` on the loop (or once, after `delay`, with start(..., false)).
// One libuv timer; does not keep the loop alive by itself unless `keep_alive`.
// Ownership: create() returns a PeriodicTimerPtr; destroying it (or reset()) closes the timer:
// the callback never runs after that, and the object deletes itself in the close callback.
// Resetting it from inside its own callback is fine. Loop-thread only.
class PeriodicTimer {
 public:
  static PeriodicTimerPtr create(EventLoop& loop, std::function<void()> fn,
                                 bool keep_alive = false);
  // (Re)starts: first run after `interval`, then every `interval` when `repeat`.
  void start(std::chrono::milliseconds interval, bool repeat = true);
  void stop();
  bool active() const;
  void close();

 private:
  PeriodicTimer(EventLoop& loop, std::function<void()> fn, bool keep_alive);
  ~PeriodicTimer() = default;
  uv_timer_t timer_;
  std::function<void()> fn_;
  bool closing_ = false;
};

}  // namespace push::net
