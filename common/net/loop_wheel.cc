#include "common/net/loop_wheel.h"

#include <algorithm>

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
  armBy(wheel_.schedule(key, deadline_ms));
}

void LoopWheel::armBy(int64_t tick) {
  if (running_ && armed_tick_ <= tick) return;
  running_ = true;
  armed_tick_ = tick;
  const int64_t delay = std::max<int64_t>(0, tick * wheel_.tickMs() - loop_.nowMs());
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<LoopWheel*>(t->data)->onTick(); },
      static_cast<uint64_t>(delay), 0);
}

void LoopWheel::onTick() {
  ++wakeups_;
  // The one-shot timer is spent; running_ stays set through the callbacks (an entry they
  // schedule must not advance the wheel again), and any of them arms the timer anew.
  armed_tick_ = kNotArmed;
  wheel_.advance(loop_.nowMs());
  if (closing_) return;
  if (wheel_.size() > 0) {
    armBy(wheel_.nextTick());
    return;
  }
  running_ = false;
  uv_timer_stop(&timer_);  // armed by a callback for an entry that has fired since, if any
}

void LoopWheel::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<LoopWheel*>(h->data); });
}

}  // namespace push::net
