#include "services/dispatcher/dispatcher_options.h"

#include <algorithm>
#include <set>

#include "proto/config.pb.h"
#include "services/common/config_ranges.h"

namespace push::dispatcher {
namespace {

Status checkRanges(const config::DispatcherConfig& c, const ConfigFile* file) {
  const std::vector<FieldRange> own = {
      {"zookeeper.session_timeout_ms", 1'000, 120'000},
      {"heartbeat.wifi_s", 1, 3600},
      {"heartbeat.cellular_s", 1, 3600},
      {"heartbeat.unknown_s", 1, 3600},
      {"heartbeat.min_s", 1, 3600},
      {"heartbeat.max_s", 1, 3600},
      {"ttl_s", 1, 86'400},
      {"max_rooms", 1, 64},
      {"min_weight_percent", 1, 100},
  };
  const auto ranges = service::joinRanges(
      {own, service::httpServerRanges("http"), service::httpServerRanges("admin")});
  return checkFieldRanges(c, file, ranges);
}

}  // namespace

http::HttpServer::Options DispatcherOptions::noAdmin() {
  http::HttpServer::Options o;
  o.address = "";
  return o;
}

Result<DispatcherOptions> DispatcherOptions::fromConfig(const config::DispatcherConfig& c,
                                                        const ConfigFile* file) {
  RETURN_IF_ERROR(checkRanges(c, file));
  DispatcherOptions o;
  o.http = http::HttpServer::Options::fromConfig(c.http());
  if (c.http().listen().address().empty()) o.http.address = "127.0.0.1:8090";
  o.admin = http::HttpServer::Options::fromConfig(c.admin());
  o.admin.address = c.admin().listen().address();  // "" stays "": no admin port
  o.zk_hosts = c.zookeeper().hosts();
  if (!c.zookeeper().root().empty()) o.zk_root = c.zookeeper().root();
  if (c.zookeeper().session_timeout_ms()) {
    o.zk_session_timeout = std::chrono::milliseconds(c.zookeeper().session_timeout_ms());
  }
  std::set<std::string> ids;
  for (const auto& r : c.rooms()) {
    if (r.id().empty()) return invalidArgument("rooms: a room without id");
    if (!ids.insert(r.id()).second) return invalidArgument("rooms: id '" + r.id() + "' twice");
    if (r.weight() > 1'000'000) {
      return invalidArgument("rooms '" + r.id() + "': weight above 1000000");
    }
    discovery::ServiceInstance in;
    in.id = r.id();
    in.region = r.region();
    if (r.weight()) in.weight = r.weight();
    in.endpoints.insert(r.endpoints().begin(), r.endpoints().end());
    for (const auto& [name, address] : in.endpoints) {
      std::string host;
      uint16_t port = 0;
      if (!parseEndpoint(address, &host, &port)) {
        return invalidArgument("rooms '" + r.id() + "': endpoint " + name + ": bad address '" +
                               address + "' (host:port)");
      }
    }
    o.static_rooms.push_back(std::move(in));
  }
  std::sort(o.static_rooms.begin(), o.static_rooms.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (o.zk_hosts.empty() && o.static_rooms.empty()) {
    return invalidArgument("neither zookeeper.hosts nor rooms: no room to route to");
  }
  o.routing.default_region = c.default_region();
  if (c.max_rooms()) o.routing.max_rooms = c.max_rooms();
  if (c.min_weight_percent()) o.routing.min_weight_fraction = c.min_weight_percent() / 100.0;
  // As the room (HeartbeatConfig): ethernet is wifi; every hint clamped to [min_s, max_s].
  const auto& hb = c.heartbeat();
  if (hb.wifi_s()) o.heartbeat.wifi_s = o.heartbeat.ethernet_s = hb.wifi_s();
  if (hb.cellular_s()) o.heartbeat.cellular_s = hb.cellular_s();
  if (hb.unknown_s()) o.heartbeat.unknown_s = hb.unknown_s();
  const uint32_t min_s = hb.min_s() ? hb.min_s() : 5;
  const uint32_t max_s = hb.max_s() ? hb.max_s() : 600;
  if (min_s > max_s) return invalidArgument("heartbeat: min_s above max_s");
  for (uint32_t* v : {&o.heartbeat.wifi_s, &o.heartbeat.cellular_s, &o.heartbeat.ethernet_s,
                      &o.heartbeat.unknown_s}) {
    *v = std::clamp(*v, min_s, max_s);
  }
  if (c.ttl_s()) o.ttl_s = c.ttl_s();
  return o;
}

}  // namespace push::dispatcher
