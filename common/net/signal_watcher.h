#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "common/net/owning_ptrs.h"

namespace push::net {

class EventLoop;

// Calls `on_signal(signum)` on the loop thread for SIGINT and SIGTERM (what a service main
// needs for a graceful stop). The watcher does not keep the loop alive.
// Ownership: create() returns a SignalWatcherPtr; destroying it (or reset()) closes the
// watcher: on_signal never runs after that, and the object deletes itself in the last close
// callback. Resetting it from inside on_signal is fine. Reset it before the loop's
// shutdown(). Loop-thread only.
class SignalWatcher {
 public:
  static SignalWatcherPtr create(EventLoop& loop, std::function<void(int)> on_signal);
  void close();

 private:
  SignalWatcher(EventLoop& loop, std::function<void(int)> on_signal);
  ~SignalWatcher() = default;
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  std::function<void(int)> on_signal_;
  int open_handles_ = 2;
  bool closing_ = false;
};

}  // namespace push::net
