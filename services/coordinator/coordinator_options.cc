#include "services/coordinator/coordinator_options.h"

#include <iterator>
#include <set>
#include <vector>

#include "proto/config.pb.h"
#include "services/common/cluster_key.h"
#include "services/common/config_ranges.h"

namespace push::coord {

namespace {

// Every integer field of CoordinatorConfig and its range (proto/config.proto states the same).
// The apps' own fields are repeated (not reached by checkFieldRanges): AppSettings::validate.
std::vector<FieldRange> coordinatorRanges() {
  static const FieldRange kOwn[] = {
      {"webhook_max_attempts", 1, 20},
      {"webhook_min_backoff_ms", 1, 60'000},
      {"webhook_max_backoff_ms", 1, 600'000},
      {"webhook_deadline_ms", 10, 600'000},
      {"max_reply_bytes", 0, 65'536},
      {"event_queue_max", 1, 10'000'000},
      {"event_batch_max", 1, 100'000},
      {"event_batch_interval_ms", 1, 60'000},
      {"http_max_transfers", 1, 100'000},
      {"http_max_transfers_per_host", 1, 10'000},
      {"shutdown_grace_ms", 1, 60'000},
      // The caps of apps from ZooKeeper (AppSettings::validate has the same ranges).
      {"app_defaults.max_concurrency", 1, 10'000},
      {"app_defaults.max_queued", 0, 1'000'000},
      {"app_defaults.timeout_ms", 10, 600'000},
  };
  return service::joinRanges({service::rpcServerRanges("rpc"), service::httpServerRanges("admin"),
                              service::discoveryRanges("discovery"),
                              service::registerClientRanges("register"),
                              service::rpcChannelRanges("room_channel"),
                              std::vector<FieldRange>(std::begin(kOwn), std::end(kOwn))});
}

Status fieldError(const ConfigFile* file, const char* field, const std::string& why) {
  return file ? file->fieldError(field, why) : invalidArgument(std::string(field) + ": " + why);
}

}  // namespace

Result<CoordinatorOptions> CoordinatorOptions::fromConfig(const config::CoordinatorConfig& c,
                                                          const ConfigFile* file) {
  RETURN_IF_ERROR(checkFieldRanges(c, file, coordinatorRanges()));
  CoordinatorOptions o;
  std::set<std::string> names;
  for (int i = 0; i < c.apps_size(); ++i) {
    const std::string field = "apps[" + std::to_string(i) + "]";
    auto app = AppSettings::fromConfig(c.apps(i), field);
    if (!app.isOk()) return fieldError(file, "apps", app.status().message());
    if (!names.insert(app->name).second) {
      return fieldError(file, "apps", field + ": app '" + app->name + "' is listed twice");
    }
    o.apps.push_back(std::move(app).value());
  }
  ASSIGN_OR_RETURN(o.discovery,
                   service::DiscoveryOptions::fromConfig(c.discovery(), file, "discovery"));
  // The lead's rule for every service: no static apps means "from ZooKeeper", which needs it.
  if (o.apps.empty() && !o.discovery.enabled()) {
    return fieldError(file, "apps",
                      "no apps: list them (apps { name: ... upstream_url: ... }) or configure "
                      "discovery { zookeeper: ... } to take them from ZooKeeper apps/<app>");
  }
  const config::CoordinatorAppConfig& d = c.app_defaults();
  if (d.max_concurrency()) o.app_defaults.max_concurrency = d.max_concurrency();
  if (d.max_queued()) o.app_defaults.max_queued = d.max_queued();
  if (d.timeout_ms()) o.app_defaults.timeout = std::chrono::milliseconds(d.timeout_ms());
  if (c.webhook_max_attempts()) o.retry.max_attempts = c.webhook_max_attempts();
  if (c.webhook_min_backoff_ms()) {
    o.retry.min_backoff = std::chrono::milliseconds(c.webhook_min_backoff_ms());
  }
  if (c.webhook_max_backoff_ms()) {
    o.retry.max_backoff = std::chrono::milliseconds(c.webhook_max_backoff_ms());
  }
  if (o.retry.max_backoff < o.retry.min_backoff) {
    return fieldError(file, "webhook_max_backoff_ms", "is below webhook_min_backoff_ms");
  }
  if (c.webhook_deadline_ms()) {
    o.retry.deadline = std::chrono::milliseconds(c.webhook_deadline_ms());
  }
  if (c.max_reply_bytes()) o.max_reply_bytes = c.max_reply_bytes();
  if (c.event_queue_max()) o.event_queue_max = c.event_queue_max();
  if (c.event_batch_max()) o.event_batch_max = c.event_batch_max();
  if (c.event_batch_interval_ms()) {
    o.event_batch_interval = std::chrono::milliseconds(c.event_batch_interval_ms());
  }
  if (c.http_max_transfers()) o.curl.max_transfers = c.http_max_transfers();
  if (c.http_max_transfers_per_host()) {
    o.curl.max_transfers_per_host = c.http_max_transfers_per_host();
  }
  if (c.shutdown_grace_ms()) o.shutdown_grace = std::chrono::milliseconds(c.shutdown_grace_ms());

  auto rpc = rpc::Server::Options::fromConfig(c.rpc());
  if (!rpc.isOk()) return rpc.status().withContext(file ? file->name() : "config");
  o.rpc = std::move(*rpc);
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:7500";
  if (c.has_register_() && c.register_().shards_size() == 0 && !c.register_().discover()) {
    return fieldError(file, "register", "list shards, or set discover: true");
  }
  if (c.register_().shards_size() > 0 || c.register_().discover()) {
    if (c.register_().discover() && !o.discovery.enabled()) {
      return fieldError(file, "register.discover", "needs discovery.zookeeper");
    }
    auto rc = reg::RegisterClient::Options::fromConfig(c.register_());
    if (!rc.isOk()) return fieldError(file, "register", rc.status().message());
    o.register_client = std::move(rc).value();
  }
  ASSIGN_OR_RETURN(o.room_channel, rpc::Channel::Options::fromConfig(c.room_channel()));
  RETURN_IF_ERROR(service::applyClusterKey(
      c.cluster_key(), file, &o.rpc,
      {o.register_client ? &o.register_client->channel : nullptr, &o.room_channel}));
  if (!c.admin().listen().address().empty()) {
    o.admin = http::HttpServer::Options::fromConfig(c.admin());
  }
  return o;
}

}  // namespace push::coord
