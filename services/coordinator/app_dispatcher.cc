#include "services/coordinator/app_dispatcher.h"

#include <algorithm>
#include <utility>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "services/coordinator/webhook_body.h"

namespace push::coord {

namespace {

using Clock = std::chrono::steady_clock;

UpstreamResult result(client::ErrorCode code, std::string message) {
  UpstreamResult r;
  r.set_code(code);
  r.set_message(std::move(message));
  return r;
}

// A bit of what the app said, for the client's message: printable ASCII, at most 200 bytes.
std::string snippet(const std::string& body) {
  std::string out;
  for (char ch : body) {
    if (out.size() >= 200) break;
    out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  return out;
}

std::string attempts(uint32_t n) {
  return " after " + std::to_string(n) + (n == 1 ? " attempt" : " attempts");
}

}  // namespace

struct AppDispatcher::Metrics {
  explicit Metrics(const std::string& app) {
    metrics::Registry& r = metrics::Registry::global();
    const std::string a = "app=\"" + app + "\"";  // names are [A-Za-z0-9._-]: nothing to escape
    auto upstream = [&](const char* result) -> metrics::Counter& {
      return r.counter("push_coordinator_upstream_total",
                       "Upstream items by outcome: ok (2xx), refused (4xx), failed (5xx, "
                       "unreachable, timeout after retries), busy (app cap), unknown (no webhook).",
                       a + ",result=\"" + result + "\"");
    };
    ok = &upstream("ok");
    refused = &upstream("refused");
    failed = &upstream("failed");
    busy = &upstream("busy");
    unknown = &upstream("unknown");
    auto events = [&](const char* result) -> metrics::Counter& {
      return r.counter("push_coordinator_events_total",
                       "Session events by outcome: sent (the events URL answered 2xx), dropped "
                       "(queue full), failed (the POST failed after retries).",
                       a + ",result=\"" + result + "\"");
    };
    events_sent = &events("sent");
    events_dropped = &events("dropped");
    events_failed = &events("failed");
    in_flight = &r.gauge("push_coordinator_upstream_in_flight",
                         "Upstream webhook requests running now (the app's cap applies).", a);
    waiting = &r.gauge("push_coordinator_upstream_queued",
                       "Upstream items waiting for the app's concurrency cap.", a);
    latency = &r.histogram("push_coordinator_webhook_seconds",
                           "Upstream item time at the app's webhook, retries included.",
                           {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, a);
  }
  metrics::Counter* ok;
  metrics::Counter* refused;
  metrics::Counter* failed;
  metrics::Counter* busy;
  metrics::Counter* unknown;
  metrics::Counter* events_sent;
  metrics::Counter* events_dropped;
  metrics::Counter* events_failed;
  metrics::Gauge* in_flight;
  metrics::Gauge* waiting;
  metrics::Histogram* latency;
};

AppDispatcher::AppDispatcher(Shared& shared, AppSettings settings)
    : shared_(shared),
      settings_(std::move(settings)),
      metrics_(std::make_unique<Metrics>(settings_.name)),
      gate_(settings_.max_concurrency, settings_.max_queued),
      poster_(std::make_unique<http::RetryingPoster>(shared_.loop, shared_.curl,
                                                     policyFor(settings_))) {
  events_timer_ = net::PeriodicTimer::create(shared_.loop, [this] { sendEvents(); });
}

AppDispatcher::~AppDispatcher() {
  // Order matters: waiting items are answered first, so that the in-flight ones the posters
  // cancel below (their release() starts waiting items) find nothing left to start.
  stopping_ = true;
  gate_.cancelQueued();
  events_timer_.reset();
  poster_.reset();
  retired_.clear();
  if (!retiring_) {
    // A retired one is idle or answered above: the gauges may belong to a re-added namesake.
    metrics_->waiting->set(0);
    metrics_->in_flight->set(0);
  }
  liveness_.kill();
}

http::RetryingPoster::Policy AppDispatcher::policyFor(const AppSettings& s) const {
  http::RetryingPoster::Policy p = shared_.policy;
  p.attempt_timeout = s.timeout;
  return p;
}

void AppDispatcher::upstream(const UpstreamItem& item, Done done) {
  const std::string& url = settings_.urlFor(item.type());
  if (url.empty()) {
    metrics_->unknown->inc();
    return done(result(
        client::ERROR_UNKNOWN_APP,
        "app '" + settings_.name + "' has no webhook for upstream type '" + item.type() + "'"));
  }
  // The task may run later: it owns copies of what it needs.
  auto task = [this, item = item, url = url, done](bool run) mutable {
    if (!retiring_) metrics_->waiting->set(static_cast<int64_t>(gate_.queued()));
    if (!run && retiring_ && !stopping_) {
      metrics_->unknown->inc();
      return done(result(client::ERROR_UNKNOWN_APP, "app '" + settings_.name + "' was removed"));
    }
    if (!run || stopping_) {
      if (run) gate_.release();
      metrics_->failed->inc();
      return done(result(client::ERROR_UNAVAILABLE, "coordinator stopping; try again later"));
    }
    start(item, url, std::move(done));
  };
  if (!gate_.submit(std::move(task))) {
    metrics_->busy->inc();
    LOG_EVERY_SEC(Warn, Coordinator, 5, "app {}: busy ({} running, {} waiting): item refused",
                  settings_.name, gate_.running(), gate_.queued());
    return done(result(client::ERROR_UNAVAILABLE, "app busy; try again later"));
  }
  metrics_->waiting->set(static_cast<int64_t>(gate_.queued()));
}

void AppDispatcher::start(const UpstreamItem& item, const std::string& url, Done done) {
  const std::string request_id = shared_.instance + "-" + std::to_string(++next_request_);
  metrics_->in_flight->add(1);
  const Clock::time_point started = Clock::now();
  poster_->post(url, upstreamBody(item, request_id),
                {{"Content-Type", "application/json"},
                 {"X-Push-Request-Id", request_id},
                 {"X-Push-App", settings_.name}},
                [this, done = std::move(done), started](http::RetryingPoster::Outcome o) {
                  onOutcome(std::move(o), done, started);
                });
}

void AppDispatcher::onOutcome(http::RetryingPoster::Outcome o, const Done& done,
                              Clock::time_point started) {
  metrics_->in_flight->add(-1);
  metrics_->latency->observe(std::chrono::duration<double>(Clock::now() - started).count());
  UpstreamResult r;
  if (o.result.isOk()) {
    const http::CurlClient::Response& resp = *o.result;
    if (resp.status >= 200 && resp.status < 300) {
      if (resp.body.size() > shared_.max_reply_bytes) {
        metrics_->failed->inc();
        r = result(client::ERROR_UNAVAILABLE,
                   "app webhook reply of " + std::to_string(resp.body.size()) +
                       " bytes over the limit " + std::to_string(shared_.max_reply_bytes));
      } else {
        metrics_->ok->inc();
        r.set_code(client::ERROR_NONE);
        r.set_reply(resp.body);
      }
    } else if (resp.status >= 400 && resp.status < 500 && resp.status != 429) {
      metrics_->refused->inc();
      r = result(
          client::ERROR_FORBIDDEN,
          "refused by the app: HTTP " + std::to_string(resp.status) + " " + snippet(resp.body));
    } else {
      metrics_->failed->inc();
      r = result(client::ERROR_UNAVAILABLE,
                 "app webhook failed: HTTP " + std::to_string(resp.status) + attempts(o.attempts));
    }
  } else {
    metrics_->failed->inc();
    const Status& st = o.result.status();
    if (st.code() == Code::CANCELLED) {
      r = result(client::ERROR_UNAVAILABLE, "coordinator stopping; try again later");
    } else if (st.code() == Code::PROTOCOL_ERROR) {
      r = result(client::ERROR_UNAVAILABLE, "app webhook answer invalid or over " +
                                                std::to_string(shared_.max_reply_bytes) + " bytes");
    } else {
      r = result(client::ERROR_UNAVAILABLE,
                 "app webhook unreachable: " + st.toString() + attempts(o.attempts));
    }
    LOG_EVERY_SEC(Warn, Coordinator, 5, "app {}: webhook failed: {} ({} attempts)", settings_.name,
                  st.toString(), o.attempts);
  }
  gate_.release();  // may start a waiting item (inside this call)
  if (!retiring_) metrics_->waiting->set(static_cast<int64_t>(gate_.queued()));
  if (!retired_.empty()) collectRetired();
  done(std::move(r));
  maybeIdle();
}

void AppDispatcher::retire(std::function<void()> idle) {
  if (retiring_) return;
  retiring_ = true;
  idle_ = std::move(idle);
  events_timer_->stop();
  if (!events_.empty()) {
    metrics_->events_dropped->inc(events_.size());
    events_.clear();
  }
  gate_.cancelQueued();  // ERROR_UNKNOWN_APP (the task sees retiring_)
  metrics_->waiting->set(0);
  LOG_INFO(Coordinator, "app {} removed: {} webhook request(s) still finishing", settings_.name,
           gate_.running());
  maybeIdle();
}

void AppDispatcher::maybeIdle() {
  if (!retiring_ || stopping_ || !idle_ || gate_.running() > 0 || events_in_flight_) return;
  // Posted: the owner destroys this object in `idle`, which must not be inside its own calls.
  shared_.loop.post([alive = liveness_.token(), idle = std::move(idle_)] {
    if (alive.alive()) idle();
  });
  idle_ = nullptr;
}

void AppDispatcher::update(AppSettings settings) {
  const bool new_timeout = settings.timeout != settings_.timeout;
  settings_ = std::move(settings);
  if (new_timeout) {
    // Requests in flight finish on the old poster; new ones use the new timeout.
    retired_.push_back(std::move(poster_));
    poster_ =
        std::make_unique<http::RetryingPoster>(shared_.loop, shared_.curl, policyFor(settings_));
    collectRetired();
  }
  gate_.setLimits(settings_.max_concurrency, settings_.max_queued);
}

void AppDispatcher::collectRetired() {
  // Not inside a poster's own completion: a later turn destroys the idle ones.
  shared_.loop.post([this, alive = liveness_.token()] {
    if (!alive.alive()) return;
    std::erase_if(retired_, [](const auto& p) { return p->pending() == 0; });
  });
}

bool AppDispatcher::event(const SessionEvent& e, bool* dropped) {
  *dropped = false;
  if (!settings_.wantsEvent(e.online())) return false;
  if (events_.size() >= shared_.event_queue_max) {
    *dropped = true;
    metrics_->events_dropped->inc();
    LOG_EVERY_SEC(Warn, Coordinator, 5, "app {}: event queue full ({}): events dropped",
                  settings_.name, shared_.event_queue_max);
    return true;
  }
  events_.push_back(e);
  scheduleEvents();
  return true;
}

void AppDispatcher::scheduleEvents() {
  if (events_in_flight_ || events_.empty()) return;
  if (events_.size() >= shared_.event_batch_max) {
    events_timer_->stop();
    // Not inside event() (an RPC handler): the POST starts on the next turn at the latest.
    events_timer_->start(std::chrono::milliseconds(0), false);
    return;
  }
  if (!events_timer_->active()) events_timer_->start(shared_.event_batch_interval, false);
}

void AppDispatcher::sendEvents() {
  if (events_in_flight_ || events_.empty() || stopping_ || retiring_) return;
  if (settings_.events_url.empty()) {
    // The app stopped wanting events (update): what waited goes nowhere.
    metrics_->events_dropped->inc(events_.size());
    events_.clear();
    return;
  }
  const size_t n = std::min(events_.size(), shared_.event_batch_max);
  std::vector<SessionEvent> batch(std::make_move_iterator(events_.begin()),
                                  std::make_move_iterator(events_.begin() + ptrdiff_t(n)));
  events_.erase(events_.begin(), events_.begin() + ptrdiff_t(n));
  events_in_flight_ = true;
  const std::string request_id = shared_.instance + "-e" + std::to_string(++next_request_);
  poster_->post(settings_.events_url, eventsBody(batch),
                {{"Content-Type", "application/json"},
                 {"X-Push-Request-Id", request_id},
                 {"X-Push-App", settings_.name}},
                [this, n](http::RetryingPoster::Outcome o) {
                  events_in_flight_ = false;
                  const bool ok =
                      o.result.isOk() && o.result->status >= 200 && o.result->status < 300;
                  if (ok) {
                    metrics_->events_sent->inc(n);
                  } else {
                    metrics_->events_failed->inc(n);
                    LOG_EVERY_SEC(Warn, Coordinator, 5, "app {}: {} events not delivered: {}",
                                  settings_.name, n,
                                  o.result.isOk() ? "HTTP " + std::to_string(o.result->status)
                                                  : o.result.status().toString());
                  }
                  if (stopping_) return;
                  if (!retired_.empty()) collectRetired();
                  if (retiring_) return maybeIdle();
                  scheduleEvents();
                });
}

}  // namespace push::coord
