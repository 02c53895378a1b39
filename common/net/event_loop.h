#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/base/status.h"

struct uv_loop_s;
typedef struct uv_loop_s uv_loop_t;

namespace push::net {

class TcpConnection;
class EventLoop;

// How a thread that may outlive a loop posts to it (EventLoop::poster()): post() is the loop's
// post() while the loop is open and drops `fn` (without running it) once the loop has shut
// down, so holding one never dangles. Thread-safe.
class LoopPoster {
 public:
  explicit LoopPoster(EventLoop* loop) : loop_(loop) {}
  void post(std::function<void()> fn);

 private:
  friend class EventLoop;
  void detach();

  std::mutex mu_;
  EventLoop* loop_;  // guarded by mu_; null from the loop's shutdown() on
};

// One libuv loop: the thread that calls run() is its loop thread, and every handle on it may
// be touched only from that thread (docs/CONVENTIONS.md §6). Other threads hand work over with
// post().
//
// Besides the uv_loop_t it owns
// - a cross-thread queue (one uv_async_t; sends coalesce, so one wake-up runs every queued fn);
// - the per-loop read buffer every TcpConnection reads into (no per-connection read buffer);
// - the write-coalescing list: connections that have output queued this turn are flushed
//   together just before the loop next waits for I/O (a uv_prepare_t), one write each.
//
// Lifetime: objects with handles on the loop are closed first (their close()), then
// shutdown() runs the loop until their close callbacks are done and closes the uv loop.
class EventLoop {
 public:
  EventLoop();
  // Calls shutdown() if it was not called; logs (does not crash) if handles are left open.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until stop(). The calling thread becomes the loop thread.
  void run();
  // Runs until `done()` is true (checked after every loop turn) or `timeout` passes; returns
  // done(). For tests and tools that drive the loop from the thread that owns it. When done()
  // depends on something the loop does not watch (a raw socket, another process), pass
  // `poll` > 0 to also wake and check that often.
  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds poll = std::chrono::milliseconds(0));
  // Makes run() return after the current turn. Thread-safe.
  void stop();

  // Queues `fn` to run on the loop thread on a later turn. Thread-safe; never runs fn inline.
  // After shutdown() the function is dropped without running (a late worker thread must not
  // crash the process).
  void post(std::function<void()> fn);
  // Runs `fn` now when called on the loop thread, else post()s it.
  void runInLoop(std::function<void()> fn);
  // For a thread that may outlive this loop (a detached lookup thread): see LoopPoster.
  std::shared_ptr<LoopPoster> poster() { return poster_; }

  bool isInLoopThread() const;
  // Aborts (debug builds) when called off the loop thread.
  void assertInLoopThread() const;

  // Closes the loop's own handles, runs the loop until every close callback ran (at most
  // `grace`), then closes the uv loop. OK when nothing was left open (libuv's
  // MAKE_VALGRIND_HAPPY); INTERNAL naming the handle types still open otherwise, after
  // closing them. Call once, on the loop thread, after closing everything else on it.
  Status shutdown(std::chrono::milliseconds grace = std::chrono::seconds(2));

  uv_loop_t* uvLoop() { return loop_.get(); }
  // Loop time in milliseconds (libuv's cached time, updated once per turn).
  int64_t nowMs() const;

  // The shared read buffer. Valid only inside a read callback on this loop.
  char* readBuffer() { return read_buffer_.get(); }
  static constexpr size_t kReadBufferSize = 64 * 1024;

  // Runs `fn` on this loop thread just before the loop next waits for I/O, before the
  // connections' coalesced writes go out. Callers batch work of one loop turn with it (one
  // RPC for many requests). Loop-thread only; `fn` may call runBeforePoll() again (it runs
  // in the same pass).
  void runBeforePoll(std::function<void()> fn);

  // Write coalescing (used by TcpConnection): flush `conn` before the loop waits for I/O.
  // Returns a position for cancelFlush(); a connection is on the list at most once.
  uint32_t scheduleFlush(TcpConnection* conn);
  // Forgets a connection that is closing with a flush still scheduled. O(1).
  void cancelFlush(TcpConnection* conn, uint32_t position);

  // The EventLoop of a uv loop (its data pointer).
  static EventLoop* fromUv(uv_loop_t* loop);

  // Busy polling: for `window` after the last turn that read anything, the loop polls for
  // I/O without sleeping (epoll with timeout 0) instead of blocking in the kernel. A sleeping
  // vCPU takes tens to hundreds of microseconds to wake, which dominates a request/response
  // round trip on loopback; polling trades CPU for that latency (gRPC's completion queue does
  // the same). 0 (default) disables it: right for a room holding many idle clients, where
  // nothing comes back quickly. Loop-thread only.
  void setBusyPoll(std::chrono::microseconds window);
  // Called by TcpConnection for every read: marks the turn as busy for busy polling.
  void noteIo() { ++io_events_; }
  // True while the loop polls without sleeping (decided before each wait).
  bool busyPolling() const { return spinning_; }

  // Input gathering, the opposite trade of busy polling: after a turn that read anything (and
  // flushed what it wrote), the loop sleeps `gather` before it polls again, so what arrives
  // meanwhile is read in one turn and the thread wakes at most once per `gather` while input
  // keeps coming. A turn after idleness is not delayed (the first read wakes the loop as
  // before); what arrives during a gather waits up to `gather`, and so may timers, tasks
  // posted from other threads, and writes waiting for a full socket to drain.
  // For a room holding many idle clients: each wake-up costs a context switch (tens of µs on
  // a paravirtualised guest), so at one wake per Ping the switches, not the Pings, are the
  // cost. 0 (default) disables it; ignored while busy polling. Loop-thread only.
  void setInputGather(std::chrono::microseconds gather);
  // Gathering sleeps taken so far (for tests and metrics).
  uint64_t gatherSleeps() const { return gather_sleeps_; }

 private:
  struct Handles;
  void runPosted();
  void flushAll();
  void beforePoll();
  void decideSpin();  // starts or stops the busy-polling idle handle for this turn

  std::unique_ptr<uv_loop_t> loop_;
  std::unique_ptr<Handles> handles_;  // uv_async_t + uv_prepare_t, stable addresses
  std::unique_ptr<char[]> read_buffer_;
  std::thread::id loop_thread_;
  bool shut_down_ = false;

  std::shared_ptr<LoopPoster> poster_;  // detached by shutdown()
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_: shutdown() is past the last runPosted()

  std::vector<std::function<void()>> before_poll_;
  std::vector<TcpConnection*> flush_list_;
  std::vector<TcpConnection*> flushing_;  // swapped with flush_list_ while flushing
  // Busy polling (setBusyPoll): reads counted by noteIo(), the count seen at the last
  // turn, when it last changed (uv_hrtime ns), and whether the spin idle handle is started.
  uint64_t busy_poll_ns_ = 0;
  const std::function<bool()>* run_until_ = nullptr;  // the condition runUntil() waits for
  uint64_t io_events_ = 0;
  uint64_t io_seen_ = 0;
  uint64_t last_io_ns_ = 0;
  bool spinning_ = false;
  // Input gathering (setInputGather): the sleep, the read count at the last sleep, and sleeps.
  uint64_t gather_ns_ = 0;
  uint64_t gather_io_seen_ = 0;
  uint64_t gather_sleeps_ = 0;
};

}  // namespace push::net
