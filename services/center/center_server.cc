#include "services/center/center_server.h"
#include "proto/config.pb.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/base/clock.h"
#include "common/base/json_reader.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/admin.h"
#include "common/http/json.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/controller.h"
#include "proto/center.pb.h"
#include "proto/coordinator.pb.h"
#include "proto/room.pb.h"
#include "services/center/batch_splitter.h"
#include "services/center/broadcast_api.h"
#include "services/center/job_api.h"
#include "services/center/job_worker.h"
#include "services/center/push_api.h"
#include "services/center/push_request.h"
#include "services/center/saver_client.h"
#include "services/common/admin_port.h"
#include "services/common/user_kicker.h"

namespace push::center {

namespace {

struct CenterMetrics {
  metrics::Registry& r = metrics::Registry::global();
  metrics::Counter& rate_limited =
      r.counter("push_center_rate_limited_total", "Requests answered 429 (an app's rate limit).");
  metrics::Counter& auth_failures = r.counter(
      "push_center_auth_failures_total",
      "Requests answered 401: missing or wrong API key, key of another app, unknown app.");
  metrics::Counter& auth_throttled =
      r.counter("push_center_auth_throttled_total",
                "Requests answered 429 before their key was checked: too many failed checks "
                "from the client's address.");
  metrics::Counter& stop_abandoned =
      r.counter("push_center_stop_abandoned_total",
                "Requests answered 503 because stop_grace ran out while they waited.");
};
CenterMetrics& centerMetrics() {
  static CenterMetrics* m = new CenterMetrics();
  return *m;
}

// The one answer to every failed key check: nothing in it depends on why.
constexpr std::string_view kUnauthorized = "missing or invalid API key";
// While stopping, the stop conditions are checked this often.
constexpr int64_t kStopTickMs = 20;

// "Bearer <key>" -> key; empty when absent or malformed.
std::string_view bearerKey(const http::HttpRequest& req) {
  auto h = req.header("Authorization");
  if (!h) return {};
  std::string_view v = *h;
  if (v.size() < 8 || !http::equalsIgnoreCase(v.substr(0, 7), "Bearer ")) return {};
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  return v;
}

void setRetryAfter(http::HttpResponse& resp, int64_t wait_ms) {
  resp.setHeader("Retry-After", std::to_string(std::max<int64_t>(1, (wait_ms + 999) / 1000)));
}

}  // namespace

// A request waiting for register or rooms: in pending_ from track() until answered.
struct CenterServer::Pending {
  http::HttpResponder responder;
  uint64_t id = 0;
};

Result<std::unique_ptr<CenterServer>> CenterServer::create(net::EventLoop& loop,
                                                           CenterOptions options) {
  std::unique_ptr<CenterServer> center(new CenterServer(loop, std::move(options)));
  RETURN_IF_ERROR(center->apps_.setStatic(center->options_.apps));
  ASSIGN_OR_RETURN(center->ids_, IdGenerator::create(center->options_.node_id));
  ASSIGN_OR_RETURN(center->discovery_,
                   service::DiscoveryLink::create(loop, center->options_.discovery));
  if (center->options_.saverEnabled()) {
    ASSIGN_OR_RETURN(center->saver_, SaverClient::create(loop, center->options_.saver));
    if (center->options_.saver.discover) {
      if (!center->discovery_) return invalidArgument("saver.discover: needs discovery.zookeeper");
      RETURN_IF_ERROR(center->discovery_->feedChannel("saver", "rpc", center->saver_->channel()));
    }
  }
  ASSIGN_OR_RETURN(center->broadcast_, BroadcastApi::create(loop, center->options_, *center->ids_,
                                                            center->saver_.get()));
  if (center->options_.register_client.discover && !center->discovery_) {
    return invalidArgument("register.discover: needs discovery.zookeeper");
  }
  ASSIGN_OR_RETURN(center->register_,
                   reg::RegisterClient::create(loop, center->options_.register_client));
  center->deliverer_ = std::make_unique<Deliverer>(loop, *center->register_, *center->rooms_,
                                                   center->options_.deliver_batch);
  if (center->options_.coordinator) {
    const CenterOptions::Coordinator& k = *center->options_.coordinator;
    ASSIGN_OR_RETURN(center->coordinator_channel_, rpc::Channel::create(loop, k.channel));
    if (k.discover) {
      if (!center->discovery_) return invalidArgument("coordinator.discover: needs discovery");
      RETURN_IF_ERROR(
          center->discovery_->feedChannel("coordinator", "rpc", *center->coordinator_channel_));
    } else {
      RETURN_IF_ERROR(center->coordinator_channel_->setEndpoints(k.addresses));
    }
    center->coordinator_ =
        std::make_unique<coord::Coordinator_Stub>(center->coordinator_channel_.get());
  } else {
    center->kicker_ = std::make_unique<service::UserKicker>(*center->register_, *center->rooms_);
  }
  ASSIGN_OR_RETURN(center->jobs_, JobApi::create(loop, center->options_, *center->ids_));
  if (center->jobs_->enabled()) {
    ASSIGN_OR_RETURN(center->job_worker_,
                     JobWorker::create(loop, center->options_, *center->jobs_->store(),
                                       *center->deliverer_, center->saver_.get()));
  }
  center->push_ = std::make_unique<PushApi>(center->options_, *center->ids_, center->saver_.get(),
                                            *center->deliverer_, *center->jobs_);
  return center;
}

CenterServer::CenterServer(net::EventLoop& loop, CenterOptions options)
    : loop_(loop), options_(std::move(options)), auth_failures_(options_.auth_failures) {
  rooms_ = std::make_unique<service::RoomPool>(loop_, options_.room_channel);
  (void)centerMetrics();
}

CenterServer::~CenterServer() {
  liveness_.kill();
  stop_timer_.reset();
  http_.reset();
}

Status CenterServer::start() {
  http::Router router;
  RETURN_IF_ERROR(router.add(
      "POST", "/v1/push",
      [this](http::HttpRequest& req, http::HttpResponder r) { handlePush(req, std::move(r)); }));
  RETURN_IF_ERROR(
      router.add("POST", "/v1/push/batch", [this](http::HttpRequest& req, http::HttpResponder r) {
        handlePushBatch(req, std::move(r));
      }));
  RETURN_IF_ERROR(
      router.add("POST", "/v1/broadcast", [this](http::HttpRequest& req, http::HttpResponder r) {
        handleBroadcast(req, std::move(r));
      }));
  RETURN_IF_ERROR(
      router.add("POST", "/v1/push/job", [this](http::HttpRequest& req, http::HttpResponder r) {
        handleJobUpload(req, std::move(r));
      }));
  RETURN_IF_ERROR(router.add(
      "GET", "/v1/jobs/{id}",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleGetJob(req, std::move(r)); }));
  RETURN_IF_ERROR(router.add(
      "GET", "/v1/apps/{app}/users/{user}",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleGetUser(req, std::move(r)); }));
  RETURN_IF_ERROR(router.add(
      "POST", "/v1/apps/{app}/users/{user}/kick",
      [this](http::HttpRequest& req, http::HttpResponder r) { handleKick(req, std::move(r)); }));
  const http::AdminInfo admin_info{
      .health = [this] { return stopping_ ? unavailable("stopping") : Status::ok(); },
      .status_json = [this] { return statusJson(); }};
  http::mountAdmin(router, admin_info);
  // Every /v1 request and its answer is activity: stop() waits for the API to be quiet.
  // (Health checks and scrapes are not: a load balancer polling /healthz on a kept-alive
  // connection must not hold a stopping center open.)
  http::MiddlewareChain chain;
  chain.add([this](http::HttpRequest& req, http::HttpResponder& r) {
    if (!req.path().starts_with("/v1/")) return;
    last_activity_ms_ = loop_.nowMs();
    ++activity_;
    r.onComplete([this, alive = liveness_.token()](const http::HttpRequest&, http::HttpResponse&) {
      if (!alive.alive()) return;
      last_activity_ms_ = loop_.nowMs();
      ++activity_;
    });
  });
  // The job upload alone may send a body up to jobs.max_body_bytes: the server reads up to
  // that, and every other request over http.max_body_bytes is answered 413 here (after it
  // was read: the HTTP server has one limit for all paths).
  http::HttpServer::Options http = options_.http;
  if (options_.jobsEnabled() && options_.jobs.max_body_bytes > http.max_body_bytes) {
    http.max_body_bytes = options_.jobs.max_body_bytes;
    chain.add([limit = options_.http.max_body_bytes](http::HttpRequest& req,
                                                     http::HttpResponder& r) {
      if (req.body().size() > limit && req.path() != "/v1/push/job") {
        r.respondError(413, "body over " + std::to_string(limit) +
                                " bytes (http.max_body_bytes; only POST /v1/push/job takes more)");
      }
    });
  }
  ASSIGN_OR_RETURN(http_,
                   http::HttpServer::listen(loop_, http, std::move(router), std::move(chain)));
  address_ = http_->address();
  ASSIGN_OR_RETURN(admin_, service::startAdmin(loop_, options_.admin, admin_info));
  if (admin_) admin_address_ = admin_->address();
  if (discovery_) {
    std::map<std::string, net::InetAddress> endpoints{{"http", address_}};
    if (admin_) endpoints.emplace("admin", admin_address_);
    RETURN_IF_ERROR(discovery_->registerSelf("center", service::DiscoveryLink::instanceId("center"),
                                             endpoints, nullptr));
    // Live config (config/center): its log levels only.
    RETURN_IF_ERROR(
        discovery_->watchConfig("center", std::make_unique<config::CenterConfig>(), nullptr));
    if (options_.register_client.discover) {
      // Until the first list arrives lookups fail UNAVAILABLE (pushes answer 503).
      RETURN_IF_ERROR(discovery_->watch(
          "register", [this, alive = liveness_.token()](
                          const std::vector<discovery::ServiceInstance>& registers) {
            if (alive.alive()) followRegisters(registers);
          }));
    }
    // No static apps: ZooKeeper's apps/<app>, live (the lead's rule for every service).
    if (options_.liveApps()) {
      RETURN_IF_ERROR(discovery_->watchApps(
          [this, alive = liveness_.token()](const discovery::AppDirectory::Apps& records) {
            if (alive.alive()) applyApps(records);
          }));
    }
  }
  if (options_.liveApps()) {
    LOG_INFO(Center, "center API on {} (apps from ZooKeeper apps/<app>, live)",
             address_.toString());
  } else {
    LOG_INFO(Center, "center API on {} ({} apps)", address_.toString(), apps_.size());
  }
  return Status::ok();
}

void CenterServer::followRegisters(const std::vector<discovery::ServiceInstance>& registers) {
  if (!register_) return;
  const Result<bool> moved = register_->followInstances(registers);
  if (!moved.isOk()) {
    LOG_ERROR(Center, "register instances from ZooKeeper not applied, the previous map stays: {}",
              moved.status().toString());
    return;
  }
  ++register_updates_;
  LOG_INFO(Center, "register: {} instance(s) from ZooKeeper, {} shard(s){}", registers.size(),
           register_->shardCount(), *moved ? ", slots moved" : "");
}

// ---- authentication and admission ----

CenterServer::AppState* CenterServer::authenticate(const http::HttpRequest& req,
                                                   http::HttpResponder& r) {
  const int64_t now = loop_.nowMs();
  if (int64_t wait = auth_failures_.retryAfterMs(AuthFailureLimiter::clientOf(req.peer()), now);
      wait > 0) {
    centerMetrics().auth_throttled.inc();
    http::HttpResponse resp =
        http::HttpResponse::error(429, "too many failed API key checks from this address");
    setRetryAfter(resp, wait);
    r.respond(std::move(resp));
    return nullptr;
  }
  AppState* app = apps_.findByKey(bearerKey(req));
  if (!app) refuseAuth(req, r);
  return app;
}

void CenterServer::refuseAuth(const http::HttpRequest& req, http::HttpResponder& r) {
  auth_failures_.recordFailure(AuthFailureLimiter::clientOf(req.peer()), loop_.nowMs());
  centerMetrics().auth_failures.inc();
  LOG_EVERY_SEC(Warn, Center, 10,
                "API key refused (client {}); see push_center_auth_failures_total",
                req.peer().host());
  http::HttpResponse resp = http::HttpResponse::error(401, kUnauthorized);
  resp.setHeader("WWW-Authenticate", "Bearer");
  r.respond(std::move(resp));
}

bool CenterServer::rateLimited(AppState& app, http::HttpResponder& r, size_t n) {
  const int64_t now = loop_.nowMs();
  if (app.bucket.tryTake(now, static_cast<double>(n))) return false;
  centerMetrics().rate_limited.inc();
  http::HttpResponse resp = http::HttpResponse::error(
      429, "rate limit of app '" + app.config.name + "' exceeded (" +
               std::to_string(static_cast<int64_t>(app.config.rate_per_s)) + " requests/s)");
  setRetryAfter(resp, app.bucket.waitMs(now, static_cast<double>(n)));
  r.respond(std::move(resp));
  return true;
}

CenterServer::AppState* CenterServer::admitUserCall(http::HttpRequest& req,
                                                    http::HttpResponder& r) {
  AppState* app = authenticate(req, r);
  if (!app) return nullptr;
  if (req.pathParam("app").value_or("") != app->config.name) {
    refuseAuth(req, r);
    return nullptr;
  }
  if (rateLimited(*app, r)) return nullptr;
  if (!validName(req.pathParam("user").value_or(""))) {
    r.respondError(400, "bad user (1..128 printable bytes)");
    return nullptr;
  }
  return app;
}

void CenterServer::track(const std::shared_ptr<Pending>& p) {
  p->id = next_pending_id_++;
  pending_.emplace(p->id, p);
  p->responder.onComplete(
      [this, alive = liveness_.token(), id = p->id](const http::HttpRequest&, http::HttpResponse&) {
        if (alive.alive()) pending_.erase(id);
      });
}

// ---- POST /v1/push, POST /v1/push/batch (PushApi) ----

void CenterServer::handlePush(http::HttpRequest& req, http::HttpResponder r) {
  // The key first: nothing of the body is read for a caller without one.
  AppState* app = authenticate(req, r);
  if (!app || rateLimited(*app, r)) return;
  push_->handlePush(
      *app, req, std::move(r),
      [this](const http::HttpRequest& q, http::HttpResponder& a) { refuseAuth(q, a); });
}

void CenterServer::handlePushBatch(http::HttpRequest& req, http::HttpResponder r) {
  // One token before the body is read, as for a push (a bad body is not free), the rest once
  // the body says how many pushes it holds.
  AppState* app = authenticate(req, r);
  if (!app || rateLimited(*app, r)) return;
  push_->handleBatch(
      *app, req, std::move(r),
      [this](const http::HttpRequest& q, http::HttpResponder& a) { refuseAuth(q, a); },
      [this](AppState& a, size_t n, http::HttpResponder& w) { return !rateLimited(a, w, n); });
}

// ---- apps from ZooKeeper ----

void CenterServer::applyApps(const discovery::AppDirectory::Apps& records) {
  std::vector<CenterOptions::App> apps;
  apps.reserve(records.size());
  for (const auto& [name, record] : records) {
    Result<CenterOptions::App> app = CenterOptions::appFromRecord(record, options_.workers);
    if (!app.isOk()) {
      // Left out (as if absent): its keys would name an app no request body can.
      LOG_WARN(Center, "apps/{}: ignored: {}", name, app.status().message());
      continue;
    }
    apps.push_back(std::move(app).value());
  }
  AppTable::Changes changes = apps_.update(apps, loop_.nowMs());
  // BroadcastApi and JobApi index their per-app state like the table: new indexes in order.
  for (size_t index : changes.added) {
    if (broadcast_) broadcast_->setApp(index, apps_.at(index).config);
    if (jobs_) jobs_->setApp(index, apps_.at(index).config);
  }
  for (size_t index : changes.changed) {
    if (broadcast_) broadcast_->setApp(index, apps_.at(index).config);
    if (jobs_) jobs_->setApp(index, apps_.at(index).config);
  }
  if (job_worker_) {
    std::set<std::string, std::less<>> active;
    for (size_t i = 0; i < apps_.size(); ++i) {
      if (apps_.at(i).active) active.insert(apps_.at(i).config.name);
    }
    job_worker_->setApps(std::move(active));
  }
  for (const auto& dropped : changes.dropped_keys) {
    LOG_WARN(Center, "apps/{} is also another app's API key: refused for this app", dropped);
  }
  if (!changes.any()) return;
  auto names = [this](const std::vector<size_t>& indexes) {
    std::string out;
    for (size_t i : indexes)
      out += (out.empty() ? "" : ",") + apps_.at(i).config.name;
    return out.empty() ? std::string("-") : out;
  };
  LOG_INFO(Center, "apps from ZooKeeper: {} active, {} API keys; added {}, changed {}, removed {}",
           apps_.activeCount(), apps_.keyCount(), names(changes.added), names(changes.changed),
           names(changes.removed));
}

// ---- POST /v1/broadcast ----

void CenterServer::handleBroadcast(http::HttpRequest& req, http::HttpResponder r) {
  AppState* app = authenticate(req, r);
  if (!app) return;
  broadcast_->handle(
      app->index, req, std::move(r),
      [this](const http::HttpRequest& q, http::HttpResponder& w) { refuseAuth(q, w); });
}

// ---- POST /v1/push/job, GET /v1/jobs/{id} ----

void CenterServer::handleJobUpload(http::HttpRequest& req, http::HttpResponder r) {
  AppState* app = authenticate(req, r);
  if (!app || rateLimited(*app, r)) return;
  jobs_->handleUpload(
      app->index, req, std::move(r),
      [this](const http::HttpRequest& q, http::HttpResponder& w) { refuseAuth(q, w); });
}

void CenterServer::handleGetJob(http::HttpRequest& req, http::HttpResponder r) {
  AppState* app = authenticate(req, r);
  if (!app || rateLimited(*app, r)) return;
  jobs_->handleGet(app->index, req, std::move(r));
}

// ---- GET /v1/apps/{app}/users/{user} and POST .../kick ----

void CenterServer::lookupUser(std::shared_ptr<Pending> pending, const std::string& app,
                              const std::string& user,
                              std::function<void(std::vector<Session>&&)> found) {
  std::vector<reg::UserKey> keys(1);
  keys[0].set_app(app);
  keys[0].set_user(user);
  register_->lookup(
      std::move(keys), [alive = liveness_.token(), pending, found = std::move(found)](
                           const Status& st, std::vector<std::vector<Session>>&& all) {
        if (!alive.alive() || pending->responder.responded()) return;
        if (!st.isOk()) {
          return pending->responder.respondError(503, "session lookup failed: " + st.toString());
        }
        found(std::move(all[0]));
      });
}

void CenterServer::handleGetUser(http::HttpRequest& req, http::HttpResponder r) {
  if (!admitUserCall(req, r)) return;
  const std::string app(*req.pathParam("app"));
  const std::string user(*req.pathParam("user"));
  auto pending = std::make_shared<Pending>();
  pending->responder = std::move(r);
  track(pending);
  lookupUser(pending, app, user, [pending, app, user](std::vector<Session>&& sessions) {
    center::UserResponse out;
    out.set_app(app);
    out.set_user(user);
    for (const Session& s : sessions) {
      center::SessionInfo* info = out.add_sessions();
      info->set_device(s.device());
      info->set_room(s.room_id());
      info->set_since_ms(s.since_ms());
    }
    out.set_online(out.sessions_size() > 0);
    http::respondJson(pending->responder, 200, out);
  });
}

void CenterServer::handleKick(http::HttpRequest& req, http::HttpResponder r) {
  if (!admitUserCall(req, r)) return;
  center::KickRequest kick;
  if (!req.body().empty()) {
    if (Status st = http::parseJsonBody(req, &kick); !st.isOk())
      return r.respondError(400, st.message());
  }
  if (!kick.device().empty() && !validName(kick.device()))
    return r.respondError(400, "bad device (1..128 printable bytes)");
  if (kick.reason().size() > kMaxKickReasonBytes || !isValidUtf8(kick.reason()))
    return r.respondError(400, "'reason' must be UTF-8 of at most 256 bytes");
  room::KickRequest request;
  request.set_app(std::string(*req.pathParam("app")));
  request.set_user(std::string(*req.pathParam("user")));
  request.set_device(kick.device());
  request.set_reason(kick.reason());
  auto pending = std::make_shared<Pending>();
  pending->responder = std::move(r);
  track(pending);
  kickUser(std::move(pending), std::move(request));
}

void CenterServer::kickUser(std::shared_ptr<Pending> pending, room::KickRequest request) {
  auto reply = [pending](uint32_t kicked) {
    if (pending->responder.responded()) return;
    center::KickResponse out;
    out.set_kicked(kicked);
    http::respondJson(pending->responder, 200, out);
  };
  if (!coordinator_) {
    kicker_->kick(request, [alive = liveness_.token(), pending, reply](
                               const Status& st, const service::UserKicker::Outcome& outcome) {
      if (!alive.alive() || pending->responder.responded()) return;
      if (!st.isOk()) return pending->responder.respondError(503, st.toString());
      reply(outcome.kicked);
    });
    return;
  }
  struct Call {
    rpc::Controller controller;
    room::KickRequest request;
    coord::KickUserResponse response;
  };
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->controller.setTimeout(options_.coordinator->timeout);
  coordinator_->Kick(
      &call->controller, &call->request, &call->response,
      rpc::newCallback([alive = liveness_.token(), pending, call, reply] {
        if (!alive.alive() || pending->responder.responded()) return;
        const Status& st = call->controller.status();
        if (!st.isOk()) {
          // 503: none reachable, or it could not ask register (retry later);
          // 502: it refused (e.g. its config has no register): a retry won't do.
          const bool retry = st.code() == Code::UNAVAILABLE || st.code() == Code::TIMEOUT ||
                             st.code() == Code::CANCELLED;
          return pending->responder.respondError(
              retry ? 503 : 502, "kick through coordinator failed: " + st.toString());
        }
        reply(call->response.kicked());
      }));
}

// ---- graceful stop ----

void CenterServer::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stop_done_ = std::move(done);
  if (!http_) return finishStop();  // never started
  stop_deadline_ms_ = loop_.nowMs() + options_.stop_grace.count();
  http_->stopAccepting();
  if (discovery_) discovery_->stop(nullptr);
  // No new chunks; those in flight finish (or go back to queued when the worker is destroyed).
  if (job_worker_) job_worker_->stop([] {});
  LOG_INFO(Center, "stopping: {} requests in flight, up to {} ms", pendingRequests(),
           options_.stop_grace.count());
  stop_timer_ = net::PeriodicTimer::create(
      loop_, [this] { onStopTick(); }, /*keep_alive=*/true);
  stop_timer_->start(std::chrono::milliseconds(kStopTickMs));
}

void CenterServer::onStopTick() {
  if (finish_posted_) return;
  const int64_t now = loop_.nowMs();
  const bool late = now >= stop_deadline_ms_;
  if (late && !pending_.empty()) {
    // Answered now; they go out before the loop next waits, the servers close on a later turn.
    std::vector<std::shared_ptr<Pending>> left;
    for (auto& [id, weak] : pending_) {
      if (auto p = weak.lock()) left.push_back(std::move(p));
    }
    pending_.clear();
    LOG_WARN(Center, "stop: {} requests still waiting after {} ms: answering 503", left.size(),
             options_.stop_grace.count());
    centerMetrics().stop_abandoned.inc(left.size());
    for (auto& p : left)
      p->responder.respondError(503, "center is stopping");
  }
  if (late && push_ && push_->pending() > 0) {
    centerMetrics().stop_abandoned.inc(push_->pending());
    push_->abandon("center is stopping");
  }
  if (late && broadcast_ && broadcast_->pending() > 0) {
    centerMetrics().stop_abandoned.inc(broadcast_->pending());
    broadcast_->abandon("center is stopping");
  }
  if (late && jobs_ && jobs_->pending() > 0) {
    centerMetrics().stop_abandoned.inc(jobs_->pending());
    jobs_->abandon("center is stopping");
  }
  http_->closeIdleConnections(std::chrono::milliseconds(kStopIdleMs));
  const bool quiet = pendingRequests() == 0 &&
                     (http_->connectionCount() == 0 || now - last_activity_ms_ >= kStopIdleMs);
  if (!quiet && !late) return;
  // Close on a later turn, after the loop has written what was answered until now (writes go
  // out just before the loop waits for I/O, after timers run), and only if nothing came in
  // meanwhile (or the grace is over).
  finish_posted_ = true;
  loop_.post([this, alive = liveness_.token(), seen = activity_, late] {
    if (!alive.alive()) return;
    finish_posted_ = false;
    if (late || (seen == activity_ && pendingRequests() == 0)) finishStop();
  });
}

void CenterServer::finishStop() {
  LOG_INFO(Center, "stopped");
  liveness_.kill();  // callbacks still queued in register and room channels do nothing now
  stop_timer_.reset();
  http_.reset();
  admin_.reset();
  pending_.clear();
  push_.reset();  // uses deliverer_, jobs_, saver_
  broadcast_.reset();
  job_worker_.reset();
  jobs_.reset();
  deliverer_.reset();
  kicker_.reset();
  discovery_.reset();  // feeds saver_'s and coordinator_channel_
  coordinator_.reset();
  coordinator_channel_.reset();
  saver_.reset();  // after its users (broadcast_, job_worker_)
  rooms_.reset();
  register_.reset();
  if (stop_done_) loop_.post(std::move(stop_done_));
}

size_t CenterServer::pendingRequests() const {
  return pending_.size() + (push_ ? push_->pending() : 0) +
         (broadcast_ ? broadcast_->pending() : 0) + (jobs_ ? jobs_->pending() : 0);
}

std::string CenterServer::statusJson() const {
  JsonWriter w(512 + 96 * apps_.size());
  w.beginObject();
  w.key("address").string(address_.toString());
  w.key("node_id").uint64(options_.node_id);
  w.key("pid").int64(::getpid());
  w.key("pushes").uint64(push_ ? push_->pushes() : 0);
  w.key("pending").uint64(pendingRequests());
  w.key("stopping").boolean(stopping_);
  w.key("rooms").uint64(rooms_ ? rooms_->size() : 0);
  w.key("broadcast").boolean(broadcast_ && broadcast_->enabled());
  w.key("jobs").boolean(jobs_ && jobs_->enabled());
  w.key("saver").boolean(saver_ != nullptr);
  if (discovery_) w.key("discovery").raw(discovery_->statusJson());
  w.key("register").beginObject();
  w.key("source").string(options_.register_client.discover ? "zookeeper" : "config");
  w.key("shards").uint64(register_ ? register_->shardCount() : 0);
  w.key("updates").uint64(register_updates_);
  w.endObject();
  w.key("job_chunks_done").uint64(job_worker_ ? job_worker_->chunksDone() : 0);
  w.key("apps_source").string(options_.liveApps() ? "zookeeper" : "static");
  w.key("apps_active").uint64(apps_.activeCount());
  w.key("api_keys").uint64(apps_.keyCount());
  if (options_.liveApps()) w.key("apps_updates").uint64(apps_.updates());
  w.key("apps").beginObject();
  for (size_t i = 0; i < apps_.size(); ++i) {
    const AppState& app = apps_.at(i);
    w.key(app.config.name).beginObject();
    w.key("active").boolean(app.active);
    w.key("pushes").uint64(app.pushes);
    w.key("push_rate_per_s").number(app.config.rate_per_s);
    w.key("push_burst").number(app.config.burst);
    if (app.config.offline_ttl_s) w.key("offline_ttl_s").uint64(app.config.offline_ttl_s);
    if (broadcast_ && i < broadcast_->apps()) w.key("broadcasts").uint64(broadcast_->accepted(i));
    if (jobs_ && i < jobs_->apps()) w.key("jobs").uint64(jobs_->accepted(i));
    w.endObject();
  }
  w.endObject();
  w.endObject();
  return w.take();
}

}  // namespace push::center
