#pragma once

#include <sched.h>

#include <chrono>

#include <grpcpp/completion_queue.h>

#include "loadtest/grpc_bench/tuning.h"

namespace push::grpcbench {

// Waits for a completion queue's next event following Tuning::spin_us: polls with a zero
// deadline until the queue has been empty for the spin window, then blocks until an event
// arrives. The clock is read only while spinning on an empty queue, so a busy queue pays
// nothing for the policy. Used by the one thread that drains `cq`.
class CqWaiter {
 public:
  // spin_us: see kSpinForever. `forever_means` is the spin window kSpinForever stands for
  // (the server uses kIdleBeforeSleep so that it sleeps when idle).
  CqWaiter(grpc::CompletionQueue* cq, int spin_us, std::chrono::nanoseconds forever_means,
           bool yield)
      : cq_(cq),
        spin_window_(spin_us < 0 ? forever_means : std::chrono::microseconds(spin_us)),
        yield_(yield) {}

  // Returns false once the queue is shut down and drained.
  bool next(void** tag, bool* ok) {
    if (spin_window_.count() > 0) {
      bool spinning = false;
      Clock::time_point spin_start;
      for (;;) {
        const auto status = cq_->AsyncNext(tag, ok, gpr_time_0(GPR_CLOCK_MONOTONIC));
        if (status == grpc::CompletionQueue::GOT_EVENT) return true;
        if (status == grpc::CompletionQueue::SHUTDOWN) return false;
        if (yield_) sched_yield();
        const Clock::time_point now = Clock::now();
        if (!spinning) {
          spinning = true;
          spin_start = now;
        } else if (now - spin_start >= spin_window_) {
          break;
        }
      }
    }
    return cq_->Next(tag, ok);
  }

 private:
  using Clock = std::chrono::steady_clock;

  grpc::CompletionQueue* cq_;
  std::chrono::nanoseconds spin_window_;
  bool yield_;
};

}  // namespace push::grpcbench
