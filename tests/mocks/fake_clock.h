#pragma once

#include <atomic>
#include <chrono>

#include "common/base/clock.h"

namespace push::testing {

// A Clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'750'000'000'000, int64_t mono_ms = 1'000'000)
      : wall_ms_(wall_ms), mono_ms_(mono_ms) {}

  MonoTime monoNow() const override { return MonoTime(std::chrono::milliseconds(mono_ms_.load())); }
  WallTime wallNow() const override { return WallTime(std::chrono::milliseconds(wall_ms_.load())); }

  // Moves both clocks forward.
  void advance(std::chrono::milliseconds d) {
    wall_ms_ += d.count();
    mono_ms_ += d.count();
  }
  // Sets the wall clock (may go back: simulates an NTP step).
  void setWallMs(int64_t ms) { wall_ms_ = ms; }

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> mono_ms_;
};

}  // namespace push::testing
