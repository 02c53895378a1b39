#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/id_generator.h"
#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_request.h"
#include "common/http/http_responder.h"
#include "services/center/center_options.h"
#include "services/center/job_request.h"
#include "services/center/rate_limiter.h"

namespace push::net {
class EventLoop;
}
namespace push::queue {
class Producer;
}
namespace push::redis {
class RedisClient;
}

namespace push::center {

class JobStore;

// Large multicast jobs, the accepting side (docs/DESIGN §2 "Large multicast"; the README's
// center API):
//   POST /v1/push with more targets than max_targets_per_request (users only; CenterServer
//        hands it over through submit()), or
//   POST /v1/push/job with the text/plain body of parseJobUpload (job_request.h)
//     -> disabled (no redis or no queued)           501
//     -> the app's job token bucket is empty         429 with Retry-After
//     -> bad body                                    400 naming the rule (413 over
//                                                    job_max_body_bytes, from the HTTP server)
//     -> the body's app is not the key's             CenterServer's uniform 401
//     -> job id = message id (one for the whole job), chunks (splitJob), JobStore::create
//        (state publishing)                         429 over job_max_running_per_app, 503
//                                                    when Redis fails
//     -> every chunk published to queued topic center.tasks as MPUBs (at most 1 MiB and 100
//        chunks each, all to one daemon: round robin over `queued`, a connected one first)
//     -> all OK: JobStore::markPublished (running)   202 {"jobId","messageId","chunks",
//                                                    "targets"}
//        any MPUB failed: markFailed                 503; chunks already published are
//                                                    dropped by the workers (state failed),
//                                                    so nothing of the job is delivered
//   GET /v1/jobs/{id}                               200 progress (JobStore::Progress as JSON),
//                                                    404 for an unknown id or another app's job
//
// Metrics: push_center_jobs_total{result="accepted"}, push_center_jobs_refused_total{reason=
// disabled|rate_limited|bad_request|too_many_running}, push_center_jobs_failed_total{reason=
// redis|queued}.
//
// Loop-thread only. Destroying it answers requests still waiting 503.
class JobApi {
 public:
  using RefuseAuth = std::function<void(const http::HttpRequest&, http::HttpResponder&)>;

  // `ids` must outlive this object. Disabled (every call answers 501) unless
  // options.jobsEnabled().
  static Result<std::unique_ptr<JobApi>> create(net::EventLoop& loop, const CenterOptions& options,
                                                IdGenerator& ids);
  ~JobApi();

  bool enabled() const { return store_ != nullptr; }
  // The store the workers record progress in; null when disabled.
  JobStore* store() { return store_.get(); }

  // `app` is the index (in options.apps) of the request's API key.
  void handleUpload(size_t app, http::HttpRequest& req, http::HttpResponder r,
                    const RefuseAuth& refuse_auth);
  // A /v1/push body already parsed (key and app checked by CenterServer) with more targets
  // than one request holds.
  void submit(size_t app, ParsedPush&& push, http::HttpResponder r);
  void handleGet(size_t app, http::HttpRequest& req, http::HttpResponder r);
  // An app from ZooKeeper at `index` (AppTable): a new one (index == apps known so far,
  // appended, with a fresh job bucket) or an edited one (its offline TTL replaced; the job
  // bucket is center-wide config, kept). Indexes are never reused for another app.
  void setApp(size_t index, const CenterOptions::App& app);
  size_t apps() const { return apps_.size(); }

  // Requests waiting for Redis or queued.
  size_t pending() const { return calls_.size(); }
  // Answers every waiting request 503 `why` now.
  void abandon(std::string_view why);
  uint64_t accepted(size_t app) const { return apps_[app].accepted; }

 private:
  struct AppState {
    std::string name;
    TokenBucket bucket;
    uint64_t accepted = 0;
    // The job message's TTL when the request gives none (CenterOptions::App::offline_ttl_s).
    uint32_t offline_ttl_s = 0;
  };
  struct Call;
  JobApi(net::EventLoop& loop, const CenterOptions& options, IdGenerator& ids);
  // Rate limit, then start(); answers itself.
  void admit(size_t app, JobSpec&& spec, http::HttpResponder r);
  void start(size_t app, JobSpec&& spec, http::HttpResponder r);
  void publish(const std::shared_ptr<Call>& call);
  void published(const std::shared_ptr<Call>& call);
  std::shared_ptr<Call> track(http::HttpResponder r);
  void untrack(uint64_t id);
  queue::Producer& pickProducer();

  net::EventLoop& loop_;
  IdGenerator& ids_;
  const CenterOptions::Jobs options_;
  const uint32_t max_payload_bytes_;
  std::vector<AppState> apps_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<JobStore> store_;
  std::vector<std::unique_ptr<queue::Producer>> producers_;
  size_t next_producer_ = 0;
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;
  uint64_t next_call_id_ = 1;
  Liveness liveness_;
};

}  // namespace push::center
