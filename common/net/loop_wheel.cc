#include "common/net/loop_wheel.h"

#include "common/net/event_loop.h"

namespace push::net {

void LoopWheelCloser::operator()(LoopWheel* wheel) const {
  wheel->close();
}

LoopWheelPtr LoopWheel::create(EventLoop& loop, int64_t tick_ms, size_t slots,
                               TimingWheel::ExpireFn on_expire) {
  loop.assertInLoopThread();
  return LoopWheelPtr(new LoopWheel(loop, tick_ms, slots, std::move(on_expire)));
}

LoopWheel::LoopWheel(EventLoop& loop, int64_t tick_ms, size_t slots,
                     TimingWheel::ExpireFn on_expire)
    : loop_(loop),
      wheel_(tick_ms, slots, loop.nowMs(), [this, fn = std::move(on_expire)](uint64_t key) {
        if (!closing_) fn(key);  // nothing fires after close()
      }) {
  uv_timer_init(loop.uvLoop(), &timer_);
  timer_.data = this;
}

int64_t LoopWheel::nowMs() const {
  return loop_.nowMs();
}

void LoopWheel::schedule(uint64_t key, int64_t deadline_ms) {
  if (closing_) return;
  if (!running_) {
    // The wheel is empty while idle: catch its clock up to now (fires nothing) so the new
    // entry is placed relative to the present.
    wheel_.advance(loop_.nowMs());
  }
  wheel_.schedule(key, deadline_ms);
  if (!running_) {
    running_ = true;
    const auto tick = static_cast<uint64_t>(wheel_.tickMs());
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<LoopWheel*>(t->data)->onTick(); }, tick, tick);
  }
}

void LoopWheel::onTick() {
  wheel_.advance(loop_.nowMs());
  if (!closing_ && wheel_.size() == 0) {
    running_ = false;
    uv_timer_stop(&timer_);
  }
}

void LoopWheel::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<LoopWheel*>(h->data); });
}

}  // namespace push::net
