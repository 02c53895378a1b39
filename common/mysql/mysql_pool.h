#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/mysql/mysql_session.h"

namespace sql {
class Driver;
}  // namespace sql

namespace push::net {
class EventLoop;
}  // namespace push::net

namespace push::mysql {

// MySQL / MariaDB for code on a net::EventLoop. Connector/C++ blocks, so the pool runs
// `threads` worker threads, each with one connection (a MySqlSession); a job is a function
// that runs on a worker with that worker's session, and its Done runs back on the loop
// thread (posted with EventLoop::post, batched: one wake-up runs every completion ready).
//
// Threads: create(), run(), runOrdered(), queued(), healthy(), stats() and the destructor
// are for the loop thread (queued/healthy/stats are also safe from any thread). Jobs run on
// the workers; Done always runs on the loop thread.
//
// Ownership: the caller owns the pool (unique_ptr) and must destroy it on the loop thread
// before the loop shuts down. The pool owns its threads and connections; a job must not keep
// the session past its return.
//
// Failures (no exception ever leaves the pool; a job that throws completes INTERNAL):
// - connection lost or refused -> the job fails UNAVAILABLE (never retried by the pool: it
//   may have run); the worker reconnects with jittered exponential backoff (reconnect_min ..
//   reconnect_max, in the background and before its next job). While a worker has no
//   connection, jobs it takes fail UNAVAILABLE at once, so callers see an outage immediately.
//   A connection that died while idle is found by a ping (ping_after_idle) before the job.
// - SQL errors: see MySqlSession (FAILED_PRECONDITION / INVALID_ARGUMENT with the server's
//   code and message); the connection stays usable for the next job.
class MySqlPool {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 3306;
    std::string unix_socket;  // socket wins when set
    std::string user, password, database;
    uint32_t threads = 2;  // worker threads, one connection each; 1 .. 64
    // Connecting gives up after this (rounded up to whole seconds: libmysql's unit).
    std::chrono::milliseconds connect_timeout{3'000};
    // Backoff between connection attempts of one worker: starts at reconnect_min, doubles
    // per failure up to reconnect_max, +-25% jitter; back to reconnect_min once connected.
    std::chrono::milliseconds reconnect_min{200}, reconnect_max{5'000};
    uint32_t max_queued = 100'000;  // jobs waiting; above: OVERLOADED inside the call
    // A statement whose reply does not come within this fails UNAVAILABLE and the connection
    // is dropped (the server may still finish it). Whole seconds; 0 = no limit. Catches a
    // server that vanished without closing the socket.
    std::chrono::milliseconds io_timeout{60'000};
    // A connection idle for this long is pinged before its next job; when it died meanwhile
    // (server restarted, wait_timeout) the worker reconnects at once and runs the job on the
    // new one, instead of failing the job. 0 = ping before every job.
    std::chrono::milliseconds ping_after_idle{10'000};
    // Prepared statements kept per connection (MySqlSession's cache).
    uint32_t statement_cache = 256;
  };
  using Job = std::function<Status(MySqlSession&)>;  // runs on a worker thread
  using Done = std::function<void(Status)>;          // runs on the loop thread, exactly once

  // Starts the workers, which connect at once (in the background: create() does not wait
  // for, nor fail on, an unreachable server; healthy() tells). INVALID_ARGUMENT for bad
  // options (no user, threads out of range, reconnect_min > reconnect_max, ...).
  static Result<std::unique_ptr<MySqlPool>> create(net::EventLoop& loop, Options options);
  // Loop thread. Stops the workers: a job already running finishes first (this waits for
  // it), jobs not started complete CANCELLED, inside this call; so do the Done of jobs that
  // finished but whose completion had not run yet (with their real status). No Done of this
  // pool runs after the destructor returns, except those of a batch that was running when a
  // Done destroyed the pool.
  ~MySqlPool();
  MySqlPool(const MySqlPool&) = delete;
  MySqlPool& operator=(const MySqlPool&) = delete;

  // Queues `job` for any worker; jobs may run in any order relative to each other and at
  // the same time. `done` runs on the loop thread, never inside this call, except when more
  // than max_queued jobs wait: then it runs inside with OVERLOADED (the job never runs).
  void run(Job job, Done done);
  // Like run(), on one dedicated worker (the first): jobs submitted with runOrdered run one
  // at a time, in submission order, and complete in that order (the saver's write-behind
  // relies on it). That worker takes run() jobs too when no ordered job waits.
  void runOrdered(Job job, Done done);

  size_t queued() const;  // jobs waiting (both kinds), not counting those running
  // The last connect or statement on any worker succeeded (false before the first connect).
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  struct Stats {
    uint64_t jobs_ok = 0, jobs_failed = 0;  // completed (CANCELLED / OVERLOADED are failed)
    uint64_t reconnects = 0;  // connections made after one was lost or an attempt failed
  };
  Stats stats() const;

 private:
  struct Item {
    Job job;
    Done done;
  };
  struct Worker;
  struct Completions;

  MySqlPool(net::EventLoop& loop, Options options, sql::Driver* driver);
  void submit(Item item, bool ordered);
  void workerMain(Worker& worker);
  void connect(Worker& worker);
  void scheduleReconnect(Worker& worker);
  // Drops a lost connection; the next attempt after reconnect_min (+-25%).
  void loseSession(Worker& worker, const Status& why);
  Status runJob(Worker& worker, const Job& job);
  // Hands a finished job's Done to the loop thread.
  void complete(Done done, Status status);

  net::EventLoop& loop_;
  const Options options_;
  sql::Driver* driver_;  // process-wide singleton of Connector/C++
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> shared_;   // guarded by mu_: run() jobs
  std::deque<Item> ordered_;  // guarded by mu_: runOrdered() jobs, worker 0 only
  bool stopping_ = false;     // guarded by mu_

  std::shared_ptr<Completions> completions_;  // shared with posted drains
  std::atomic<bool> healthy_{false};
  std::atomic<uint64_t> jobs_ok_{0}, jobs_failed_{0}, reconnects_{0};
};

}  // namespace push::mysql
