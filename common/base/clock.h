#pragma once

#include <chrono>
#include <cstdint>

namespace push {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Time as the code sees it. Production uses Clock::system(); tests inject a FakeClock
// (tests/mocks/fake_clock.h) so timeouts and retries are tested without sleeping.
// Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Never goes back; for durations and deadlines.
  virtual MonoTime monoNow() const = 0;
  // Calendar time; may step back when the system clock is adjusted. For ids and timestamps.
  virtual WallTime wallNow() const = 0;

  int64_t monoMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(monoNow().time_since_epoch())
        .count();
  }
  int64_t wallMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(wallNow().time_since_epoch())
        .count();
  }

  // The process-wide real clock.
  static const Clock& system();
};

}  // namespace push
