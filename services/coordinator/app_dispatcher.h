#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/http/retrying_poster.h"
#include "common/net/periodic_timer.h"
#include "proto/coordinator.pb.h"
#include "services/coordinator/app_gate.h"
#include "services/coordinator/app_settings.h"

namespace push::metrics {
class Counter;
class Gauge;
class Histogram;
}  // namespace push::metrics

namespace push::coord {

// One app's traffic through the coordinator: its upstream items POSTed to its webhook (one
// request per item, behind the app's AppGate, retried by a RetryingPoster), and its session
// events queued and POSTed to its events URL in batches. CoordinatorService keeps one per app.
//
// Outcomes of an upstream item (UpstreamResult; README.md "Codes"):
//   2xx                       ERROR_NONE, the body as the reply (bounded by max_reply_bytes)
//   other 4xx                 ERROR_FORBIDDEN, "refused by the app: HTTP <n> ..." (not retried)
//   5xx, 429, refused, timeout after the retries, or a 3xx
//                             ERROR_UNAVAILABLE with what happened and the attempts
//   cap and queue full        ERROR_UNAVAILABLE "app busy", at once, nothing sent
//   no webhook for the type   ERROR_UNKNOWN_APP, at once
// Events: the app's queue holds at most Shared::event_queue_max; one more is dropped and
// counted. At most one events POST of an app is in flight; a batch whose POST failed after the
// retries is dropped and counted (events are notifications, not a log).
//
// Ownership: CoordinatorService owns it; everything in Shared outlives it. Destroying it
// answers every upstream item still waiting or in flight ERROR_UNAVAILABLE "coordinator
// stopping" (inside the destructor) and drops queued events. An app removed while it has work
// is retire()d first: what waits is answered ERROR_UNKNOWN_APP, what runs finishes. Two
// dispatchers of one name (a removed app re-added while the old one finishes) share its
// metrics series. Loop-thread only.
class AppDispatcher {
 public:
  // What every app shares: the loop, the HTTP client and the coordinator-wide limits.
  struct Shared {
    net::EventLoop& loop;
    http::CurlClient& curl;
    // Retries of one item: attempts, backoff, overall deadline. attempt_timeout is per app.
    http::RetryingPoster::Policy policy;
    size_t max_reply_bytes = 4096;
    size_t event_queue_max = 10'000;
    size_t event_batch_max = 500;
    std::chrono::milliseconds event_batch_interval{100};
    // Prefix of the X-Push-Request-Id header (the coordinator instance).
    std::string instance;
  };
  using Done = std::function<void(UpstreamResult)>;

  AppDispatcher(Shared& shared, AppSettings settings);
  ~AppDispatcher();
  AppDispatcher(const AppDispatcher&) = delete;
  AppDispatcher& operator=(const AppDispatcher&) = delete;

  // Forwards `item` (its app is this one). `done` runs exactly once: inside this call when the
  // item is refused at once (no webhook, busy), otherwise later on the loop thread.
  void upstream(const UpstreamItem& item, Done done);
  // Queues `event` when the app subscribes to it: true; false when it does not subscribe
  // (ignored) — `dropped` is set when it does but the queue is full.
  bool event(const SessionEvent& event, bool* dropped);

  // New settings for this app (same name): limits apply at once; requests in flight keep the
  // timeout they started with.
  void update(AppSettings settings);
  // The app was removed (its ZooKeeper record went): items waiting for the cap are answered
  // ERROR_UNKNOWN_APP "app '<name>' was removed" inside this call, events not yet sent are
  // dropped (counted), and requests already at the webhook finish normally (their answers
  // reach their callers). `idle` runs once, posted to the loop (never inside this call), when
  // nothing is in flight any more: the owner destroys the dispatcher then (or earlier: the
  // destructor answers what is left "coordinator stopping"). Once; upstream(), event() and
  // update() must not be called afterwards.
  void retire(std::function<void()> idle);
  bool retired() const { return retiring_; }
  const AppSettings& settings() const { return settings_; }

  size_t running() const { return gate_.running(); }
  size_t queued() const { return gate_.queued(); }
  size_t eventsWaiting() const { return events_.size(); }

 private:
  struct Metrics;

  void start(const UpstreamItem& item, const std::string& url, Done done);
  void onOutcome(http::RetryingPoster::Outcome outcome, const Done& done,
                 std::chrono::steady_clock::time_point started);
  http::RetryingPoster::Policy policyFor(const AppSettings& s) const;
  void scheduleEvents();
  void sendEvents();
  void collectRetired();
  // Retired: posts idle_ once nothing is in flight.
  void maybeIdle();

  Shared& shared_;
  AppSettings settings_;
  std::unique_ptr<Metrics> metrics_;
  AppGate gate_;
  std::unique_ptr<http::RetryingPoster> poster_;
  // Posters of older settings (another timeout) with requests still in flight.
  std::vector<std::unique_ptr<http::RetryingPoster>> retired_;
  std::deque<SessionEvent> events_;
  bool events_in_flight_ = false;
  net::PeriodicTimerPtr events_timer_;
  uint64_t next_request_ = 0;
  bool stopping_ = false;
  bool retiring_ = false;
  std::function<void()> idle_;  // retire()'s, until posted
  Liveness liveness_;
};

}  // namespace push::coord
