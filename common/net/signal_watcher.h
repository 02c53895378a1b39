#pragma once

#include <uv.h>

#include <functional>
#include <memory>

namespace push::net {

class EventLoop;

// Calls `on_signal(signum)` on the loop thread for SIGINT and SIGTERM (what a service main
// needs for a graceful stop). The watcher does not keep the loop alive.
// Ownership: create(); destroy with close() (deletes itself in the last close callback).
class SignalWatcher {
 public:
  static SignalWatcher* create(EventLoop& loop, std::function<void(int)> on_signal);
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

struct SignalWatcherCloser {
  void operator()(SignalWatcher* w) const { w->close(); }
};
using SignalWatcherPtr = std::unique_ptr<SignalWatcher, SignalWatcherCloser>;

}  // namespace push::net
