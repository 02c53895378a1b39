#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/id_generator.h"
#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/owning_ptrs.h"
#include "services/center/app_table.h"
#include "services/center/auth_failure_limiter.h"
#include "services/center/center_options.h"
#include "services/center/deliverer.h"
#include "services/center/rate_limiter.h"
#include "services/common/room_pool.h"
#include "services/register/register_client.h"

namespace push::room {
class KickRequest;
}
namespace push::coord {
class Coordinator_Stub;
}
namespace push::service {
class UserKicker;
}

namespace push::center {

class BroadcastApi;
class PushApi;
class JobApi;
class JobWorker;
class SaverClient;

// The operator HTTP API (docs/ARCHITECTURE.md §2, center):
//   POST /v1/push                              push to users or devices of an app (PushApi,
//                                              services/center/push_api.h)
//   POST /v1/push/batch                        many pushes of an app in one request (PushApi)
//   POST /v1/broadcast                         one message to every connection of an app, via
//                                              queued (BroadcastApi,
//                                              services/center/broadcast_api.h)
//   POST /v1/push/job                          a multicast job from an uploaded id list; a
//                                              /v1/push over max_targets_per_request becomes
//                                              one too (JobApi, services/center/job_api.h)
//   GET  /v1/jobs/{id}                         a job's progress (from any center)
//   GET  /v1/apps/{app}/users/{user}           the user's online sessions
//   POST /v1/apps/{app}/users/{user}/kick      close the user's sessions (optional device)
// plus /healthz, /metrics and /status (also on a separate admin port when options.admin has
// an address: the one that answers for this process when several workers share the API
// port). While stopping, /healthz answers 503 "stopping".
//
// Every /v1 call needs `Authorization: Bearer <api key>`; the key names its app (ApiKeyTable:
// digests, constant-time compare) and is checked before the body is read. A missing or wrong
// key, a key of another app and an unknown app all get the same 401 (same body,
// `WWW-Authenticate: Bearer`): nothing tells apps apart. Each failure counts against the
// client's address (AuthFailureLimiter); a client over it gets 429 with Retry-After before its
// key is looked at. Each app has a token-bucket rate limit (429 with Retry-After beyond it).
//
// Apps (AppTable): the static options.apps, or — with no static apps and options.discovery
// set (CenterOptions::liveApps) — ZooKeeper's apps/<app> records, followed live through
// DiscoveryLink::watchApps: an app added is served as soon as its record is read, an edit
// (keys, rate limits, offline TTL) applies to the next request, a removed app's keys get the
// uniform 401 at once. Until the first read of ZooKeeper every key gets 401. A record that
// does not decode keeps the app's previous one (AppDirectory). Requests admitted before an
// update finish under it; they hold app indexes, which stay valid for the process life.
// An app's offline TTL is the message TTL (Message.ttl_s, saver's retention) of its pushes,
// jobs and broadcasts that give no "ttl".
//
// A push: key -> app rate limit -> body (parsePushRequest; 400 names the rule; more targets
// than options.push.max_targets: a job, JobApi) -> message id (IdGenerator, node_id) ->
// Deliverer (services/center/deliverer.h, shared with job chunks): register Lookup (one
// batched call per register shard) -> targets
// grouped by room -> one loop turn's items per room sent as Room.DeliverBatch calls cut by
// BatchSplitter (bytes, items, targets: a room closes a channel that sends a frame over its
// limit) -> per-target outcome. Targets whose room did not answer are "error".
//
// Saver (options.saver, SaverClient): a QoS 1 push is stored first — Store(message, every
// distinct user of its targets) — and delivered only once saver has it (store, then send).
// Saver failing (unreachable, UNAVAILABLE, timeout) -> 503 {"error":"storage unavailable:
// ..."}, nothing delivered. Users not online are then "stored" (the room replays the message
// at their next auth) and the answer has a "stored" count. QoS 0 is never stored; without
// saver, users not online are "offline" and nothing is stored.
//
// Ownership: create(), start(); stop(done) is graceful (below); destroy after `done` ran.
// Loop-thread only.
class CenterServer {
 public:
  static Result<std::unique_ptr<CenterServer>> create(net::EventLoop& loop, CenterOptions options);
  // Closes whatever stop() has not (a server destroyed without stop() drops its requests).
  ~CenterServer();

  Status start();
  const net::InetAddress& address() const { return address_; }
  // The admin port's address; unset (port 0) without options.admin.
  const net::InetAddress& adminAddress() const { return admin_address_; }

  // Graceful stop. /healthz answers 503 "stopping" from now on. Requests already received —
  // and those still arriving on connections already open, e.g. the rest of a pipelined batch —
  // run to the end (register lookup, room deliveries, the answer written). Once none is left
  // and either no connection is open or no /v1 request came for kStopIdleMs (health checks
  // and scrapes do not count), the API and admin servers close (answers already written go
  // out), then the register and room channels, and `done` runs on a later loop turn. At
  // options.stop_grace, requests still waiting are answered 503 and the servers close the
  // same way.
  // The API port stops accepting at once (new connections go to the other workers sharing the
  // port, or are refused); connections quiet for kStopIdleMs are closed gracefully as they
  // become so.
  // A second call is ignored (the first `done` still runs). Loop-thread only.
  void stop(std::function<void()> done);
  bool stopping() const { return stopping_; }
  // Requests waiting for saver, register, rooms or queued (answered by stop() at its
  // deadline).
  size_t pendingRequests() const;
  std::string statusJson() const;

  // How long the API must be quiet (no request received, none waiting) before stop() closes
  // it. Long enough for a pipelining client whose reading was paused (HttpServer's
  // max_pipelined) to be read again.
  static constexpr int64_t kStopIdleMs = 200;
  // Longest kick reason passed to rooms (the room refuses more).
  static constexpr size_t kMaxKickReasonBytes = 256;

 private:
  using AppState = AppTable::App;
  struct Pending;
  CenterServer(net::EventLoop& loop, CenterOptions options);

  // Per-IP failure limit, then the bearer key. Returns the key's app, or answers 429/401
  // itself and returns null.
  AppState* authenticate(const http::HttpRequest& req, http::HttpResponder& r);
  // The uniform 401 (and its accounting).
  void refuseAuth(const http::HttpRequest& req, http::HttpResponder& r);
  // For /v1/apps/{app}/...: authenticate, the path's app is the key's, rate limit, a valid
  // {user}. Returns the app or answers itself and returns null.
  AppState* admitUserCall(http::HttpRequest& req, http::HttpResponder& r);
  // Takes `n` tokens of the app's rate limit, or answers 429 (Retry-After) and returns true.
  bool rateLimited(AppState& app, http::HttpResponder& r, size_t n = 1);

  void handlePush(http::HttpRequest& req, http::HttpResponder r);
  void handlePushBatch(http::HttpRequest& req, http::HttpResponder r);
  void handleBroadcast(http::HttpRequest& req, http::HttpResponder r);
  void handleJobUpload(http::HttpRequest& req, http::HttpResponder r);
  void handleGetJob(http::HttpRequest& req, http::HttpResponder r);
  void handleGetUser(http::HttpRequest& req, http::HttpResponder r);
  void handleKick(http::HttpRequest& req, http::HttpResponder r);
  // The sessions of one user for the request `pending`: `found` runs with them, unless the
  // lookup failed (then `pending` is answered 503), the server is gone or `pending` was
  // answered meanwhile.
  void lookupUser(std::shared_ptr<Pending> pending, const std::string& app, const std::string& user,
                  std::function<void(std::vector<Session>&&)> found);
  // A validated kick: through the coordinator when center has one, else by itself.
  void kickUser(std::shared_ptr<Pending> pending, room::KickRequest request);
  // A delivery of ZooKeeper's apps (liveApps): the table and BroadcastApi's and JobApi's
  // per-app state follow it.
  void applyApps(const discovery::AppDirectory::Apps& records);
  // ZooKeeper services/register (register.discover): lookups route by their slot map.
  void followRegisters(const std::vector<discovery::ServiceInstance>& registers);

  // Keeps `p` in pending_ until it is answered (any way: the responder's completion hook).
  void track(const std::shared_ptr<Pending>& p);
  // stop(): checked every few ms while stopping.
  void onStopTick();
  void finishStop();

  net::EventLoop& loop_;
  CenterOptions options_;
  AppTable apps_;
  AuthFailureLimiter auth_failures_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<SaverClient> saver_;       // null without options.saver; outlives its users
  std::unique_ptr<BroadcastApi> broadcast_;  // uses *ids_, *saver_
  std::unique_ptr<reg::RegisterClient> register_;
  std::unique_ptr<service::RoomPool> rooms_;
  std::unique_ptr<Deliverer> deliverer_;         // uses *register_, *rooms_
  std::unique_ptr<service::UserKicker> kicker_;  // uses *register_, *rooms_; no coordinator
  // Kicks through a coordinator (both null without one); the stub before its channel.
  rpc::ChannelPtr coordinator_channel_;
  std::unique_ptr<coord::Coordinator_Stub> coordinator_;
  std::unique_ptr<JobApi> jobs_;           // uses *ids_
  std::unique_ptr<JobWorker> job_worker_;  // uses *jobs_'s store, *deliverer_, *saver_
  std::unique_ptr<PushApi> push_;          // uses *ids_, *saver_, *deliverer_, *jobs_
  http::HttpServerPtr http_;
  http::HttpServerPtr admin_;
  // Null without ZooKeeper. Feeds saver_'s channel: destroyed (finishStop) before saver_.
  std::unique_ptr<service::DiscoveryLink> discovery_;
  net::InetAddress address_;
  net::InetAddress admin_address_;
  Liveness liveness_;
  uint64_t register_updates_ = 0;  // register lists applied from ZooKeeper
  // Requests waiting for register or rooms, by id.
  std::unordered_map<uint64_t, std::weak_ptr<Pending>> pending_;
  uint64_t next_pending_id_ = 1;
  // Loop time of the last request received or answered, and a count of both (stop() waits
  // for quiet).
  int64_t last_activity_ms_ = 0;
  uint64_t activity_ = 0;
  bool finish_posted_ = false;
  bool stopping_ = false;
  int64_t stop_deadline_ms_ = 0;
  std::function<void()> stop_done_;
  net::PeriodicTimerPtr stop_timer_;
};

}  // namespace push::center
