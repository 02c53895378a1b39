#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/queue/client/producer.h"
#include "common/rpc/channel.h"
#include "services/center/auth_failure_limiter.h"
#include "services/center/batch_splitter.h"
#include "services/center/push_request.h"
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

  // The API port (also /healthz, /metrics, /status). Default address: 127.0.0.1:8080 from a
  // config; HttpServer's own default (127.0.0.1:0) when built in code.
  http::HttpServer::Options http;
  std::vector<App> apps;
  reg::RegisterClient::Options register_client;
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

  // The largest request a room channel sends (Channel::Options::max_request_bytes, default
  // 16 MiB). Deliver batches stay a margin below it.
  static uint64_t maxRoomRequestBytes(const rpc::Channel::Options& channel);
  static BatchLimits defaultDeliverBatch(const rpc::Channel::Options& channel);
  static http::HttpServer::Options noAdmin();
  static queue::Producer::Options defaultProducer();

  // From the config file. Every range check names the field (file:line:column when `file` is
  // given); INVALID_ARGUMENT for a bad app name, a short or repeated key, no apps, or a bad
  // register or room channel section.
  // The broadcast part: every queued address parses, and with queued set every app's topic
  // (broadcastTopic) is a valid queued topic name. INVALID_ARGUMENT naming the app or
  // address. fromConfig and CenterServer::create check it.
  Status validateBroadcast() const;

  static Result<CenterOptions> fromConfig(const config::CenterConfig& config,
                                          const ConfigFile* file);
};

}  // namespace push::center
