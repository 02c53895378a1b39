#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/discovery/service_instance.h"
#include "common/http/http_server.h"
#include "services/dispatcher/route_table.h"

namespace push::config {
class DispatcherConfig;
}

namespace push::dispatcher {

// Heartbeat interval hints per network type, seconds (as the room proposes them at auth).
struct HeartbeatHints {
  uint32_t wifi_s = 60;
  uint32_t cellular_s = 180;
  uint32_t ethernet_s = 60;
  uint32_t unknown_s = 90;
};

// Everything DispatcherServer needs, built in code (tests) or from a DispatcherConfig
// (fromConfig). proto/config.proto's DispatcherConfig gives the ranges.
struct DispatcherOptions {
  // The route API port (also /healthz, /metrics, /status). Default from a config:
  // 127.0.0.1:8090; HttpServer's own default (127.0.0.1:0) when built in code.
  http::HttpServer::Options http;
  // This process's own admin port. Address "" (default): none.
  http::HttpServer::Options admin = noAdmin();
  // ZooKeeper hosts; empty (default): static mode, `static_rooms` is the room list.
  std::string zk_hosts;
  // Default: "/push/default".
  std::string zk_root = "/push/default";
  // Default: 10 s.
  std::chrono::milliseconds zk_session_timeout{10'000};
  // The rooms of static mode (ignored with ZooKeeper).
  std::vector<discovery::ServiceInstance> static_rooms;
  RouteTable::Options routing;
  HeartbeatHints heartbeat;
  // How long a client may cache an answer. Default: 300 s.
  uint32_t ttl_s = 300;
  // Endpoints in the flat "tcp" and "ws" lists of an answer, each. Default: 16.
  uint32_t max_endpoints = 16;

  static http::HttpServer::Options noAdmin();
  static Result<DispatcherOptions> fromConfig(const config::DispatcherConfig& config,
                                              const ConfigFile* file);
};

}  // namespace push::dispatcher
