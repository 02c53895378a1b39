#include "services/center/push_api.h"

#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/metrics.h"
#include "services/center/job_api.h"
#include "services/center/saver_client.h"

namespace push::center {

namespace {

struct PushMetrics {
  metrics::Registry& r = metrics::Registry::global();
  metrics::Counter& pushes = r.counter("push_center_pushes_total", "Push requests accepted.");
  metrics::Counter& batches =
      r.counter("push_center_push_batches_total", "POST /v1/push/batch requests accepted.");
  metrics::Counter& targets =
      r.counter("push_center_targets_total", "Push targets (users + devices).");
  metrics::Counter& delivered = r.counter("push_center_target_results_total",
                                          "Push target outcomes.", R"(status="delivered")");
  metrics::Counter& offline =
      r.counter("push_center_target_results_total", "Push target outcomes.", R"(status="offline")");
  metrics::Counter& errors =
      r.counter("push_center_target_results_total", "Push target outcomes.", R"(status="error")");
  metrics::Counter& stored =
      r.counter("push_center_target_results_total", "Push target outcomes.", R"(status="stored")");
  metrics::Counter& storage_failed =
      r.counter("push_center_storage_failed_total",
                "QoS 1 pushes answered 503 because saver did not store them (nothing delivered).");
};
PushMetrics& pushMetrics() {
  static PushMetrics* m = new PushMetrics();
  return *m;
}

}  // namespace

// One push of a call: its answer once done.
struct PushApi::Part {
  uint64_t message_id = 0;
  bool stored = false;  // saver has the message for every target's user
  std::string json;     // the push's answer object; set when done without an error
  std::string error;    // set when its storage or lookup failed (503 for a single push)
  uint32_t delivered = 0, offline = 0, stored_targets = 0;
};

// One request: a push (one part) or a batch.
struct PushApi::Call {
  http::HttpResponder responder;
  uint64_t id = 0;
  bool batch = false;
  std::vector<Part> parts;
  size_t left = 0;  // parts not done yet
};

PushApi::PushApi(const CenterOptions& options, IdGenerator& ids, SaverClient* saver,
                 Deliverer& deliverer, JobApi& jobs)
    : options_(options), ids_(ids), saver_(saver), deliverer_(deliverer), jobs_(jobs) {}

PushApi::~PushApi() {
  abandon("center is stopping");
  liveness_.kill();
}

void PushApi::handlePush(AppTable::App& app, http::HttpRequest& req, http::HttpResponder r,
                         const RefuseAuth& refuse_auth) {
  // With jobs enabled a push may name up to job_max_targets users: over
  // max_targets_per_request it becomes a job (JobApi).
  PushLimits limits = options_.push;
  if (jobs_.enabled()) limits.max_targets = std::max(limits.max_targets, options_.jobs.max_targets);
  Result<ParsedPush> parsed = parsePushRequest(req.body(), limits);
  if (!parsed.isOk()) return r.respondError(400, parsed.status().message());
  if (parsed->app != app.config.name) return refuse_auth(req, r);
  if (parsed->targets.size() > options_.push.max_targets) {
    return jobs_.submit(app.index, std::move(parsed).value(), std::move(r));
  }
  auto call = std::make_shared<Call>();
  call->responder = std::move(r);
  call->parts.resize(1);
  call->left = 1;
  call->id = next_call_id_++;
  calls_.emplace(call->id, call);
  ++app.pushes;
  start(call, 0, app, std::move(parsed).value());
}

void PushApi::handleBatch(AppTable::App& app, http::HttpRequest& req, http::HttpResponder r,
                          const RefuseAuth& refuse_auth, const TakeRate& take_rate) {
  Result<ParsedPushBatch> parsed = parsePushBatchRequest(req.body(), options_.push);
  if (!parsed.isOk()) return r.respondError(400, parsed.status().message());
  if (parsed->app != app.config.name) return refuse_auth(req, r);
  const size_t n = parsed->pushes.size();
  if (static_cast<double>(n) > app.bucket.burst()) {
    return r.respondError(400, std::to_string(n) + " pushes in one batch: the rate limit of app '" +
                                   app.config.name + "' allows at most " +
                                   std::to_string(static_cast<int64_t>(app.bucket.burst())) +
                                   " at once (its burst)");
  }
  if (n > 1 && !take_rate(app, n - 1, r)) return;  // one was taken before the body was read
  pushMetrics().batches.inc();
  auto call = std::make_shared<Call>();
  call->responder = std::move(r);
  call->batch = true;
  call->parts.resize(n);
  call->left = n;
  call->id = next_call_id_++;
  calls_.emplace(call->id, call);
  app.pushes += n;
  for (size_t i = 0; i < n; ++i) {
    start(call, i, app, std::move(parsed->pushes[i]));
  }
}

void PushApi::start(const std::shared_ptr<Call>& call, size_t index, const AppTable::App& app,
                    ParsedPush&& push) {
  Message m;
  m.set_id(ids_.next());
  m.set_app(push.app);
  m.set_payload(std::move(push.payload));
  m.set_qos(push.qos);
  m.set_created_ms(Clock::system().wallMillis());
  // No "ttl" in the request: the app's offline TTL (0 for static apps: saver's default).
  m.set_ttl_s(push.ttl_s ? push.ttl_s : app.config.offline_ttl_s);
  call->parts[index].message_id = m.id();
  ++pushes_;
  pushMetrics().pushes.inc();
  pushMetrics().targets.inc(push.targets.size());
  if (!saver_ || m.qos() == 0) return deliver(call, index, std::move(m), std::move(push.targets));
  // Store, then send: nothing is delivered (and success never claimed) unless saver has the
  // message for every target's user.
  std::vector<std::string> users;
  users.reserve(push.targets.size());
  std::unordered_set<std::string_view> seen;
  for (const auto& t : push.targets) {
    if (seen.insert(t.user).second) users.push_back(t.user);
  }
  auto pending_message = std::make_shared<Message>(std::move(m));
  saver_->store(*pending_message, std::move(users),
                [this, alive = liveness_.token(), call, index, pending_message,
                 targets = std::move(push.targets)](const Status& st) mutable {
                  if (!alive.alive() || call->responder.responded()) return;
                  if (!st.isOk()) {
                    pushMetrics().storage_failed.inc();
                    call->parts[index].error = "storage unavailable: " + st.toString() +
                                               "; the message was not delivered, retry later";
                    return partDone(call);
                  }
                  call->parts[index].stored = true;
                  deliver(call, index, std::move(*pending_message), std::move(targets));
                });
}

void PushApi::deliver(const std::shared_ptr<Call>& call, size_t index, Message message,
                      std::vector<ParsedPush::Target> targets) {
  deliverer_.deliver(std::move(message), std::move(targets),
                     [this, alive = liveness_.token(), call, index](const Status& st,
                                                                    Deliverer::Outcome&& outcome) {
                       if (!alive.alive() || call->responder.responded()) return;
                       Part& part = call->parts[index];
                       if (!st.isOk()) {
                         part.error = "session lookup failed: " + st.toString();
                         return partDone(call);
                       }
                       // The JSON is written straight from the outcome:
                       // {"messageId":"…","results":[{"user":…,
                       // "device":…,"status":…,"connections":n}],"delivered":n,"offline":n} and,
                       // when the message was stored, "stored":n (users not online are then
                       // "stored", not "offline").
                       const auto& targets = outcome.targets;
                       std::string& json = part.json;
                       json.reserve(64 + 64 * targets.size());
                       json += "{\"messageId\":\"";
                       json += std::to_string(part.message_id);
                       json += "\",\"results\":[";
                       for (size_t t = 0; t < targets.size(); ++t) {
                         const uint32_t connections = outcome.connections[t];
                         const char* status;
                         if (connections > 0) {
                           status = "delivered";
                           ++part.delivered;
                         } else if (outcome.failed[t]) {
                           status = "error";
                         } else if (part.stored) {
                           status = "stored";
                           ++part.stored_targets;
                         } else {
                           status = "offline";
                           ++part.offline;
                         }
                         if (t) json += ',';
                         json += "{\"user\":";
                         appendJsonString(&json, targets[t].user);
                         if (!targets[t].device.empty()) {
                           json += ",\"device\":";
                           appendJsonString(&json, targets[t].device);
                         }
                         json += ",\"status\":\"";
                         json += status;
                         json += '"';
                         if (connections) {
                           json += ",\"connections\":";
                           json += std::to_string(connections);
                         }
                         json += '}';
                       }
                       const size_t errors =
                           targets.size() - part.delivered - part.offline - part.stored_targets;
                       pushMetrics().delivered.inc(part.delivered);
                       pushMetrics().offline.inc(part.offline);
                       pushMetrics().stored.inc(part.stored_targets);
                       if (errors) pushMetrics().errors.inc(errors);
                       json += "],\"delivered\":";
                       json += std::to_string(part.delivered);
                       json += ",\"offline\":";
                       json += std::to_string(part.offline);
                       if (part.stored) {
                         json += ",\"stored\":";
                         json += std::to_string(part.stored_targets);
                       }
                       json += '}';
                       partDone(call);
                     });
}

void PushApi::partDone(const std::shared_ptr<Call>& call) {
  if (--call->left > 0) return;
  calls_.erase(call->id);
  respond(*call);
}

void PushApi::respond(Call& call) {
  if (!call.batch) {
    Part& part = call.parts[0];
    if (!part.error.empty()) return call.responder.respondError(503, part.error);
    return call.responder.respond(200, std::move(part.json), "application/json");
  }
  std::string json = "{\"results\":[";
  uint64_t delivered = 0, offline = 0, stored = 0, failed = 0;
  bool any_stored = false;
  for (size_t i = 0; i < call.parts.size(); ++i) {
    Part& part = call.parts[i];
    if (i) json += ',';
    if (part.error.empty()) {
      json += part.json;
    } else {
      ++failed;
      json += "{\"messageId\":\"" + std::to_string(part.message_id) + "\",\"error\":";
      appendJsonString(&json, part.error);
      json += '}';
    }
    delivered += part.delivered;
    offline += part.offline;
    stored += part.stored_targets;
    any_stored = any_stored || part.stored;
  }
  json +=
      "],\"delivered\":" + std::to_string(delivered) + ",\"offline\":" + std::to_string(offline);
  if (any_stored) json += ",\"stored\":" + std::to_string(stored);
  json += ",\"failed\":" + std::to_string(failed) + "}";
  call.responder.respond(200, std::move(json), "application/json");
}

void PushApi::abandon(std::string_view why) {
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [id, call] : calls) {
    if (!call->responder.responded()) call->responder.respondError(503, std::string(why));
  }
}

}  // namespace push::center
