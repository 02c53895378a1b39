#include "services/center/center_options.h"

#include <algorithm>
#include <set>

#include "common/base/id_generator.h"
#include "common/net/inet_address.h"
#include "common/queue/wire.h"
#include "proto/config.pb.h"
#include "services/common/cluster_key.h"
#include "services/common/config_ranges.h"

namespace push::center {

namespace {

// Room for the RPC header and meta, and for the DeliverBatch envelope around the items.
constexpr uint64_t kRequestMargin = 64u << 10;

// Every integer field of CenterConfig and its range (proto/config.proto states them too), the
// shared HTTP, RPC-channel and register-channel messages included, so an error names the line
// of center's file; 0 keeps the default. center_options_test sets every integer field out of
// range and expects it refused, so none goes unchecked.
Status checkRanges(const config::CenterConfig& c, const ConfigFile* file, uint64_t max_batch) {
  const std::vector<FieldRange> own = {
      {"node_id", 0, IdGenerator::kMaxNode},
      {"max_targets_per_request", 1, 1'000'000},
      // A message must fit a client frame (64 KiB by default, with room for the envelope).
      {"max_payload_bytes", 1, 60 * 1024},
      {"max_batch_pushes", 1, 100'000},
      {"stop_grace_ms", 1, 600'000},
      {"deliver_batch_max_bytes", 4096, static_cast<int64_t>(max_batch)},
      {"deliver_batch_max_items", 1, 100'000},
      {"deliver_batch_max_targets", 1, 1'000'000},
      {"auth_failures_per_minute", 1, 1'000'000},
      {"auth_failure_burst", 1, 1'000'000},
      {"auth_failure_max_clients", 1, 10'000'000},
      {"queued_timeout_ms", 1, 600'000},
      {"job_chunk_targets", 1, 5'000},
      {"job_max_targets", 1, 10'000'000},
      {"job_max_running_per_app", 1, 10'000},
      {"job_rate_per_minute", 1, 600'000},
      {"job_burst", 1, 600'000},
      {"job_max_body_bytes", 1024, 64 << 20},
      {"job_ttl_s", 60, 2'592'000},
      {"job_worker_max_in_flight", 1, 1'000},
      {"job_max_attempts", 1, 100},
      // SaverClientConfig: center uses timeout_ms; the room's fields are checked too, so a
      // config shared with rooms is refused here as there.
      {"saver.timeout_ms", 10, 60'000},
      {"saver.ack_batch_max", 1, 100'000},
      {"saver.ack_batch_interval_ms", 1, 10'000},
      {"saver.ack_backlog_max", 1'000, 10'000'000},
      {"saver.replay_max_messages", 1, 100'000},
      {"saver.replay_page", 1, 1'000},
      {"saver.replay_timeout_ms", 10, 60'000},
      {"saver.replay_hold_max", 1, 65'536},
  };
  return checkFieldRanges(
      c, file,
      service::joinRanges({service::httpServerRanges("http"), service::httpServerRanges("admin"),
                           service::rpcChannelRanges("room_channel"),
                           service::registerClientRanges("register"),
                           service::rpcChannelRanges("saver.channel"),
                           service::coordinatorClientRanges("coordinator"),
                           service::discoveryRanges("discovery"), own}));
}

Result<std::vector<CenterOptions::App>> appsFromConfig(const config::CenterConfig& c) {
  std::vector<CenterOptions::App> apps;
  std::set<std::string> keys;
  std::set<std::string> names;
  for (const auto& a : c.apps()) {
    if (!validName(a.name())) return invalidArgument("apps: bad app name '" + a.name() + "'");
    if (!names.insert(a.name()).second) return invalidArgument("apps: '" + a.name() + "' twice");
    CenterOptions::App app;
    app.name = a.name();
    for (const auto& k : a.api_keys()) {
      if (k.size() < 16)
        return invalidArgument("apps[" + a.name() + "].api_keys: keys need 16+ bytes");
      if (!keys.insert(k).second)
        return invalidArgument("apps[" + a.name() + "]: an API key is used twice");
      app.api_keys.push_back(k);
    }
    if (a.push_rate_per_s()) app.rate_per_s = a.push_rate_per_s();
    app.burst = a.push_burst() ? a.push_burst() : 2 * app.rate_per_s;
    if (a.broadcast_rate_per_s()) app.broadcast_rate_per_s = a.broadcast_rate_per_s();
    app.broadcast_burst = a.broadcast_burst() ? a.broadcast_burst() : 2 * app.broadcast_rate_per_s;
    apps.push_back(std::move(app));
  }
  return apps;
}

// With queued configured every app must make a valid topic name "bcast.<app>" (NSQ: 1..64
// bytes of [A-Za-z0-9._-]); a bad address is refused here rather than at the first broadcast.
Status checkBroadcast(const CenterOptions& o) {
  for (const auto& address : o.broadcast.queued) {
    if (Result<net::InetAddress> a = net::InetAddress::parse(address); !a.isOk()) {
      return invalidArgument("queued: bad address '" + address + "' (numeric host:port)");
    }
  }
  if (o.broadcast.queued.empty()) return Status::ok();
  for (const auto& app : o.apps) {
    if (!queue::wire::isValidName(broadcastTopic(app.name)) ||
        queue::wire::isEphemeralName(broadcastTopic(app.name))) {
      return invalidArgument("apps: '" + app.name + "' cannot be broadcast to: topic '" +
                             broadcastTopic(app.name) +
                             "' is not a valid queued topic name (1..64 bytes of "
                             "A-Z a-z 0-9 . _ -); rename the app or leave queued empty");
    }
  }
  return Status::ok();
}

}  // namespace

std::string broadcastTopic(std::string_view app) {
  return "bcast." + std::string(app);
}

Result<CenterOptions::App> CenterOptions::appFromRecord(const discovery::AppRecord& record,
                                                        uint32_t workers) {
  if (!validName(record.name)) return invalidArgument("bad app name '" + record.name + "'");
  const double n = std::max<uint32_t>(workers, 1);
  App app;
  app.name = record.name;
  app.api_keys = record.api_keys;
  app.rate_per_s = record.push_rate_per_s / n;
  app.burst = std::max(1.0, record.push_burst / n);
  app.broadcast_rate_per_s = record.broadcast_rate_per_s / n;
  app.broadcast_burst = std::max(1.0, record.broadcast_burst / n);
  app.offline_ttl_s = record.offline_ttl_s;
  return app;
}

Status CenterOptions::validateBroadcast() const {
  return checkBroadcast(*this);
}

queue::Producer::Options CenterOptions::defaultProducer() {
  queue::Producer::Options p;
  p.timeout = std::chrono::milliseconds(5'000);
  p.reconnect_max = std::chrono::milliseconds(2'000);
  return p;
}

uint64_t CenterOptions::maxRoomRequestBytes(const rpc::Channel::Options& channel) {
  return channel.max_request_bytes;
}

BatchLimits CenterOptions::defaultDeliverBatch(const rpc::Channel::Options& channel) {
  BatchLimits b;
  b.max_bytes = std::max<uint64_t>(4096, maxRoomRequestBytes(channel) / 4);
  b.max_items = 1024;
  b.max_targets = 8192;
  return b;
}

http::HttpServer::Options CenterOptions::noAdmin() {
  http::HttpServer::Options o;
  o.address.clear();
  return o;
}

namespace {
// Kicks through a coordinator: `addresses` or `discover`, not both; neither, no coordinator
// (center kicks by itself). The room's upstream fields of the block are not read here.
Status coordinatorFromConfig(const config::CoordinatorClientConfig& c, const ConfigFile* file,
                             CenterOptions* o) {
  if (!c.discover() && c.addresses().empty()) return Status::ok();
  auto refuse = [file](std::string_view field, const std::string& why) {
    return file ? file->fieldError(field, why) : invalidArgument(std::string(field) + ": " + why);
  };
  if (c.discover() && !c.addresses().empty()) {
    return refuse("coordinator.discover", "addresses and discover: true exclude each other");
  }
  if (c.discover() && !o->discovery.enabled()) {
    return refuse("coordinator.discover", "needs discovery.zookeeper");
  }
  CenterOptions::Coordinator k;
  k.discover = c.discover();
  for (const std::string& address : c.addresses()) {
    if (!net::InetAddress::parse(address).isOk()) {
      return refuse("coordinator.addresses", "bad address '" + address + "' (numeric host:port)");
    }
    k.addresses.push_back(address);
  }
  ASSIGN_OR_RETURN(k.channel, rpc::Channel::Options::fromConfig(c.channel()));
  if (c.timeout_ms()) k.timeout = std::chrono::milliseconds(c.timeout_ms());
  o->coordinator = std::move(k);
  return Status::ok();
}
}  // namespace

Result<CenterOptions> CenterOptions::fromConfig(const config::CenterConfig& c,
                                                const ConfigFile* file) {
  CenterOptions o;
  // The ranges first (room_channel.max_request_bytes among them), so every error names its
  // field and line; the batch cap follows the room channel's largest request.
  const uint64_t max_request = c.room_channel().max_request_bytes()
                                   ? c.room_channel().max_request_bytes()
                                   : maxRoomRequestBytes(rpc::Channel::Options{});
  const uint64_t max_batch =
      max_request > kRequestMargin + 4096 ? max_request - kRequestMargin : 4096;
  RETURN_IF_ERROR(checkRanges(c, file, max_batch));
  ASSIGN_OR_RETURN(o.room_channel, rpc::Channel::Options::fromConfig(c.room_channel()));
  o.http = http::HttpServer::Options::fromConfig(c.http());
  if (c.http().listen().address().empty()) o.http.address = "127.0.0.1:8080";
  o.admin = http::HttpServer::Options::fromConfig(c.admin());
  o.admin.address = c.admin().listen().address();  // "" stays "": no admin port
  ASSIGN_OR_RETURN(o.apps, appsFromConfig(c));
  ASSIGN_OR_RETURN(o.register_client, reg::RegisterClient::Options::fromConfig(c.register_()));
  ASSIGN_OR_RETURN(o.saver, SaverClient::Options::fromConfig(c.saver()));
  ASSIGN_OR_RETURN(o.discovery,
                   service::DiscoveryOptions::fromConfig(c.discovery(), file, "discovery"));
  if (o.apps.empty() && !o.discovery.enabled()) {
    return invalidArgument(
        "center: no apps configured: list them in `apps`, or configure discovery (zookeeper) "
        "to read them live from ZooKeeper apps/<app>");
  }
  if (o.register_client.discover && !o.discovery.enabled()) {
    return file ? file->fieldError("register.discover", "needs discovery.zookeeper")
                : invalidArgument("register.discover: needs discovery.zookeeper");
  }
  RETURN_IF_ERROR(coordinatorFromConfig(c.coordinator(), file, &o));
  if (o.saver.discover && !o.discovery.enabled()) {
    return invalidArgument("saver.discover: needs discovery.zookeeper");
  }
  RETURN_IF_ERROR(
      service::applyClusterKey(c.cluster_key(), file, nullptr,
                               {&o.room_channel, &o.register_client.channel, &o.saver.channel,
                                o.coordinator ? &o.coordinator->channel : nullptr}));
  o.node_id = c.node_id();
  if (c.max_targets_per_request()) o.push.max_targets = c.max_targets_per_request();
  if (c.max_payload_bytes()) o.push.max_payload_bytes = c.max_payload_bytes();
  if (c.max_batch_pushes()) o.push.max_batch_pushes = c.max_batch_pushes();
  if (c.stop_grace_ms()) o.stop_grace = std::chrono::milliseconds(c.stop_grace_ms());
  o.deliver_batch = defaultDeliverBatch(o.room_channel);
  o.deliver_batch.max_bytes = std::min<uint64_t>(o.deliver_batch.max_bytes, max_batch);
  if (c.deliver_batch_max_bytes()) o.deliver_batch.max_bytes = c.deliver_batch_max_bytes();
  if (c.deliver_batch_max_items()) o.deliver_batch.max_items = c.deliver_batch_max_items();
  if (c.deliver_batch_max_targets()) o.deliver_batch.max_targets = c.deliver_batch_max_targets();
  if (c.auth_failures_per_minute()) {
    o.auth_failures.rate_per_s = c.auth_failures_per_minute() / 60.0;
  }
  if (c.auth_failure_burst()) o.auth_failures.burst = c.auth_failure_burst();
  if (c.auth_failure_max_clients()) o.auth_failures.max_clients = c.auth_failure_max_clients();
  o.broadcast.queued.assign(c.queued().begin(), c.queued().end());
  if (c.queued_timeout_ms()) {
    o.broadcast.producer.timeout = std::chrono::milliseconds(c.queued_timeout_ms());
  }
  RETURN_IF_ERROR(o.validateBroadcast());
  o.jobs.redis = c.redis();
  if (!o.jobs.redis.empty()) {
    if (Result<net::InetAddress> a = net::InetAddress::parse(o.jobs.redis); !a.isOk()) {
      return invalidArgument("redis: bad address '" + o.jobs.redis + "' (numeric host:port)");
    }
  }
  if (c.job_chunk_targets()) o.jobs.chunk_targets = c.job_chunk_targets();
  if (c.job_max_targets()) o.jobs.max_targets = c.job_max_targets();
  if (c.job_max_running_per_app()) o.jobs.max_running_per_app = c.job_max_running_per_app();
  if (c.job_rate_per_minute()) o.jobs.rate_per_s = c.job_rate_per_minute() / 60.0;
  if (c.job_burst()) o.jobs.burst = c.job_burst();
  if (c.job_max_body_bytes()) o.jobs.max_body_bytes = c.job_max_body_bytes();
  if (c.job_ttl_s()) o.jobs.ttl = std::chrono::seconds(c.job_ttl_s());
  if (c.job_worker_max_in_flight()) o.jobs.worker_max_in_flight = c.job_worker_max_in_flight();
  if (c.job_max_attempts()) o.jobs.max_attempts = c.job_max_attempts();
  return o;
}

}  // namespace push::center
