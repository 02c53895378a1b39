#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/rpc/channel.h"
#include "services/center/auth_failure_limiter.h"
#include "services/center/batch_splitter.h"
#include "services/center/push_request.h"
#include "services/register/register_client.h"

namespace push::config {
class CenterConfig;
}

namespace push::center {

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

  // The largest request a room channel sends (Channel::Options::max_request_bytes, default
  // 16 MiB). Deliver batches stay a margin below it.
  static uint64_t maxRoomRequestBytes(const rpc::Channel::Options& channel);
  static BatchLimits defaultDeliverBatch(const rpc::Channel::Options& channel);
  static http::HttpServer::Options noAdmin();

  // From the config file. Every range check names the field (file:line:column when `file` is
  // given); INVALID_ARGUMENT for a bad app name, a short or repeated key, no apps, or a bad
  // register or room channel section.
  static Result<CenterOptions> fromConfig(const config::CenterConfig& config,
                                          const ConfigFile* file);
};

}  // namespace push::center
