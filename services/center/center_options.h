#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/queue/client/producer.h"
#include "common/redis/redis_client.h"
#include "common/rpc/channel.h"
#include "services/center/auth_failure_limiter.h"
#include "services/center/batch_splitter.h"
#include "services/center/push_request.h"
#include "services/center/saver_client.h"
#include "services/common/discovery_link.h"
#include "services/register/register_client.h"

namespace push::config {
class CenterConfig;
}

namespace push::center {

// The queued topic of an app's broadcasts: "bcast.<app>" (proto/broadcast.proto).
std::string broadcastTopic(std::string_view app);

// Everything CenterServer needs, built in code (tests) or from a CenterConfig (fromConfig).
// Field comments give the default; proto/config.proto's CenterConfig gives the ranges.
struct CenterOptions {
  struct App {
    // 1..128 printable bytes, valid UTF-8 (a name travels in protobuf strings).
    std::string name;
    // Bearer keys of the operator API, 16+ bytes each, unique across apps.
    std::vector<std::string> api_keys;
    // Token bucket of the app's /v1 requests: rate per second and burst. Defaults: 1000 and
    // 2 * rate. With --workers N each worker gets 1/N of both.
    double rate_per_s = 1000;
    double burst = 2000;
    // Token bucket of the app's POST /v1/broadcast calls, separate from the one above (a
    // broadcast reaches every connection of the app). Defaults: 10 per second, burst 2 * rate.
    // With --workers N each worker gets 1/N of both.
    double broadcast_rate_per_s = 10;
    double broadcast_burst = 20;
    // Seconds saver keeps a message of this app for a user not online when the request gives
    // no "ttl" (push, job, broadcast). 0 (default, and every static app): saver's own default
    // (saver default_ttl_s). From ZooKeeper: the record's offline_ttl_s.
    uint32_t offline_ttl_s = 0;

    bool operator==(const App& other) const = default;
  };

  // POST /v1/broadcast (BroadcastApi).
  struct Broadcast {
    // queued/nsqd TCP addresses ("host:port") center publishes topic bcast.<app> to; one
    // message goes to one of them (round robin, a connected one first). Empty (default):
    // broadcast is disabled and the API answers 501.
    std::vector<std::string> queued;
    // Each daemon's producer. Defaults: Producer's, but an answer within 5 s and reconnect
    // backoff capped at 2 s (an operator waits for the answer; queued back after a restart
    // should be used soon).
    queue::Producer::Options producer = defaultProducer();
  };

  // Large multicast jobs (JobApi, JobWorker, JobStore; the README's center API). Enabled when
  // `redis` is set and broadcast.queued names at least one daemon (chunks are published to
  // and consumed from those); otherwise the job API answers 501 and no chunks are consumed.
  struct Jobs {
    // Redis "host:port" holding job progress (shared by every center). Default: empty.
    std::string redis;
    redis::RedisClient::Options redis_client;
    // Users per chunk (one message on topic center.tasks). Default: 1000.
    uint32_t chunk_targets = 1000;
    // Users in one job. Default: 1000000.
    uint32_t max_targets = 1'000'000;
    // Jobs of one app running at once over all centers. Default: 10.
    uint32_t max_running_per_app = 10;
    // Job creations per app and center worker: token bucket. Defaults: 1 per second, burst 10.
    double rate_per_s = 1;
    double burst = 10;
    // Largest POST /v1/push/job body; every other request keeps http.max_body_bytes.
    // Default: 32 MiB.
    uint32_t max_body_bytes = 32u << 20;
    // Lifetime of a job's keys in Redis. Default: 24 h.
    std::chrono::seconds ttl{86'400};
    // A job whose chunks are not all published by then is failed by the first worker that
    // sees one of its chunks (the accepting center died while publishing). Default: 60 s.
    std::chrono::milliseconds publish_deadline{60'000};
    // The worker's consumer: chunks in flight, delay of a retry, deliveries before a chunk's
    // users count failed. Defaults: 4, 1 s, 5.
    uint32_t worker_max_in_flight = 4;
    std::chrono::milliseconds requeue_delay{1'000};
    uint32_t max_attempts = 5;
    // How long queued waits for a chunk's FIN before giving it to another center (a center
    // killed mid-chunk). Default: 15 s.
    std::chrono::milliseconds msg_timeout{15'000};

    bool enabled(const Broadcast& b) const { return !redis.empty() && !b.queued.empty(); }
  };

  // The API port (also /healthz, /metrics, /status). Default address: 127.0.0.1:8080 from a
  // config; HttpServer's own default (127.0.0.1:0) when built in code.
  http::HttpServer::Options http;
  // The static apps. Empty with `discovery` set: the apps come from ZooKeeper apps/<app>
  // (liveApps(), CenterServer follows them live); empty without discovery is refused by
  // fromConfig.
  std::vector<App> apps;
  // Center processes sharing the API port (main's --workers): each gets 1/workers of every
  // app's rates and bursts. main divides the static apps itself; live apps are divided as
  // their records arrive (appFromRecord). Default: 1.
  uint32_t workers = 1;
  reg::RegisterClient::Options register_client;
  // Kicks go through a coordinator (config `coordinator`: Coordinator.Kick); absent, center
  // kicks by itself (service::UserKicker: register lookup, then the rooms).
  struct Coordinator {
    std::vector<std::string> addresses;  // or, with `discover`, services/coordinator
    bool discover = false;
    rpc::Channel::Options channel;
    std::chrono::milliseconds timeout{5'000};
  };
  std::optional<Coordinator> coordinator;
  // Options of each room channel (one per room address).
  rpc::Channel::Options room_channel;
  // Node number in message ids, 0..IdGenerator::kMaxNode. Default: 0.
  uint32_t node_id = 0;
  // Limits of one POST /v1/push (targets per request, payload bytes). Defaults: 10000 and 4096.
  PushLimits push;
  // This process's own /healthz, /metrics, /status (service::startAdmin). Address "" (the
  // default) = none; the API port serves them too, but with --workers for whichever worker
  // accepted the connection.
  http::HttpServer::Options admin = noAdmin();
  // How big one Room.DeliverBatch call may get (bytes, items, targets). Defaults: bytes a
  // quarter of the room channel's largest request (see maxRoomRequestBytes), 1024 items,
  // 8192 targets.
  BatchLimits deliver_batch = defaultDeliverBatch(rpc::Channel::Options());
  // stop(): how long requests already received may take before the rest are answered 503.
  // Default: 10 s.
  std::chrono::milliseconds stop_grace{10'000};
  // Failed API-key checks per client address (429 beyond). Defaults: 1 per second, burst 20,
  // 65536 clients tracked.
  AuthFailureLimiter::Options auth_failures;
  Broadcast broadcast;
  Jobs jobs;
  bool jobsEnabled() const { return jobs.enabled(broadcast); }
  // Saver (issue 16, SaverClient): with addresses, QoS 1 pushes and job chunks are stored
  // before they are sent (store, then send; saver failing -> 503 / chunk requeued) and QoS 1
  // broadcasts get their sequence from saver's StoreBroadcast. Without (default): nothing is
  // stored, users not online are "offline", broadcast sequences are message ids.
  SaverClient::Options saver;
  // ZooKeeper: registers this center as services/center (endpoints http, admin) and, with
  // saver.discover, finds saver there. Off by default.
  service::DiscoveryOptions discovery;
  bool saverEnabled() const { return saver.enabled(); }
  // The apps are ZooKeeper's (apps/<app>), followed live: no static list and discovery on.
  bool liveApps() const { return apps.empty() && discovery.enabled(); }

  // An app from its ZooKeeper record (name, API keys, rate limits divided by `workers`,
  // offline TTL). INVALID_ARGUMENT when the name is not a valid app name (validName).
  static Result<App> appFromRecord(const discovery::AppRecord& record, uint32_t workers);

  // The largest request a room channel sends (Channel::Options::max_request_bytes, default
  // 16 MiB). Deliver batches stay a margin below it.
  static uint64_t maxRoomRequestBytes(const rpc::Channel::Options& channel);
  static BatchLimits defaultDeliverBatch(const rpc::Channel::Options& channel);
  static http::HttpServer::Options noAdmin();
  static queue::Producer::Options defaultProducer();

  // From the config file. Every range check names the field (file:line:column when `file` is
  // given); INVALID_ARGUMENT for a bad app name, a short or repeated key, no apps without
  // discovery (list apps, or configure discovery to read them from ZooKeeper), or a bad
  // register or room channel section.
  // The broadcast part: every queued address parses, and with queued set every app's topic
  // (broadcastTopic) is a valid queued topic name. INVALID_ARGUMENT naming the app or
  // address. fromConfig and CenterServer::create check it.
  Status validateBroadcast() const;

  static Result<CenterOptions> fromConfig(const config::CenterConfig& config,
                                          const ConfigFile* file);
};

}  // namespace push::center
