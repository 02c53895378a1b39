#include "common/net/periodic_timer.h"

#include "common/net/event_loop.h"

namespace push::net {

void PeriodicTimerCloser::operator()(PeriodicTimer* timer) const {
  timer->close();
}

PeriodicTimerPtr PeriodicTimer::create(EventLoop& loop, std::function<void()> fn, bool keep_alive) {
  loop.assertInLoopThread();
  return PeriodicTimerPtr(new PeriodicTimer(loop, std::move(fn), keep_alive));
}

PeriodicTimer::PeriodicTimer(EventLoop& loop, std::function<void()> fn, bool keep_alive)
    : fn_(std::move(fn)) {
  uv_timer_init(loop.uvLoop(), &timer_);
  timer_.data = this;
  if (!keep_alive) uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

void PeriodicTimer::start(std::chrono::milliseconds interval, bool repeat) {
  if (closing_) return;
  const auto ms = static_cast<uint64_t>(interval.count() > 0 ? interval.count() : 1);
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<PeriodicTimer*>(t->data);
        if (!self->closing_) self->fn_();
      },
      ms, repeat ? ms : 0);
}

void PeriodicTimer::stop() {
  uv_timer_stop(&timer_);
}

bool PeriodicTimer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&timer_)) != 0;
}

void PeriodicTimer::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<PeriodicTimer*>(h->data); });
}

}  // namespace push::net
