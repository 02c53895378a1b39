#include "services/room/room_options.h"

#include <iterator>
#include <vector>

#include "proto/config.pb.h"
#include "services/common/broadcast_topic.h"
#include "services/common/cluster_key.h"
#include "services/common/config_ranges.h"

namespace push::room {

namespace {

// Every integer field of RoomConfig and its range (proto/config.proto states them too), the
// shared RPC, HTTP and register-channel messages included, so an error names the line of the
// room's file. 0 is proto3's "not set" and keeps the default. room_options_test sets every
// integer field out of range and expects it refused, so none goes unchecked.
std::vector<FieldRange> roomRanges() {
  static const FieldRange kOwn[] = {
      {"tcp.backlog", 1, 65535},
      {"websocket.backlog", 1, 65535},
      {"max_frame_bytes", 1024, 16 << 20},
      {"auth_timeout_ms", 100, 600'000},
      {"heartbeat.min_s", 1, 3600},
      {"heartbeat.unknown_s", 1, 3600},
      {"heartbeat.cellular_s", 1, 3600},
      {"heartbeat.wifi_s", 1, 3600},
      {"heartbeat.max_s", 1, 3600},
      {"limits.high_watermark_bytes", 1, 1 << 30},
      {"limits.low_watermark_bytes", 1, 1 << 30},
      {"limits.hard_limit_bytes", 1, 1 << 30},
      {"max_apps_per_connection", 1, kMaxAppsPerConnection},
      {"max_tags_per_connection", 1, kMaxTagsPerConnection},
      {"drain_window_ms", 0, 3'600'000},
      {"drain_deadline_ms", 100, 3'600'000},
      {"session_batch_ms", 1, 60'000},
      {"register_heartbeat_ms", 100, 60'000},
      {"max_connections_per_user", 1, 10'000},
      {"max_connections_per_device", 1, 1'000},
      {"ipv6_prefix_bits", 1, 128},
      {"max_unacked_per_connection", 1, 65'536},
      {"max_connections_per_ip", 1, 10'000'000},
      {"max_connects_per_ip_per_s", 1, 1'000'000},
      {"queued_lookup_interval_ms", 100, 600'000},
      {"broadcast_rate_per_s", 1'000, 100'000'000},
      {"broadcast_max_in_flight", 1, 2'500},
      {"saver.timeout_ms", 10, 60'000},
      {"saver.ack_batch_max", 1, 100'000},
      {"saver.ack_batch_interval_ms", 1, 10'000},
      {"saver.ack_backlog_max", 1'000, 10'000'000},
      {"saver.replay_max_messages", 1, 100'000},
      {"saver.replay_page", 1, 1'000},
      {"saver.replay_timeout_ms", 10, 60'000},
      {"saver.replay_hold_max", 1, 65'536},
  };
  return service::joinRanges(
      {service::rpcServerRanges("rpc"), service::httpServerRanges("admin"),
       service::registerClientRanges("register"), service::rpcChannelRanges("saver.channel"),
       service::discoveryRanges("discovery"), service::coordinatorClientRanges("coordinator"),
       std::vector<FieldRange>(std::begin(kOwn), std::end(kOwn))});
}

Result<std::vector<AppSecret>> appsFromConfig(const config::RoomConfig& c) {
  std::vector<AppSecret> apps;
  for (const auto& app : c.apps()) {
    if (app.name().empty() || app.name().size() > 64) {
      return invalidArgument("apps: app name must be 1..64 characters");
    }
    if (app.secret().size() < 16) {
      return invalidArgument("apps[" + app.name() + "].secret: at least 16 bytes");
    }
    for (const auto& known : apps) {
      if (known.name == app.name()) return invalidArgument("apps: '" + app.name() + "' twice");
    }
    apps.push_back({app.name(), app.secret()});
  }
  if (apps.size() > 65535) return invalidArgument("apps: at most 65535");
  return apps;
}

Status heartbeatFromConfig(const config::HeartbeatConfig& hb, RoomOptions* o) {
  if (hb.wifi_s()) o->heartbeat_wifi_s = hb.wifi_s();
  if (hb.cellular_s()) o->heartbeat_cellular_s = hb.cellular_s();
  if (hb.unknown_s()) o->heartbeat_unknown_s = hb.unknown_s();
  if (hb.min_s()) o->heartbeat_min_s = hb.min_s();
  if (hb.max_s()) o->heartbeat_max_s = hb.max_s();
  if (o->heartbeat_min_s > o->heartbeat_max_s) {
    return invalidArgument("heartbeat: min_s must not exceed max_s");
  }
  return Status::ok();
}

Status limitsFromConfig(const config::ConnectionLimitsConfig& l, net::TcpConnection::Limits* o) {
  if (l.high_watermark_bytes()) o->high_watermark = l.high_watermark_bytes();
  if (l.low_watermark_bytes()) o->low_watermark = l.low_watermark_bytes();
  if (l.hard_limit_bytes()) o->hard_limit = l.hard_limit_bytes();
  if (!l.high_watermark_bytes() && !l.hard_limit_bytes()) {
    // Mobile clients: a client that cannot take 1 MiB is gone.
    o->high_watermark = 256u << 10;
    o->low_watermark = 64u << 10;
    o->hard_limit = 1u << 20;
  }
  if (o->low_watermark > o->high_watermark || o->high_watermark > o->hard_limit) {
    return invalidArgument("limits: need low_watermark <= high_watermark <= hard_limit");
  }
  return Status::ok();
}

Status admissionFromConfig(const config::RoomConfig& c, RoomOptions* o) {
  o->ip_filter.allow_cidrs.assign(c.allow_cidrs().begin(), c.allow_cidrs().end());
  o->ip_filter.deny_cidrs.assign(c.deny_cidrs().begin(), c.deny_cidrs().end());
  o->ip_filter.max_connections_per_ip = c.max_connections_per_ip();
  o->ip_filter.max_connects_per_s = c.max_connects_per_ip_per_s();
  if (c.ipv6_prefix_bits()) o->ip_filter.ipv6_prefix = c.ipv6_prefix_bits();
  Sessions::Limits& s = o->session_limits;
  if (c.max_connections_per_user()) s.max_per_user = c.max_connections_per_user();
  if (c.max_connections_per_device()) s.max_per_device = c.max_connections_per_device();
  const std::string& policy = c.session_limit_policy();
  if (policy.empty() || policy == "kick_oldest") {
    s.policy = Sessions::LimitPolicy::KickOldest;
  } else if (policy == "refuse_newest") {
    s.policy = Sessions::LimitPolicy::RefuseNewest;
  } else {
    return invalidArgument("session_limit_policy: '" + policy +
                           "' is neither \"kick_oldest\" nor \"refuse_newest\"");
  }
  if (c.max_unacked_per_connection()) {
    o->max_unacked_per_connection = c.max_unacked_per_connection();
  }
  if (c.max_apps_per_connection()) o->max_apps_per_connection = c.max_apps_per_connection();
  if (c.max_tags_per_connection()) o->max_tags_per_connection = c.max_tags_per_connection();
  return Status::ok();
}

// With queued (or lookupd) configured every app must make a valid topic name bcast.<app>.
Status broadcastFromConfig(const config::RoomConfig& c, RoomOptions* o) {
  o->queued.assign(c.queued().begin(), c.queued().end());
  o->queued_lookupd.assign(c.queued_lookupd().begin(), c.queued_lookupd().end());
  for (const auto* list : {&o->queued, &o->queued_lookupd}) {
    for (const std::string& address : *list) {
      const size_t colon = address.rfind(':');
      if (address.empty() || colon == std::string::npos || colon + 1 == address.size()) {
        return invalidArgument((list == &o->queued ? "queued" : "queued_lookupd") +
                               std::string(": bad address '") + address + "' (host:port)");
      }
    }
  }
  if (c.queued_lookup_interval_ms()) {
    o->queued_lookup_interval = std::chrono::milliseconds(c.queued_lookup_interval_ms());
  }
  if (c.broadcast_rate_per_s()) o->broadcast_rate_per_s = c.broadcast_rate_per_s();
  if (c.broadcast_max_in_flight()) o->broadcast_max_in_flight = c.broadcast_max_in_flight();
  if (o->queued.empty() && o->queued_lookupd.empty()) return Status::ok();
  for (const AppSecret& app : o->apps)
    RETURN_IF_ERROR(service::checkBroadcastTopic(app.name));
  return Status::ok();
}

// Where the room finds a backend it calls (`name`: saver, coordinator): `discover` (its
// instances in ZooKeeper, which needs a discovery block) or static `addresses` ("host:port"),
// not both. Neither: *configured is false and the backend is off.
Status backendAddresses(std::string_view name, bool discover,
                        const google::protobuf::RepeatedPtrField<std::string>& addresses,
                        bool discovery_enabled, bool* configured, std::vector<std::string>* out) {
  const std::string n(name);
  *configured = discover || !addresses.empty();
  if (discover) {
    if (!addresses.empty()) {
      return invalidArgument(n + ": addresses and discover: true exclude each other");
    }
    if (!discovery_enabled) return invalidArgument(n + ".discover: needs discovery.zookeeper");
  }
  for (const std::string& address : addresses) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
      return invalidArgument(n + ".addresses: bad address '" + address + "' (host:port)");
    }
    out->push_back(address);
  }
  return Status::ok();
}

// Without saver addresses (or discover) there is no saver: the other fields are then ignored.
Status saverFromConfig(const config::SaverClientConfig& c, RoomOptions* o) {
  RoomOptions::Saver s;
  bool configured = false;
  RETURN_IF_ERROR(backendAddresses("saver", c.discover(), c.addresses(), o->discovery.enabled(),
                                   &configured, &s.addresses));
  if (!configured) return Status::ok();
  s.discover = c.discover();
  ASSIGN_OR_RETURN(s.channel, rpc::Channel::Options::fromConfig(c.channel()));
  if (c.timeout_ms()) s.timeout = std::chrono::milliseconds(c.timeout_ms());
  if (c.ack_batch_max()) s.ack_batch_max = c.ack_batch_max();
  if (c.ack_batch_interval_ms()) {
    s.ack_batch_interval = std::chrono::milliseconds(c.ack_batch_interval_ms());
  }
  if (c.ack_backlog_max()) s.ack_backlog_max = c.ack_backlog_max();
  if (c.replay_max_messages()) s.replay_max_messages = c.replay_max_messages();
  if (c.replay_page()) s.replay_page = c.replay_page();
  if (c.replay_timeout_ms()) s.replay_timeout = std::chrono::milliseconds(c.replay_timeout_ms());
  if (c.replay_hold_max()) s.replay_hold_max = c.replay_hold_max();
  o->saver = std::move(s);
  return Status::ok();
}

// Without coordinator addresses (or discover) there is no coordinator: the other fields are
// then ignored.
Status coordinatorFromConfig(const config::CoordinatorClientConfig& c, RoomOptions* o) {
  RoomOptions::Coordinator k;
  bool configured = false;
  RETURN_IF_ERROR(backendAddresses("coordinator", c.discover(), c.addresses(),
                                   o->discovery.enabled(), &configured, &k.addresses));
  if (!configured) return Status::ok();
  k.discover = c.discover();
  ASSIGN_OR_RETURN(k.channel, rpc::Channel::Options::fromConfig(c.channel()));
  if (c.timeout_ms()) k.timeout = std::chrono::milliseconds(c.timeout_ms());
  if (c.batch_max()) k.batch_max = c.batch_max();
  if (c.batch_interval_ms()) k.batch_interval = std::chrono::milliseconds(c.batch_interval_ms());
  if (c.max_pending_per_connection()) k.max_pending_per_connection = c.max_pending_per_connection();
  if (c.max_pending()) k.max_pending = c.max_pending();
  if (c.event_backlog_max()) k.event_backlog_max = c.event_backlog_max();
  o->coordinator = std::move(k);
  return Status::ok();
}

}  // namespace

Result<RoomOptions::HeartbeatHints> RoomOptions::liveHeartbeats(const config::RoomConfig& live,
                                                                const ConfigFile* file,
                                                                HeartbeatHints base) {
  const FieldRange ranges[] = {
      {"heartbeat.min_s", 1, 3600},      {"heartbeat.unknown_s", 1, 3600},
      {"heartbeat.cellular_s", 1, 3600}, {"heartbeat.wifi_s", 1, 3600},
      {"heartbeat.max_s", 1, 3600},
  };
  RETURN_IF_ERROR(checkFieldRanges(live, file, ranges));
  RoomOptions o;
  o.heartbeat_wifi_s = base.wifi_s;
  o.heartbeat_cellular_s = base.cellular_s;
  o.heartbeat_unknown_s = base.unknown_s;
  o.heartbeat_min_s = base.min_s;
  o.heartbeat_max_s = base.max_s;
  RETURN_IF_ERROR(heartbeatFromConfig(live.heartbeat(), &o));
  return o.heartbeats();
}

Result<RoomOptions> RoomOptions::fromConfig(const config::RoomConfig& c, const ConfigFile* file) {
  RETURN_IF_ERROR(checkFieldRanges(c, file, roomRanges()));
  RoomOptions o;
  if (!c.name().empty()) o.name = c.name();
  if (!c.tcp().address().empty()) o.tcp_address = c.tcp().address();
  o.reuse_port = c.tcp().reuse_port();
  o.ws_address = c.websocket().address();
  ASSIGN_OR_RETURN(o.rpc, rpc::Server::Options::fromConfig(c.rpc()));
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:0";
  o.advertise_rpc = c.advertise_rpc();
  o.admin_address = c.admin().listen().address();
  ASSIGN_OR_RETURN(o.apps, appsFromConfig(c));
  if (c.max_frame_bytes()) o.max_frame_bytes = c.max_frame_bytes();
  if (c.auth_timeout_ms()) o.auth_timeout = std::chrono::milliseconds(c.auth_timeout_ms());
  RETURN_IF_ERROR(heartbeatFromConfig(c.heartbeat(), &o));
  RETURN_IF_ERROR(limitsFromConfig(c.limits(), &o.limits));
  RETURN_IF_ERROR(admissionFromConfig(c, &o));
  if (c.drain_window_ms()) o.drain_window = std::chrono::milliseconds(c.drain_window_ms());
  if (c.drain_deadline_ms()) o.drain_deadline = std::chrono::milliseconds(c.drain_deadline_ms());
  if (c.register_heartbeat_ms()) {
    o.register_heartbeat = std::chrono::milliseconds(c.register_heartbeat_ms());
  }
  RETURN_IF_ERROR(broadcastFromConfig(c, &o));
  ASSIGN_OR_RETURN(o.discovery,
                   service::DiscoveryOptions::fromConfig(c.discovery(), file, "discovery"));
  if (c.has_register_() && c.register_().shards_size() == 0 && !c.register_().discover()) {
    return file ? file->fieldError("register", "list shards, or set discover: true")
                : invalidArgument("register: list shards, or set discover: true");
  }
  if (c.register_().shards_size() > 0 || c.register_().discover()) {
    if (c.register_().discover() && !o.discovery.enabled()) {
      return file ? file->fieldError("register.discover", "needs discovery.zookeeper")
                  : invalidArgument("register.discover: needs discovery.zookeeper");
    }
    ASSIGN_OR_RETURN(auto rc, reg::RegisterClient::Options::fromConfig(c.register_()));
    if (c.session_batch_ms()) rc.batch_interval = std::chrono::milliseconds(c.session_batch_ms());
    o.register_client = std::move(rc);
  }
  // The lead's rule for every service: static apps, or (none listed) the apps of ZooKeeper.
  if (o.apps.empty() && !o.discovery.enabled()) {
    return invalidArgument(
        "apps: none configured: list apps, or configure discovery.zookeeper to take them from "
        "ZooKeeper apps/<app>");
  }
  RETURN_IF_ERROR(saverFromConfig(c.saver(), &o));
  RETURN_IF_ERROR(coordinatorFromConfig(c.coordinator(), &o));
  RETURN_IF_ERROR(service::applyClusterKey(
      c.cluster_key(), file, &o.rpc,
      {o.register_client ? &o.register_client->channel : nullptr,
       o.saver ? &o.saver->channel : nullptr, o.coordinator ? &o.coordinator->channel : nullptr}));
  o.websocket.max_message_bytes = o.max_frame_bytes;
  return o;
}

}  // namespace push::room
