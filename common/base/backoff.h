#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace push {

// Jittered exponential backoff between attempts: `initial`, doubling per attempt up to `max`,
// each delay multiplied by a random factor in [1 - jitter, 1 + jitter] so that a million clients
// dropped at once by a room crash (the SDK's reconnects) or webhook calls failed by one outage
// (http::RetryingPoster) do not come back in lock-step.
//
//   Backoff b({.initial = 500ms, .max = 60s, .jitter = 0.2});
//   auto d1 = b.next();  // ~500 ms
//   auto d2 = b.next();  // ~1 s
//   b.reset();           // after a connection that stayed up long enough
//
// Not thread-safe (the client uses it on its loop thread).
class Backoff {
 public:
  struct Options {
    // First delay. Default 500 ms; at least 1 ms.
    std::chrono::milliseconds initial{500};
    // Cap of the un-jittered delay (a jittered one may be up to max * (1 + jitter)).
    // Default 60 s; at least `initial`.
    std::chrono::milliseconds max{60'000};
    // Relative spread, 0 <= jitter < 1. Default 0.2 (+-20%).
    double jitter = 0.2;
  };

  // `seed` feeds the jitter; give each client its own (the default mixes in the clock).
  explicit Backoff(Options options, uint64_t seed = 0);

  // The delay before the next attempt; counts the attempt.
  std::chrono::milliseconds next();
  // Starts over at `initial`.
  void reset() { attempts_ = 0; }
  // Delays handed out since the last reset().
  uint32_t attempts() const { return attempts_; }

 private:
  Options options_;
  uint32_t attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace push
