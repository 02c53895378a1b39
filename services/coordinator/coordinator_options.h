#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/curl_client.h"
#include "common/http/http_server.h"
#include "common/http/retrying_poster.h"
#include "common/rpc/server.h"
#include "services/common/discovery_link.h"
#include "services/coordinator/app_settings.h"
#include "services/register/register_client.h"

namespace push::config {
class CoordinatorConfig;
}

namespace push::coord {

// Everything one coordinator instance needs (CoordinatorServer::Options), built from
// CoordinatorConfig (fromConfig) or in code (tests: every default below is usable as is).
// proto/config.proto documents each field's meaning, unit, default and range.
struct CoordinatorOptions {
  // The Coordinator RPC listener. From config the address defaults to "127.0.0.1:7500";
  // built in code it is rpc::Server::Options' "127.0.0.1:0".
  rpc::Server::Options rpc;
  // The admin HTTP port (/healthz, /metrics, /status). Empty address (the default): none.
  http::HttpServer::Options admin = noAdmin();
  // The apps served (static). Empty with discovery enabled: the apps come from ZooKeeper
  // apps/<app> and follow it live (CoordinatorServer); empty without discovery: none (from
  // config that is an error; built in code, e.g. a test adding apps with updateApp, it is not).
  std::vector<AppSettings> apps;
  // ZooKeeper (DiscoveryLink): services/coordinator/<id> with endpoint "rpc", config/coordinator
  // (log levels), and apps/<app> when `apps` is empty. Off by default.
  service::DiscoveryOptions discovery;
  // The caps (max_concurrency, max_queued, timeout) of apps from ZooKeeper, whose records have
  // none; its name and URLs are unused. Defaults: AppSettings' (32, 1000, 5 s).
  AppSettings app_defaults;
  // Retries of one upstream item or events batch: max_attempts, backoff, overall deadline
  // (attempt_timeout comes from each app). Defaults: 3 attempts, 200 ms doubling to 2 s,
  // 10 s deadline.
  http::RetryingPoster::Policy retry = defaultRetry();
  // A 2xx webhook body longer than this fails the item (UNAVAILABLE). Default: 4 KiB.
  size_t max_reply_bytes = 4096;
  // Events per app waiting, per POST, and the longest an event waits for its batch.
  size_t event_queue_max = 10'000;
  size_t event_batch_max = 500;
  std::chrono::milliseconds event_batch_interval{100};
  // Outgoing HTTP (CurlClient): total and per-host transfers. max_body_bytes is set from
  // max_reply_bytes by the server.
  http::CurlClient::Options curl = defaultCurl();
  // Kick (Coordinator.Kick): register lookup (static shards, or `discover`: the register
  // instances in ZooKeeper, which needs `discovery`), then Room.Kick over channels with
  // `room_channel`. Absent: Kick answers FAILED_PRECONDITION.
  std::optional<reg::RegisterClient::Options> register_client;
  rpc::Channel::Options room_channel;
  // CoordinatorServer::stop(): how long running calls get. Default: 5 s.
  std::chrono::milliseconds shutdown_grace{5'000};

  // Validates every integer field of `config` with checkFieldRange (INVALID_ARGUMENT naming
  // the field, with file:line:col when `file` is given; `file` may be null) and every app;
  // fields left 0/empty keep the defaults above.
  static Result<CoordinatorOptions> fromConfig(const config::CoordinatorConfig& config,
                                               const ConfigFile* file);

  static http::HttpServer::Options noAdmin() {
    http::HttpServer::Options o;
    o.address.clear();
    return o;
  }
  static http::RetryingPoster::Policy defaultRetry() {
    http::RetryingPoster::Policy p;
    p.max_attempts = 3;
    p.min_backoff = std::chrono::milliseconds(200);
    p.max_backoff = std::chrono::milliseconds(2'000);
    p.deadline = std::chrono::milliseconds(10'000);
    return p;
  }
  static http::CurlClient::Options defaultCurl() {
    http::CurlClient::Options o;
    o.max_transfers = 256;
    o.max_transfers_per_host = 64;
    o.user_agent = "push-coordinator/0.1";
    return o;
  }
};

}  // namespace push::coord
