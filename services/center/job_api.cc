#include "services/center/job_api.h"

#include <algorithm>
#include <utility>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/queue/client/producer.h"
#include "common/redis/redis_client.h"
#include "services/center/job_store.h"

namespace push::center {

namespace {

// One MPUB: nsqd's default --max-body-size is 5 MiB; 1 MiB keeps every daemon's default happy
// and a slow MPUB short.
constexpr size_t kMpubMaxBytes = 1u << 20;
constexpr size_t kMpubMaxChunks = 100;

struct JobMetrics {
  metrics::Registry& r = metrics::Registry::global();
  static constexpr std::string_view kRefused =
      "Job requests answered 4xx/501 before anything was stored, by reason (401s are in "
      "push_center_auth_failures_total).";
  static constexpr std::string_view kFailed =
      "Job requests answered 503: Redis or queued failed, by reason.";
  metrics::Counter& accepted =
      r.counter("push_center_jobs_total", "Jobs accepted (answered 202).", R"(result="accepted")");
  metrics::Counter& chunks =
      r.counter("push_center_job_chunks_published_total", "Job chunks published to queued.");
  metrics::Counter& disabled =
      r.counter("push_center_jobs_refused_total", kRefused, R"(reason="disabled")");
  metrics::Counter& rate_limited =
      r.counter("push_center_jobs_refused_total", kRefused, R"(reason="rate_limited")");
  metrics::Counter& bad_request =
      r.counter("push_center_jobs_refused_total", kRefused, R"(reason="bad_request")");
  metrics::Counter& too_many =
      r.counter("push_center_jobs_refused_total", kRefused, R"(reason="too_many_running")");
  metrics::Counter& redis =
      r.counter("push_center_jobs_failed_total", kFailed, R"(reason="redis")");
  metrics::Counter& queued =
      r.counter("push_center_jobs_failed_total", kFailed, R"(reason="queued")");
};
JobMetrics& jobMetrics() {
  static JobMetrics* m = new JobMetrics();
  return *m;
}

void setRetryAfterMs(http::HttpResponse& resp, int64_t wait_ms) {
  resp.setHeader("Retry-After", std::to_string(std::max<int64_t>(1, (wait_ms + 999) / 1000)));
}

bool isJobId(std::string_view id) {
  if (id.empty() || id.size() > 20) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

// One request waiting for Redis or queued.
struct JobApi::Call {
  uint64_t id = 0;
  http::HttpResponder responder;
  size_t app = 0;
  std::string job_id;
  uint64_t message_id = 0;
  uint32_t chunks = 0;
  uint64_t targets = 0;
  std::vector<std::vector<std::string>> batches;
  size_t outstanding = 0;  // MPUBs not answered
  Status publish_error;
};

Result<std::unique_ptr<JobApi>> JobApi::create(net::EventLoop& loop, const CenterOptions& options,
                                               IdGenerator& ids) {
  std::unique_ptr<JobApi> api(new JobApi(loop, options, ids));
  (void)jobMetrics();
  if (!options.jobsEnabled()) return api;
  ASSIGN_OR_RETURN(api->redis_,
                   redis::RedisClient::create(loop, options.jobs.redis, options.jobs.redis_client));
  JobStore::Options so;
  so.ttl = options.jobs.ttl;
  so.max_running_per_app = options.jobs.max_running_per_app;
  so.publish_deadline = options.jobs.publish_deadline;
  api->store_ = std::make_unique<JobStore>(*api->redis_, so);
  for (const auto& address : options.broadcast.queued) {
    auto producer = queue::Producer::create(loop, address, options.broadcast.producer);
    if (!producer.isOk()) return producer.status().withContext("queued " + address);
    api->producers_.push_back(std::move(producer).value());
  }
  return api;
}

JobApi::JobApi(net::EventLoop& loop, const CenterOptions& options, IdGenerator& ids)
    : loop_(loop),
      ids_(ids),
      options_(options.jobs),
      max_payload_bytes_(options.push.max_payload_bytes) {
  for (const auto& a : options.apps) {
    apps_.push_back(
        AppState{a.name, TokenBucket(options_.rate_per_s, options_.burst), 0, a.offline_ttl_s});
  }
}

void JobApi::setApp(size_t index, const CenterOptions::App& a) {
  if (index == apps_.size()) {
    apps_.push_back(
        AppState{a.name, TokenBucket(options_.rate_per_s, options_.burst), 0, a.offline_ttl_s});
    return;
  }
  apps_.at(index).offline_ttl_s = a.offline_ttl_s;
}

JobApi::~JobApi() {
  abandon("center is stopping");
  liveness_.kill();  // the CANCELLED callbacks of the producers and Redis do nothing
  producers_.clear();
  store_.reset();
  redis_.reset();
}

std::shared_ptr<JobApi::Call> JobApi::track(http::HttpResponder r) {
  auto call = std::make_shared<Call>();
  call->id = next_call_id_++;
  call->responder = std::move(r);
  calls_.emplace(call->id, call);
  return call;
}

void JobApi::untrack(uint64_t id) {
  calls_.erase(id);
}

void JobApi::abandon(std::string_view why) {
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [id, call] : calls)
    call->responder.respondError(503, why);
}

void JobApi::handleUpload(size_t app, http::HttpRequest& req, http::HttpResponder r,
                          const RefuseAuth& refuse_auth) {
  if (!enabled()) {
    jobMetrics().disabled.inc();
    return r.respondError(501, "jobs are not enabled on this center (needs redis and queued)");
  }
  if (auto type = req.header("Content-Type"); type && !type->starts_with("text/plain")) {
    jobMetrics().bad_request.inc();
    return r.respondError(415, "a job upload is Content-Type: text/plain");
  }
  JobLimits limits;
  limits.max_targets = options_.max_targets;
  limits.max_payload_bytes = max_payload_bytes_;
  Result<JobSpec> spec = parseJobUpload(req.body(), limits);
  if (!spec.isOk()) {
    jobMetrics().bad_request.inc();
    return r.respondError(400, spec.status().message());
  }
  if (spec->app != apps_[app].name) return refuse_auth(req, r);
  admit(app, std::move(spec).value(), std::move(r));
}

void JobApi::submit(size_t app, ParsedPush&& push, http::HttpResponder r) {
  if (!enabled()) {
    jobMetrics().disabled.inc();
    return r.respondError(501, "jobs are not enabled on this center (needs redis and queued)");
  }
  Result<JobSpec> spec = jobFromPush(std::move(push));
  if (!spec.isOk()) {
    jobMetrics().bad_request.inc();
    return r.respondError(400, spec.status().message());
  }
  admit(app, std::move(spec).value(), std::move(r));
}

void JobApi::admit(size_t app_index, JobSpec&& spec, http::HttpResponder r) {
  AppState& app = apps_[app_index];
  const int64_t now = loop_.nowMs();
  if (!app.bucket.tryTake(now)) {
    jobMetrics().rate_limited.inc();
    http::HttpResponse resp =
        http::HttpResponse::error(429, "job rate limit of app '" + app.name + "' exceeded");
    setRetryAfterMs(resp, app.bucket.waitMs(now));
    return r.respond(std::move(resp));
  }
  if (spec.ttl_s == 0) spec.ttl_s = app.offline_ttl_s;
  start(app_index, std::move(spec), std::move(r));
}

void JobApi::start(size_t app, JobSpec&& spec, http::HttpResponder r) {
  auto call = track(std::move(r));
  call->app = app;
  call->message_id = ids_.next();
  call->job_id = std::to_string(call->message_id);
  call->targets = spec.users.size();
  const int64_t created = Clock::system().wallMillis();
  std::vector<std::string> chunks = splitJob(
      spec, call->job_id, call->message_id, static_cast<uint64_t>(created), options_.chunk_targets);
  call->chunks = static_cast<uint32_t>(chunks.size());
  call->batches = mpubBatches(std::move(chunks), kMpubMaxBytes, kMpubMaxChunks);
  store_->create(call->job_id, apps_[app].name, call->chunks, call->targets, created,
                 [this, alive = liveness_.token(), call](Status st) {
                   if (!alive.alive() || call->responder.responded()) return;
                   if (st.code() == Code::RATE_LIMITED) {
                     untrack(call->id);
                     jobMetrics().too_many.inc();
                     http::HttpResponse resp = http::HttpResponse::error(429, st.message());
                     resp.setHeader("Retry-After", "1");
                     return call->responder.respond(std::move(resp));
                   }
                   if (!st.isOk()) {
                     untrack(call->id);
                     jobMetrics().redis.inc();
                     LOG_EVERY_SEC(Warn, Center, 1, "job store: {}", st.toString());
                     return call->responder.respondError(
                         503, "job store (redis) failed: " + st.toString() + "; retry later");
                   }
                   publish(call);
                 });
}

queue::Producer& JobApi::pickProducer() {
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

void JobApi::publish(const std::shared_ptr<Call>& call) {
  // All of a job's MPUBs go to one daemon, pipelined; queued answers them in order.
  queue::Producer& producer = pickProducer();
  auto batches = std::move(call->batches);
  call->outstanding = batches.size();
  for (auto& batch : batches) {
    if (!call->publish_error.isOk()) {  // an MPUB failed inside the call: stop here
      if (--call->outstanding == 0) published(call);
      continue;
    }
    const size_t n = batch.size();
    producer.multiPublish(kJobTopic, std::move(batch),
                          [this, alive = liveness_.token(), call, n](Status st) {
                            if (!alive.alive()) return;
                            if (st.isOk()) {
                              jobMetrics().chunks.inc(n);
                            } else if (call->publish_error.isOk()) {
                              call->publish_error = st;
                            }
                            if (--call->outstanding == 0) published(call);
                          });
  }
}

void JobApi::published(const std::shared_ptr<Call>& call) {
  const int64_t now = Clock::system().wallMillis();
  if (!call->publish_error.isOk()) {
    jobMetrics().queued.inc();
    LOG_EVERY_SEC(Warn, Center, 1, "job {}: publishing chunks failed: {}", call->job_id,
                  call->publish_error.toString());
    store_->markFailed(call->job_id, now, [this, alive = liveness_.token(), call](Status) {
      if (!alive.alive()) return;
      untrack(call->id);
      call->responder.respondError(503, "queued did not take the job's chunks (" +
                                            call->publish_error.toString() +
                                            "); the job is failed, nothing was delivered");
    });
    return;
  }
  store_->markPublished(call->job_id, now, [this, alive = liveness_.token(), call](Status st) {
    if (!alive.alive()) return;
    untrack(call->id);
    if (!st.isOk()) {
      jobMetrics().redis.inc();
      return call->responder.respondError(
          503, "job store (redis) failed: " + st.toString() + "; the job does not run");
    }
    ++apps_[call->app].accepted;
    jobMetrics().accepted.inc();
    call->responder.respond(202,
                            "{\"jobId\":\"" + call->job_id + "\",\"messageId\":\"" +
                                std::to_string(call->message_id) +
                                "\",\"chunks\":" + std::to_string(call->chunks) +
                                ",\"targets\":" + std::to_string(call->targets) + "}",
                            "application/json");
  });
}

void JobApi::handleGet(size_t app, http::HttpRequest& req, http::HttpResponder r) {
  if (!enabled()) {
    return r.respondError(501, "jobs are not enabled on this center (needs redis and queued)");
  }
  const std::string id(req.pathParam("id").value_or(""));
  if (!isJobId(id)) return r.respondError(404, "no such job");
  auto call = track(std::move(r));
  call->app = app;
  store_->get(id, [this, alive = liveness_.token(), call](Result<JobStore::Progress> p) {
    if (!alive.alive() || call->responder.responded()) return;
    untrack(call->id);
    // Another app's job is answered as unknown: nothing tells job ids of apps apart.
    if ((!p.isOk() && p.status().code() == Code::NOT_FOUND) ||
        (p.isOk() && p->app != apps_[call->app].name)) {
      return call->responder.respondError(404, "no such job");
    }
    if (!p.isOk()) {
      return call->responder.respondError(503,
                                          "job store (redis) failed: " + p.status().toString());
    }
    JsonWriter w(320);
    w.beginObject();
    w.key("jobId").string(p->job_id);
    w.key("app").string(p->app);
    w.key("state").string(p->state);
    w.key("chunks").uint64(p->chunks);
    w.key("chunksDone").uint64(p->chunks_done);
    w.key("targets").uint64(p->targets);
    w.key("delivered").uint64(p->delivered);
    w.key("offline").uint64(p->offline);
    w.key("failed").uint64(p->failed);
    w.key("stored").uint64(p->stored);
    w.key("connections").uint64(p->connections);
    w.key("createdMs").int64(p->created_ms);
    w.key("updatedMs").int64(p->updated_ms);
    w.endObject();
    call->responder.respond(200, w.take(), "application/json");
  });
}

}  // namespace push::center
