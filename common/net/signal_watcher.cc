#include "common/net/signal_watcher.h"

#include <csignal>

#include "common/net/event_loop.h"

namespace push::net {

void SignalWatcherCloser::operator()(SignalWatcher* watcher) const {
  watcher->close();
}

SignalWatcherPtr SignalWatcher::create(EventLoop& loop, std::function<void(int)> on_signal) {
  return SignalWatcherPtr(new SignalWatcher(loop, std::move(on_signal)));
}

SignalWatcher::SignalWatcher(EventLoop& loop, std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)) {
  for (uv_signal_t* s : {&sigint_, &sigterm_}) {
    uv_signal_init(loop.uvLoop(), s);
    s->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(s));
  }
  auto cb = [](uv_signal_t* h, int signum) {
    auto* self = static_cast<SignalWatcher*>(h->data);
    if (!self->closing_) self->on_signal_(signum);
  };
  uv_signal_start(&sigint_, cb, SIGINT);
  uv_signal_start(&sigterm_, cb, SIGTERM);
}

void SignalWatcher::close() {
  if (closing_) return;
  closing_ = true;
  for (uv_signal_t* s : {&sigint_, &sigterm_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), [](uv_handle_t* h) {
      auto* self = static_cast<SignalWatcher*>(h->data);
      if (--self->open_handles_ == 0) delete self;
    });
  }
}

}  // namespace push::net
