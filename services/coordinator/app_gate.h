#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace push::coord {

// The per-app concurrency cap of the coordinator: at most `max_running` webhook requests of one
// app run at once, at most `max_queued` more wait (FIFO), and one more is refused at once, so a
// slow app's webhook holds back only its own traffic and never grows an unbounded queue.
//
//   if (!gate.submit([..](bool start) { start ? run() : answerCancelled(); })) answerBusy();
//   ... when the request that ran ends: gate.release();
//
// A task is called exactly once: with true when it may run (inside submit() when a slot is
// free, otherwise inside the release() that frees one), or with false when it is dropped
// unrun (cancelQueued(), the destructor). A task that ran must be followed by exactly one
// release(). Plain class, no loop; single-threaded (the coordinator's loop thread).
class AppGate {
 public:
  using Task = std::function<void(bool start)>;

  AppGate(uint32_t max_running, uint32_t max_queued);
  // Every task still waiting is called with false.
  ~AppGate();
  AppGate(const AppGate&) = delete;
  AppGate& operator=(const AppGate&) = delete;

  // Runs `task(true)` now when fewer than max_running run; queues it when fewer than
  // max_queued wait; else returns false and drops `task` without calling it.
  bool submit(Task task);
  // One task that ran has finished: the oldest waiting task (if any) runs inside this call.
  void release();
  // New limits (an app's settings changed): waiting tasks start at once up to the new
  // max_running; tasks running or waiting over the new limits are kept (never dropped).
  // max_running is at least 1.
  void setLimits(uint32_t max_running, uint32_t max_queued);
  // Calls every waiting task with false (the coordinator is stopping).
  void cancelQueued();

  size_t running() const { return running_; }
  size_t queued() const { return queue_.size(); }
  uint32_t maxRunning() const { return max_running_; }
  uint32_t maxQueued() const { return max_queued_; }

 private:
  void startWaiting();

  uint32_t max_running_;
  uint32_t max_queued_;
  size_t running_ = 0;
  std::deque<Task> queue_;
};

}  // namespace push::coord
