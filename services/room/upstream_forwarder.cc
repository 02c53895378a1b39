#include "services/room/upstream_forwarder.h"

#include <algorithm>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "proto/coordinator.pb.h"
#include "services/room/client_conn.h"

namespace push::room {

namespace {

struct UpstreamMetrics {
  metrics::Counter& forwarded = metrics::Registry::global().counter(
      "push_room_upstream_forwarded_total", "Upstream frames sent to the coordinator.");
  metrics::Counter& refused = metrics::Registry::global().counter(
      "push_room_upstream_refused_total",
      "Upstream frames refused at once: the connection's or the room's pending cap was full.");
  metrics::Counter& failed = metrics::Registry::global().counter(
      "push_room_upstream_failed_total",
      "Upstream frames whose coordinator call failed (answered ERROR_UNAVAILABLE).");
  metrics::Counter& events_sent = metrics::Registry::global().counter(
      "push_room_session_events_sent_total", "Online/offline events the coordinator took.");
  metrics::Counter& events_dropped = metrics::Registry::global().counter(
      "push_room_session_events_dropped_total",
      "Online/offline events dropped: the backlog was full (coordinator down or slow).");
};

UpstreamMetrics& upstreamMetrics() {
  static UpstreamMetrics m;
  return m;
}

}  // namespace

bool validUpstreamType(std::string_view type) {
  if (type.size() > kMaxUpstreamTypeBytes) return false;
  for (char ch : type) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

struct UpstreamForwarder::Call {
  rpc::Controller controller;
  coord::UpstreamBatchRequest request;
  coord::UpstreamBatchResponse response;
  std::vector<Item> items;
};

struct UpstreamForwarder::EventsCall {
  rpc::Controller controller;
  coord::SessionEventsRequest request;
  coord::SessionEventsResponse response;
  std::vector<Event> events;  // put back when the call fails
};

UpstreamForwarder::UpstreamForwarder(net::EventLoop& loop, coord::Coordinator_Stub& stub,
                                     std::string room_id, Options options, Reply reply)
    : loop_(loop),
      stub_(stub),
      room_id_(std::move(room_id)),
      options_(options),
      reply_(std::move(reply)),
      alive_(std::make_shared<bool>(true)) {
  timer_ = net::PeriodicTimer::create(loop_, [this] { sendBatch(); });
  events_timer_ = net::PeriodicTimer::create(loop_, [this] {
    events_backing_off_ = false;
    sendEvents();
  });
}

UpstreamForwarder::~UpstreamForwarder() {
  *alive_ = false;
}

Status UpstreamForwarder::submit(net::ConnId conn, const ClientConn& c, const std::string& app,
                                 const client::Upstream& up) {
  uint32_t& mine = pending_per_conn_[conn];
  if (mine >= options_.max_pending_per_connection || pending_ >= options_.max_pending) {
    const bool per_conn = mine >= options_.max_pending_per_connection;
    if (mine == 0) pending_per_conn_.erase(conn);
    ++stats_.refused;
    upstreamMetrics().refused.inc();
    return unavailable(per_conn ? "too many upstream frames waiting on this connection"
                                : "too many upstream frames waiting on this room");
  }
  ++mine;
  ++pending_;
  ++stats_.submitted;
  queue_.push_back(Item{conn, up.seq(), app, c.user, c.device, up.type(), up.payload()});
  if (queue_.size() >= options_.batch_max) {
    // Not inside the caller's frame handling: answers may come back before it returns
    // otherwise (a call that fails at once). The timer runs it on this loop turn's end.
    timer_->stop();
    timer_->start(std::chrono::milliseconds(0), false);
  } else {
    schedule();
  }
  return Status::ok();
}

void UpstreamForwarder::schedule() {
  if (!timer_->active()) timer_->start(options_.batch_interval, false);
}

void UpstreamForwarder::sendBatch() {
  while (!queue_.empty()) {
    auto call = std::make_unique<Call>();
    const size_t n = std::min<size_t>(queue_.size(), options_.batch_max);
    call->items.assign(std::make_move_iterator(queue_.begin()),
                       std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    for (const Item& item : call->items) {
      coord::UpstreamItem* out = call->request.add_items();
      out->set_app(item.app);
      out->set_user(item.user);
      out->set_device(item.device);
      out->set_room(room_id_);
      out->set_conn_id(item.conn);
      out->set_seq(item.seq);
      out->set_type(item.type);
      out->set_payload(item.payload);
    }
    call->controller.setTimeout(options_.timeout);
    ++stats_.calls;
    upstreamMetrics().forwarded.inc(n);
    Call* raw = call.release();
    std::shared_ptr<bool> alive = alive_;
    stub_.Upstream(&raw->controller, &raw->request, &raw->response,
                   rpc::newCallback([this, raw, alive] {
                     std::unique_ptr<Call> owned(raw);
                     if (*alive) onDone(*owned);
                   }));
  }
}

void UpstreamForwarder::onDone(Call& call) {
  const Status& st = call.controller.status();
  const bool ok = st.isOk() && call.response.results_size() == static_cast<int>(call.items.size());
  if (!ok) {
    const std::string why =
        st.isOk() ? std::string("coordinator answered a malformed batch") : st.toString();
    LOG_EVERY_SEC(Warn, Room, 5, "coordinator: Upstream of {} frames failed: {}", call.items.size(),
                  why);
    stats_.failed += call.items.size();
    upstreamMetrics().failed.inc(call.items.size());
  }
  for (size_t i = 0; i < call.items.size(); ++i) {
    const Item& item = call.items[i];
    if (ok) {
      const coord::UpstreamResult& r = call.response.results(static_cast<int>(i));
      ++stats_.answered;
      answer(item, r.code(), r.message(), r.reply());
    } else {
      answer(item, client::ERROR_UNAVAILABLE,
             "coordinator unavailable: " + std::string(codeName(st.code())) + "; try again later",
             {});
    }
  }
}

void UpstreamForwarder::answer(const Item& item, client::ErrorCode code, const std::string& message,
                               const std::string& reply) {
  --pending_;
  auto it = pending_per_conn_.find(item.conn);
  if (it != pending_per_conn_.end() && --it->second == 0) pending_per_conn_.erase(it);
  client::Frame frame;
  client::UpstreamAck* ack = frame.mutable_upstream_ack();
  ack->set_seq(item.seq);
  ack->set_code(code);
  ack->set_message(message);
  ack->set_reply(reply);
  reply_(item.conn, frame);
}

void UpstreamForwarder::sessionEvent(const ClientConn& c, net::ConnId conn, const std::string& app,
                                     bool online) {
  events_.push_back(Event{app, c.user, c.device, conn, online, Clock::system().wallMillis()});
  if (events_.size() > options_.event_backlog_max) {
    events_.pop_front();
    ++stats_.events_dropped;
    upstreamMetrics().events_dropped.inc();
    LOG_EVERY_SEC(Warn, Room, 5, "coordinator: session events dropped (backlog over {})",
                  options_.event_backlog_max);
  }
  if (events_calls_ == 0 && !events_backing_off_ && !events_timer_->active()) {
    events_timer_->start(flushing_ ? std::chrono::milliseconds(0) : options_.batch_interval, false);
  }
}

void UpstreamForwarder::sendEvents() {
  if (flushing_) {
    // Everything at once, each call bounded by what is left of the flush's deadline.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        flush_deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    while (!events_.empty())
      sendEventsBatch(std::min(left, options_.timeout));
    return;
  }
  if (events_calls_ > 0 || events_backing_off_ || events_.empty()) return;
  sendEventsBatch(options_.timeout);
}

void UpstreamForwarder::sendEventsBatch(std::chrono::milliseconds timeout) {
  auto call = std::make_unique<EventsCall>();
  const size_t n = std::min<size_t>(events_.size(), options_.event_batch_max);
  call->events.assign(std::make_move_iterator(events_.begin()),
                      std::make_move_iterator(events_.begin() + static_cast<ptrdiff_t>(n)));
  events_.erase(events_.begin(), events_.begin() + static_cast<ptrdiff_t>(n));
  for (const Event& e : call->events) {
    coord::SessionEvent* out = call->request.add_events();
    out->set_app(e.app);
    out->set_user(e.user);
    out->set_device(e.device);
    out->set_room(room_id_);
    out->set_conn_id(e.conn);
    out->set_online(e.online);
    out->set_time_ms(e.time_ms);
  }
  call->controller.setTimeout(timeout);
  ++events_calls_;
  EventsCall* raw = call.release();
  std::shared_ptr<bool> alive = alive_;
  stub_.Events(&raw->controller, &raw->request, &raw->response,
               rpc::newCallback([this, raw, alive] {
                 std::unique_ptr<EventsCall> owned(raw);
                 if (*alive) onEventsDone(*owned);
               }));
}

void UpstreamForwarder::onEventsDone(EventsCall& call) {
  --events_calls_;
  if (call.controller.status().isOk()) {
    stats_.events_sent += call.events.size();
    upstreamMetrics().events_sent.inc(call.events.size());
    events_backoff_ = std::chrono::milliseconds(0);
    if (!events_.empty()) events_timer_->start(std::chrono::milliseconds(0), false);
    if (flushing_) maybeFlushed();
    return;
  }
  if (flushing_) {
    // Stopping: no retry, the room is about to exit.
    LOG_WARN(Room, "coordinator: {} session events lost at stop: {}", call.events.size(),
             call.controller.status().toString());
    stats_.events_dropped += call.events.size();
    upstreamMetrics().events_dropped.inc(call.events.size());
    return maybeFlushed();
  }
  LOG_EVERY_SEC(Warn, Room, 5, "coordinator: Events of {} failed: {} (retrying)",
                call.events.size(), call.controller.status().toString());
  // Back at the head, oldest first; the backlog cap still holds (the oldest go).
  events_.insert(events_.begin(), std::make_move_iterator(call.events.begin()),
                 std::make_move_iterator(call.events.end()));
  if (events_.size() > options_.event_backlog_max) {
    const size_t over = events_.size() - options_.event_backlog_max;
    events_.erase(events_.begin(), events_.begin() + static_cast<ptrdiff_t>(over));
    stats_.events_dropped += over;
    upstreamMetrics().events_dropped.inc(over);
  }
  events_backoff_ = events_backoff_.count() == 0
                        ? options_.retry_min
                        : std::min(events_backoff_ * 2, options_.retry_max);
  events_backing_off_ = true;
  events_timer_->start(events_backoff_, false);
}

void UpstreamForwarder::flushEvents(std::chrono::milliseconds deadline,
                                    std::function<void()> done) {
  if (flushing_) return;
  flushing_ = true;
  flushed_ = std::move(done);
  flush_deadline_ = std::chrono::steady_clock::now() + deadline;
  flush_timer_ = net::PeriodicTimer::create(loop_, [this] {
    if (!events_.empty() || events_calls_ > 0) {
      LOG_WARN(Room,
               "coordinator: session events not all sent by the stop's deadline ({} queued, "
               "{} call(s) in flight)",
               events_.size(), events_calls_);
    }
    // What is still queued is dropped; calls still in flight complete later, unwaited.
    stats_.events_dropped += events_.size();
    upstreamMetrics().events_dropped.inc(events_.size());
    events_.clear();
    flush_expired_ = true;
    maybeFlushed();
  });
  flush_timer_->start(std::max(deadline, std::chrono::milliseconds(1)), false);
  events_backing_off_ = false;
  events_timer_->stop();
  sendEvents();
  maybeFlushed();  // nothing to send: done now (posted)
}

void UpstreamForwarder::maybeFlushed() {
  if (!flushed_ || (!flush_expired_ && (events_calls_ > 0 || !events_.empty()))) return;
  flush_timer_.reset();
  // Posted: the owner may destroy this object in `done`.
  loop_.post(std::move(flushed_));
  flushed_ = nullptr;
}

UpstreamForwarder::Stats UpstreamForwarder::stats() const {
  Stats s = stats_;
  s.pending = pending_;
  s.events_backlog = events_.size();
  return s;
}

}  // namespace push::room
