#include "services/room/ack_forwarder.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "proto/saver.pb.h"
#include "services/room/app_table.h"
#include "services/room/room_metrics.h"

namespace push::room {

struct AckForwarder::Call {
  rpc::Controller controller;
  saver::AckRequest request;
  saver::AckResponse response;
  std::vector<Item> items;  // queued again when the call fails
};

AckForwarder::AckForwarder(net::EventLoop& loop, saver::Saver_Stub& saver, const AppTable& apps,
                           Options options)
    : loop_(loop),
      saver_(saver),
      apps_(apps),
      options_(options),
      alive_(std::make_shared<bool>(true)) {
  timer_ = net::PeriodicTimer::create(loop_, [this] {
    backing_off_ = false;
    sendReady();
  });
}

AckForwarder::~AckForwarder() {
  *alive_ = false;
}

void AckForwarder::acked(uint16_t app, const std::string& user, uint64_t id) {
  ++stats_.accepted;
  queue_.push_back(Item{id, app, user});
  trim();
  if (flushing_ || (!backing_off_ && queue_.size() >= options_.batch_max)) {
    sendReady();
  } else {
    schedule();
  }
}

void AckForwarder::trim() {
  if (queue_.size() <= options_.backlog_max) return;
  const size_t over = queue_.size() - options_.backlog_max;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(over));
  stats_.dropped += over;
  roomMetrics().saver_acks_dropped.inc(over);
  LOG_EVERY_SEC(Warn, Room, 5, "saver: {} acks dropped (backlog over {}): sent again on load", over,
                options_.backlog_max);
}

void AckForwarder::schedule() {
  // The timer is the batch interval, or the backoff after a failure (which it must not cut).
  if (backing_off_ || timer_->active()) return;
  timer_->start(options_.batch_interval, false);
}

void AckForwarder::sendReady() {
  if (backing_off_) return;
  // After a failure one probe batch at a time; otherwise up to kMaxCalls.
  const size_t max_calls = backoff_.count() > 0 ? 1 : kMaxCalls;
  // A call may fail before Ack returns (no endpoint reachable): it starts the backoff.
  while (!queue_.empty() && calls_ < max_calls && !backing_off_)
    sendBatch();
  if (!queue_.empty() && !flushing_) schedule();
}

void AckForwarder::sendBatch() {
  auto call = std::make_unique<Call>();
  const size_t n = std::min<size_t>(queue_.size(), options_.batch_max);
  call->items.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  // One AckItem per (app, user): a batch holds acks of many connections.
  std::unordered_map<std::string, saver::AckItem*> by_user;
  std::string key;
  for (const Item& item : call->items) {
    key.assign(reinterpret_cast<const char*>(&item.app), sizeof item.app);
    key += item.user;
    saver::AckItem*& entry = by_user[key];
    if (!entry) {
      entry = call->request.add_items();
      entry->set_app(apps_.name(item.app));
      entry->set_user(item.user);
    }
    entry->add_message_ids(item.id);
  }
  call->controller.setTimeout(options_.timeout);
  ++calls_;
  ++stats_.calls;
  in_flight_ids_ += n;
  Call* raw = call.release();
  std::shared_ptr<bool> alive = alive_;
  saver_.Ack(&raw->controller, &raw->request, &raw->response, rpc::newCallback([this, raw, alive] {
    std::unique_ptr<Call> owned(raw);
    if (*alive) onDone(*owned);
  }));
}

void AckForwarder::onDone(Call& call) {
  --calls_;
  in_flight_ids_ -= call.items.size();
  if (call.controller.status().isOk()) {
    stats_.forwarded += call.items.size();
    stats_.removed += call.response.removed();
    roomMetrics().saver_acks_forwarded.inc(call.items.size());
    backoff_ = std::chrono::milliseconds(0);
    if (flushing_) return maybeFlushed();
    sendReady();
    return;
  }
  ++stats_.failed_calls;
  roomMetrics().saver_ack_calls_failed.inc();
  LOG_EVERY_SEC(Warn, Room, 5, "saver: Ack of {} ids failed: {} (retrying)", call.items.size(),
                call.controller.status().toString());
  if (flushing_) return maybeFlushed();  // stopping: no retry
  // Back at the head: they are the oldest, the first to go if the backlog overflows.
  queue_.insert(queue_.begin(), std::make_move_iterator(call.items.begin()),
                std::make_move_iterator(call.items.end()));
  trim();
  backoff_ =
      backoff_.count() == 0 ? options_.retry_min : std::min(backoff_ * 2, options_.retry_max);
  backing_off_ = true;
  timer_->start(backoff_, false);
}

void AckForwarder::flush(std::function<void()> done) {
  flushing_ = true;
  flushed_ = std::move(done);
  backing_off_ = false;
  timer_->stop();
  while (!queue_.empty()) {
    const size_t before = calls_;
    sendBatch();
    if (calls_ == before) break;  // the call completed at once (failed); nothing to wait for
  }
  maybeFlushed();
}

void AckForwarder::maybeFlushed() {
  if (!flushing_ || calls_ > 0 || !flushed_) return;
  // On a later turn: `done` may destroy this object.
  loop_.post([done = std::exchange(flushed_, nullptr)] { done(); });
}

AckForwarder::Stats AckForwarder::stats() const {
  Stats s = stats_;
  s.backlog = queue_.size();
  s.in_flight = in_flight_ids_;
  return s;
}

}  // namespace push::room
