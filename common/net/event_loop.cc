#include "common/net/event_loop.h"

#include <sched.h>

#include <uv.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <string>

#include "common/base/log.h"
#include "common/net/tcp_connection.h"

namespace push::net {

struct EventLoop::Handles {
  uv_async_t async;
  uv_prepare_t prepare;
  uv_timer_t wake;  // bounds runUntil()
  uv_idle_t spin;   // started while busy polling: libuv then polls with timeout 0
};

EventLoop::EventLoop()
    : loop_(std::make_unique<uv_loop_t>()),
      handles_(std::make_unique<Handles>()),
      read_buffer_(new char[kReadBufferSize]),
      loop_thread_(std::this_thread::get_id()),
      poster_(std::make_shared<LoopPoster>(this)) {
  int rc = uv_loop_init(loop_.get());
  if (rc != 0) {
    // Out of fds or memory at startup: nothing sensible can run.
    LOG_ERROR(Net, "uv_loop_init failed: {}", uv_strerror(rc));
    std::abort();
  }
  loop_->data = this;
  uv_async_init(loop_.get(), &handles_->async,
                [](uv_async_t* h) { static_cast<EventLoop*>(h->data)->runPosted(); });
  handles_->async.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->async));
  uv_prepare_init(loop_.get(), &handles_->prepare);
  handles_->prepare.data = this;
  uv_prepare_start(&handles_->prepare,
                   [](uv_prepare_t* h) { static_cast<EventLoop*>(h->data)->beforePoll(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->prepare));
  uv_timer_init(loop_.get(), &handles_->wake);
  handles_->wake.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->wake));
  uv_idle_init(loop_.get(), &handles_->spin);
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->spin));  // never keeps the loop alive
}

EventLoop::~EventLoop() {
  if (!shut_down_) {
    Status st = shutdown();
    if (!st.isOk()) LOG_ERROR(Net, "event loop destroyed with open handles: {}", st.toString());
  }
}

void LoopPoster::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (loop_ != nullptr) loop_->post(std::move(fn));
}

void LoopPoster::detach() {
  std::lock_guard lock(mu_);
  loop_ = nullptr;
}

EventLoop* EventLoop::fromUv(uv_loop_t* loop) {
  return static_cast<EventLoop*>(loop->data);
}

int64_t EventLoop::nowMs() const {
  return static_cast<int64_t>(uv_now(loop_.get()));
}

bool EventLoop::isInLoopThread() const {
  return std::this_thread::get_id() == loop_thread_;
}

void EventLoop::assertInLoopThread() const {
  assert(isInLoopThread() && "EventLoop method called off its loop thread");
}

void EventLoop::run() {
  loop_thread_ = std::this_thread::get_id();
  // The async handle is unref'd so an idle loop can end; while run() is meant to keep going,
  // hold a reference.
  uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->async));
  uv_run(loop_.get(), UV_RUN_DEFAULT);
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->async));
}

bool EventLoop::runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll) {
  loop_thread_ = std::this_thread::get_id();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The loop's cached time is from its last turn, which may be long ago (a test that blocked
  // between runs): a timer started against it would fire early.
  uv_update_time(loop_.get());
  auto* wake = &handles_->wake;
  uv_ref(reinterpret_cast<uv_handle_t*>(wake));
  const std::function<bool()>* outer = run_until_;
  run_until_ = &done;
  for (;;) {
    if (done()) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    // The wake timer bounds every turn: it fires at the deadline, or every `poll` when asked.
    // It is one-shot and re-armed here, so a turn never sleeps past the deadline even when
    // libuv's clock and steady_clock disagree a little.
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(wake))) {
      int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
      if (poll.count() > 0) ms = std::min<int64_t>(ms, poll.count());
      // From the present, not the loop's cached time: that is from the end of the last turn,
      // and done() may have run long since. A timer started against it fires as the next turn
      // begins, before libuv computes the poll timeout, which is then "no timeout" while
      // another handle keeps the loop alive: the turn would sleep until some I/O arrived
      // instead of returning after `poll` (or at the deadline).
      uv_update_time(loop_.get());
      uv_timer_start(
          wake, [](uv_timer_t*) {}, static_cast<uint64_t>(ms), 0);
    }
    uv_run(loop_.get(), UV_RUN_ONCE);
  }
  run_until_ = outer;
  uv_timer_stop(wake);
  uv_unref(reinterpret_cast<uv_handle_t*>(wake));
  return done();
}

void EventLoop::stop() {
  post([this] { uv_stop(loop_.get()); });
}

void EventLoop::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  // Once the loop is closed its wake-up descriptor is gone: uv_async_send() would abort.
  // Sending under the lock orders every send before shutdown() sets closed_.
  if (closed_) return;
  if (fn) posted_.push_back(std::move(fn));
  uv_async_send(&handles_->async);
}

void EventLoop::runInLoop(std::function<void()> fn) {
  if (isInLoopThread()) {
    fn();
  } else {
    post(std::move(fn));
  }
}

void EventLoop::runPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch)
    fn();
}

uint32_t EventLoop::scheduleFlush(TcpConnection* conn) {
  flush_list_.push_back(conn);
  return static_cast<uint32_t>(flush_list_.size() - 1);
}

void EventLoop::cancelFlush(TcpConnection* conn, uint32_t position) {
  // The connection is either still waiting on flush_list_ or, when flushAll() is running, on
  // flushing_ (not yet reached); never on both, since it is scheduled at most once.
  if (position < flush_list_.size() && flush_list_[position] == conn) {
    flush_list_[position] = nullptr;
  } else if (position < flushing_.size() && flushing_[position] == conn) {
    flushing_[position] = nullptr;
  }
}

void EventLoop::runBeforePoll(std::function<void()> fn) {
  assertInLoopThread();
  before_poll_.push_back(std::move(fn));
}

void EventLoop::setBusyPoll(std::chrono::microseconds window) {
  assertInLoopThread();
  busy_poll_ns_ = window.count() > 0 ? static_cast<uint64_t>(window.count()) * 1000 : 0;
}

void EventLoop::setInputGather(std::chrono::microseconds gather) {
  assertInLoopThread();
  gather_ns_ = gather.count() > 0 ? static_cast<uint64_t>(gather.count()) * 1000 : 0;
  gather_io_seen_ = io_events_;
}

void EventLoop::beforePoll() {
  flushAll();
  // What the flush did (input re-offered to a handler, a write completed) may have made
  // runUntil()'s condition true: then this turn must not sleep in poll until some timer or
  // I/O happens to wake it (uv_stop makes libuv's poll timeout 0; uv_run then returns).
  const bool stopping = run_until_ && (*run_until_)();
  if (stopping) uv_stop(loop_.get());
  decideSpin();
  if (gather_ns_ > 0 && io_events_ != gather_io_seen_) {
    gather_io_seen_ = io_events_;
    if (!spinning_ && !stopping) {
      // Output is flushed above (what the socket could take: writes waiting for it to drain,
      // and their callbacks, wait with posted tasks and signals); input gathers in the kernel.
      // libuv computes the poll timeout after this callback from its cached time: update it, so a
      // timer due during the sleep makes the poll return at once.
      std::this_thread::sleep_for(std::chrono::nanoseconds(gather_ns_));
      ++gather_sleeps_;
      uv_update_time(loop_.get());
    }
  }
}

void EventLoop::decideSpin() {
  // libuv computes the poll timeout right after the prepare handles run, as 0 when an idle
  // handle is active: starting or stopping `spin` here decides this turn's wait.
  bool spin = false;
  if (busy_poll_ns_ > 0) {
    const uint64_t now = uv_hrtime();
    if (io_events_ != io_seen_) {
      io_seen_ = io_events_;
      last_io_ns_ = now;
    }
    spin = now - last_io_ns_ < busy_poll_ns_;
  }
  if (spin == spinning_) return;
  spinning_ = spin;
  if (spin) {
    // Yield between empty polls: free when nothing else wants the core; when something does
    // (the peer process on a small machine), it runs instead of waiting out our time slice.
    uv_idle_start(&handles_->spin, [](uv_idle_t*) { sched_yield(); });
  } else {
    uv_idle_stop(&handles_->spin);
  }
}

void EventLoop::flushAll() {
  // Batched work first (it usually queues output), then the coalesced writes. Either may
  // queue more of the other (a flush re-offering kept input to a handler); loop until both are
  // empty so nothing waits for the next I/O event.
  while (!before_poll_.empty() || !flush_list_.empty()) {
    while (!before_poll_.empty()) {
      std::vector<std::function<void()>> batch;
      batch.swap(before_poll_);
      for (auto& fn : batch)
        fn();
    }
    while (!flush_list_.empty()) {
      flushing_.swap(flush_list_);
      for (size_t i = 0; i < flushing_.size(); ++i) {
        if (TcpConnection* conn = flushing_[i]) conn->flushNow();
      }
      flushing_.clear();
    }
  }
}

Status EventLoop::shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return Status::ok();
  shut_down_ = true;
  loop_thread_ = std::this_thread::get_id();
  runPosted();  // work queued before shutdown still runs (it may close things)
  auto* h = handles_.get();
  uv_close(reinterpret_cast<uv_handle_t*>(&h->async), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->prepare), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->spin), nullptr);
  flushAll();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (uv_loop_alive(loop_.get()) && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    runPosted();  // close callbacks may post (deferred deletes); the async handle is gone
    if (uv_loop_alive(loop_.get())) uv_sleep(1);
  }
  {
    std::lock_guard lock(mu_);
    closed_ = true;  // later posts are dropped; this last pass runs everything before them
  }
  poster_->detach();  // from here on a thread holding it never reaches this object
  runPosted();
  std::string leftover;
  uv_walk(
      loop_.get(),
      [](uv_handle_t* handle, void* arg) {
        if (uv_is_closing(handle)) return;
        auto* names = static_cast<std::string*>(arg);
        if (!names->empty()) *names += ", ";
        *names += uv_handle_type_name(uv_handle_get_type(handle));
        uv_close(handle, nullptr);  // leaks the owner, but lets the loop close
      },
      &leftover);
  uv_run(loop_.get(), UV_RUN_NOWAIT);
  int rc = uv_loop_close(loop_.get());
  if (rc == UV_EBUSY) {
    // A request still runs on libuv's thread pool (a uv_queue_work or file request that
    // uv_cancel could not stop): its worker will touch this uv_loop_t when it finishes, so
    // the loop must outlive us. Leak it (and its fds) rather than free memory in use. (Name
    // lookups do not come here: HostResolver runs them on threads of its own.)
    (void)loop_.release();
  }
  if (!leftover.empty()) return internalError("handles left open at shutdown: " + leftover);
  if (rc != 0) return internalError(std::string("uv_loop_close: ") + uv_strerror(rc));
  return Status::ok();
}

}  // namespace push::net
