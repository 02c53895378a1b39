#pragma once

#include <chrono>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/rpc/server.h"
#include "services/common/discovery_link.h"
#include "services/register/register_service.h"

namespace push::config {
class RegisterConfig;
}

namespace push::reg {

// Everything one register instance needs (RegisterServer::Options), built from
// RegisterConfig (fromConfig) or in code (tests: every default below is usable as is).
struct RegisterOptions {
  // The session table: slots owned, room timeout, sessions per user, pull page size.
  RegisterService::Options service;
  // The Register RPC listener. From config the address defaults to "127.0.0.1:7200"; built in
  // code it is rpc::Server::Options' "127.0.0.1:0".
  rpc::Server::Options rpc;
  // The admin HTTP port (/healthz, /metrics, /status). Empty address (the default): none.
  http::HttpServer::Options admin = noAdmin();
  // ZooKeeper: registers this register as services/register (endpoints rpc, admin) and
  // watches services/room (a room whose node goes loses its sessions at once). Off by default.
  service::DiscoveryOptions discovery;
  // Slots from ZooKeeper (config `slots: "auto"`, needs `discovery`): this instance owns its
  // share of the register instances registered there (slot_assignment.h), and its slots move
  // live when one joins or leaves. Until its own node is first listed it owns none; while its node
  // is missing later (a ZooKeeper session being re-established) it keeps what it had. Off: the
  // static `service.slots`.
  bool slots_from_discovery = false;
  // RegisterServer::stop(): how long calls already running (and their responses) get before
  // every connection is closed. Default: 5 s. From config: 1 ms..60 s.
  std::chrono::milliseconds shutdown_grace{5000};

  // Validates every integer field of `config` with checkFieldRange (INVALID_ARGUMENT naming
  // the field, with file:line:col when `file` is given; `file` may be null) and the slot
  // ranges; fields left 0/empty keep the defaults above.
  static Result<RegisterOptions> fromConfig(const config::RegisterConfig& config,
                                            const ConfigFile* file);

  static http::HttpServer::Options noAdmin() {
    http::HttpServer::Options o;
    o.address.clear();
    return o;
  }
};

}  // namespace push::reg
