#include "services/center/broadcast_api.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/queue/client/producer.h"
#include "common/queue/wire.h"
#include "proto/broadcast.pb.h"
#include "services/center/broadcast_request.h"
#include "services/center/saver_client.h"

namespace push::center {

namespace {

struct BroadcastMetrics {
  metrics::Registry& r = metrics::Registry::global();
  static constexpr std::string_view kRefused =
      "POST /v1/broadcast answered 4xx/5xx before publishing, by reason (401s are in "
      "push_center_auth_failures_total).";
  static constexpr std::string_view kFailed =
      "POST /v1/broadcast answered 503: saver (reason storage) or queued did not take the "
      "message, by reason.";
  metrics::Counter& accepted =
      r.counter("push_center_broadcasts_total", "Broadcasts published to queued (answered 200).",
                R"(result="accepted")");
  metrics::Counter& disabled =
      r.counter("push_center_broadcasts_refused_total", kRefused, R"(reason="disabled")");
  metrics::Counter& rate_limited =
      r.counter("push_center_broadcasts_refused_total", kRefused, R"(reason="rate_limited")");
  metrics::Counter& bad_request =
      r.counter("push_center_broadcasts_refused_total", kRefused, R"(reason="bad_request")");
  metrics::Counter& unavailable =
      r.counter("push_center_broadcasts_failed_total", kFailed, R"(reason="unavailable")");
  metrics::Counter& timeout =
      r.counter("push_center_broadcasts_failed_total", kFailed, R"(reason="timeout")");
  metrics::Counter& overloaded =
      r.counter("push_center_broadcasts_failed_total", kFailed, R"(reason="overloaded")");
  metrics::Counter& other =
      r.counter("push_center_broadcasts_failed_total", kFailed, R"(reason="other")");
  metrics::Counter& storage =
      r.counter("push_center_broadcasts_failed_total", kFailed, R"(reason="storage")");
};
BroadcastMetrics& broadcastMetrics() {
  static BroadcastMetrics* m = new BroadcastMetrics();
  return *m;
}

void countFailure(const Status& st) {
  BroadcastMetrics& m = broadcastMetrics();
  switch (st.code()) {
    case Code::UNAVAILABLE:
      return m.unavailable.inc();
    case Code::TIMEOUT:
      return m.timeout.inc();
    case Code::OVERLOADED:
      return m.overloaded.inc();
    default:
      return m.other.inc();
  }
}

}  // namespace

// One request waiting for queued's answer.
struct BroadcastApi::Call {
  http::HttpResponder responder;
  size_t app = 0;
  uint64_t message_id = 0;
  uint64_t sequence = 0;
  bool stored = false;  // in saver's log (StoreBroadcast succeeded)
};

uint64_t BroadcastApi::sequenceFor(size_t /*app*/, uint64_t id) {
  return id;
}

Result<std::unique_ptr<BroadcastApi>> BroadcastApi::create(net::EventLoop& loop,
                                                           const CenterOptions& options,
                                                           IdGenerator& ids, SaverClient* saver) {
  RETURN_IF_ERROR(options.validateBroadcast());
  std::unique_ptr<BroadcastApi> api(new BroadcastApi(loop, options, ids, saver));
  for (const auto& address : options.broadcast.queued) {
    auto producer = queue::Producer::create(loop, address, options.broadcast.producer);
    if (!producer.isOk()) return producer.status().withContext("queued " + address);
    api->producers_.push_back(std::move(producer).value());
  }
  (void)broadcastMetrics();
  return api;
}

BroadcastApi::BroadcastApi(net::EventLoop& loop, const CenterOptions& options, IdGenerator& ids,
                           SaverClient* saver)
    : loop_(loop), ids_(ids), saver_(saver), max_payload_bytes_(options.push.max_payload_bytes) {
  for (const auto& a : options.apps) {
    apps_.push_back(AppState{a.name, broadcastTopic(a.name),
                             TokenBucket(a.broadcast_rate_per_s, a.broadcast_burst), 0,
                             a.offline_ttl_s, true});
  }
}

void BroadcastApi::setApp(size_t index, const CenterOptions::App& a) {
  if (index == apps_.size()) {
    const std::string topic = broadcastTopic(a.name);
    const bool ok = queue::wire::isValidName(topic) && !queue::wire::isEphemeralName(topic);
    apps_.push_back(AppState{a.name, topic, TokenBucket(a.broadcast_rate_per_s, a.broadcast_burst),
                             0, a.offline_ttl_s, ok});
    return;
  }
  AppState& app = apps_.at(index);
  if (app.bucket.rate() != a.broadcast_rate_per_s || app.bucket.burst() != a.broadcast_burst) {
    app.bucket.reconfigure(a.broadcast_rate_per_s, a.broadcast_burst, loop_.nowMs());
  }
  app.offline_ttl_s = a.offline_ttl_s;
}

BroadcastApi::~BroadcastApi() {
  abandon("center is stopping");
  liveness_.kill();  // the producers' CANCELLED callbacks below do nothing
  producers_.clear();
}

void BroadcastApi::handle(size_t app_index, http::HttpRequest& req, http::HttpResponder r,
                          const RefuseAuth& refuse_auth) {
  BroadcastMetrics& m = broadcastMetrics();
  if (!enabled()) {
    m.disabled.inc();
    return r.respondError(501, "broadcast is not enabled on this center (no queued configured)");
  }
  AppState& app = apps_[app_index];
  if (!app.topic_ok) {
    m.bad_request.inc();
    return r.respondError(400, "app '" + app.name + "' cannot be broadcast to: topic '" +
                                   app.topic +
                                   "' is not a valid queued topic name (1..64 bytes of "
                                   "A-Z a-z 0-9 . _ -)");
  }
  const int64_t now = loop_.nowMs();
  if (!app.bucket.tryTake(now)) {
    m.rate_limited.inc();
    http::HttpResponse resp =
        http::HttpResponse::error(429, "broadcast rate limit of app '" + app.name + "' exceeded");
    resp.setHeader("Retry-After",
                   std::to_string(std::max<int64_t>(1, (app.bucket.waitMs(now) + 999) / 1000)));
    return r.respond(std::move(resp));
  }
  Result<ParsedBroadcast> parsed = parseBroadcastRequest(req.body(), max_payload_bytes_);
  if (!parsed.isOk()) {
    m.bad_request.inc();
    return r.respondError(400, parsed.status().message());
  }
  if (parsed->app != app.name) return refuse_auth(req, r);

  auto call = std::make_shared<Call>();
  call->responder = std::move(r);
  call->app = app_index;
  call->message_id = ids_.next();
  auto msg = std::make_shared<broadcast::BroadcastMessage>();
  msg->set_message_id(call->message_id);
  msg->set_app(app.name);
  msg->set_payload(std::move(parsed->payload));
  msg->set_qos(parsed->qos);
  const uint64_t created = static_cast<uint64_t>(Clock::system().wallMillis());
  msg->set_created_ms(created);
  const uint32_t ttl_s = parsed->ttl_s ? parsed->ttl_s : app.offline_ttl_s;
  if (ttl_s) msg->set_expires_ms(created + uint64_t{ttl_s} * 1000);
  msg->set_tag(std::move(parsed->tag));

  const uint64_t id = next_call_id_++;
  calls_.emplace(id, call);
  if (!saver_) {
    call->sequence = sequenceFor(app_index, call->message_id);
    msg->set_sequence(call->sequence);
    return publish(id, *msg);
  }
  if (msg->qos() == 0) {
    // Not stored, so not in the replay log: sequence 0 (a client's last broadcast
    // sequence, which it reports at auth for the replay, stays where it was).
    return publish(id, *msg);
  }
  // Store, then publish: the sequence is the one saver assigned in the app's log.
  saver_->storeBroadcast(*msg, [this, alive = liveness_.token(), id, msg](Result<uint64_t> seq) {
    if (!alive.alive()) return;
    auto it = calls_.find(id);
    if (it == calls_.end()) return;  // abandoned
    if (!seq.isOk()) {
      std::shared_ptr<Call> call = std::move(it->second);
      calls_.erase(it);
      broadcastMetrics().storage.inc();
      if (call->responder.responded()) return;
      return call->responder.respondError(503,
                                          "storage unavailable: " + seq.status().toString() +
                                              "; the broadcast was not published, retry later");
    }
    it->second->sequence = *seq;
    it->second->stored = true;
    msg->set_sequence(*seq);
    publish(id, *msg);
  });
}

void BroadcastApi::publish(uint64_t call_id, const broadcast::BroadcastMessage& msg) {
  // `done` may run inside publish() (overloaded): finish() copes, the call is in calls_.
  pickProducer().publish(apps_[calls_.at(call_id)->app].topic, msg.SerializeAsString(),
                         [this, alive = liveness_.token(), call_id](Status st) {
                           if (alive.alive()) finish(call_id, st);
                         });
}

queue::Producer& BroadcastApi::pickProducer() {
  const size_t n = producers_.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t k = (next_producer_ + i) % n;
    if (producers_[k]->connected()) {
      next_producer_ = k + 1;
      return *producers_[k];
    }
  }
  return *producers_[next_producer_++ % n];
}

void BroadcastApi::finish(uint64_t call_id, const Status& status) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;  // abandoned
  std::shared_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  if (call->responder.responded()) return;
  if (!status.isOk()) {
    countFailure(status);
    LOG_EVERY_SEC(Warn, Center, 1, "broadcast to queued failed: {}", status.toString());
    std::string why = "queued did not take the broadcast (" + status.toString() + "); retry later";
    if (call->stored) {
      why += " (it is in the app's replay log as sequence " + std::to_string(call->sequence) +
             ": clients that reconnect may get it)";
    }
    return call->responder.respondError(503, why);
  }
  ++apps_[call->app].accepted;
  broadcastMetrics().accepted.inc();
  call->responder.respond(200,
                          "{\"messageId\":\"" + std::to_string(call->message_id) +
                              "\",\"sequence\":\"" + std::to_string(call->sequence) + "\"}",
                          "application/json");
}

void BroadcastApi::abandon(std::string_view why) {
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [id, call] : calls)
    call->responder.respondError(503, why);
}

}  // namespace push::center
