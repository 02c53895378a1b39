#include "services/room/room_options.h"

#include "proto/config.pb.h"

namespace push::room {

Result<RoomOptions> RoomOptions::fromConfig(const config::RoomConfig& c, const ConfigFile* file) {
  // Each check names the field, with file:line:column when the config came from a file. 0 is
  // proto3's "not set" (the default applies).
  auto range = [&](std::string_view field, int64_t value, int64_t min, int64_t max) -> Status {
    if (value == 0 || (value >= min && value <= max)) return Status::ok();
    const std::string why = std::to_string(value) + " is out of range [" + std::to_string(min) +
                            ", " + std::to_string(max) + "]";
    return file ? file->fieldError(field, why) : invalidArgument(std::string(field) + ": " + why);
  };
  RETURN_IF_ERROR(range("max_frame_bytes", c.max_frame_bytes(), 1024, 16 << 20));
  RETURN_IF_ERROR(range("auth_timeout_ms", c.auth_timeout_ms(), 100, 600'000));
  RETURN_IF_ERROR(range("heartbeat.min_s", c.heartbeat().min_s(), 1, 3600));
  RETURN_IF_ERROR(range("heartbeat.unknown_s", c.heartbeat().unknown_s(), 1, 3600));
  RETURN_IF_ERROR(range("heartbeat.cellular_s", c.heartbeat().cellular_s(), 1, 3600));
  RETURN_IF_ERROR(range("heartbeat.wifi_s", c.heartbeat().wifi_s(), 1, 3600));
  RETURN_IF_ERROR(range("heartbeat.max_s", c.heartbeat().max_s(), 1, 3600));
  RETURN_IF_ERROR(
      range("max_apps_per_connection", c.max_apps_per_connection(), 1, kMaxAppsPerConnection));
  RETURN_IF_ERROR(range("drain_window_ms", c.drain_window_ms(), 0, 3'600'000));
  RETURN_IF_ERROR(range("drain_deadline_ms", c.drain_deadline_ms(), 100, 3'600'000));
  RETURN_IF_ERROR(range("register_heartbeat_ms", c.register_heartbeat_ms(), 100, 60'000));

  RoomOptions o;
  if (!c.name().empty()) o.name = c.name();
  if (!c.tcp().address().empty()) o.tcp_address = c.tcp().address();
  o.reuse_port = c.tcp().reuse_port();
  o.ws_address = c.websocket().address();
  ASSIGN_OR_RETURN(o.rpc, rpc::Server::Options::fromConfig(c.rpc()));
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:0";
  o.advertise_rpc = c.advertise_rpc();
  o.admin_address = c.admin().listen().address();
  for (const auto& app : c.apps()) {
    if (app.name().empty() || app.name().size() > 64) {
      return invalidArgument("apps: app name must be 1..64 characters");
    }
    if (app.secret().size() < 16) {
      return invalidArgument("apps[" + app.name() + "].secret: at least 16 bytes");
    }
    for (const auto& known : o.apps) {
      if (known.name == app.name()) return invalidArgument("apps: '" + app.name() + "' twice");
    }
    o.apps.push_back({app.name(), app.secret()});
  }
  if (c.max_frame_bytes()) o.max_frame_bytes = c.max_frame_bytes();
  if (c.auth_timeout_ms()) o.auth_timeout = std::chrono::milliseconds(c.auth_timeout_ms());
  const auto& hb = c.heartbeat();
  if (hb.wifi_s()) o.heartbeat_wifi_s = hb.wifi_s();
  if (hb.cellular_s()) o.heartbeat_cellular_s = hb.cellular_s();
  if (hb.unknown_s()) o.heartbeat_unknown_s = hb.unknown_s();
  if (hb.min_s()) o.heartbeat_min_s = hb.min_s();
  if (hb.max_s()) o.heartbeat_max_s = hb.max_s();
  if (o.heartbeat_min_s > o.heartbeat_max_s) {
    return invalidArgument("heartbeat: min_s must not exceed max_s");
  }
  const auto& l = c.limits();
  if (l.high_watermark_bytes()) o.limits.high_watermark = l.high_watermark_bytes();
  if (l.low_watermark_bytes()) o.limits.low_watermark = l.low_watermark_bytes();
  if (l.hard_limit_bytes()) o.limits.hard_limit = l.hard_limit_bytes();
  if (!c.limits().high_watermark_bytes() && !c.limits().hard_limit_bytes()) {
    // Mobile clients: a client that cannot take 1 MiB is gone.
    o.limits.high_watermark = 256u << 10;
    o.limits.low_watermark = 64u << 10;
    o.limits.hard_limit = 1u << 20;
  }
  if (o.limits.low_watermark > o.limits.high_watermark ||
      o.limits.high_watermark > o.limits.hard_limit) {
    return invalidArgument("limits: need low_watermark <= high_watermark <= hard_limit");
  }
  o.ip_filter.allow_cidrs.assign(c.allow_cidrs().begin(), c.allow_cidrs().end());
  o.ip_filter.deny_cidrs.assign(c.deny_cidrs().begin(), c.deny_cidrs().end());
  o.ip_filter.max_connections_per_ip = c.max_connections_per_ip();
  o.ip_filter.max_connects_per_s = c.max_connects_per_ip_per_s();
  if (c.max_apps_per_connection()) o.max_apps_per_connection = c.max_apps_per_connection();
  if (c.drain_window_ms()) o.drain_window = std::chrono::milliseconds(c.drain_window_ms());
  if (c.drain_deadline_ms()) o.drain_deadline = std::chrono::milliseconds(c.drain_deadline_ms());
  if (c.register_heartbeat_ms()) {
    o.register_heartbeat = std::chrono::milliseconds(c.register_heartbeat_ms());
  }
  if (c.register_().shards_size() > 0) {
    ASSIGN_OR_RETURN(auto rc, reg::RegisterClient::Options::fromConfig(c.register_()));
    if (c.session_batch_ms()) rc.batch_interval = std::chrono::milliseconds(c.session_batch_ms());
    o.register_client = std::move(rc);
  }
  o.websocket.max_message_bytes = o.max_frame_bytes;
  return o;
}

}  // namespace push::room
