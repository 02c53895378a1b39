#pragma once

#include <chrono>
#include <optional>

#include "common/base/config.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/mysql/mysql_pool.h"
#include "common/redis/redis_router.h"
#include "common/rpc/server.h"
#include "services/common/discovery_link.h"
#include "services/saver/broadcast_log.h"
#include "services/saver/inbox_store.h"
#include "services/saver/recovery.h"
#include "services/saver/saver_service.h"
#include "services/saver/write_behind.h"

namespace push::config {
class SaverConfig;
}

namespace push::saver {

// Everything one saver instance needs (SaverServer::Options), from SaverConfig (fromConfig)
// or in code (tests: the defaults below are usable as is, with Redis at redis.addresses).
struct SaverOptions {
  redis::RedisRouter::Options redis;
  // Unset: no MySQL (no write-behind, no recovery).
  std::optional<mysql::MySqlPool::Options> mysql;
  InboxStore::Options inbox;
  BroadcastLog::Options broadcasts;
  WriteBehind::Options write_behind;
  Recovery::Options recovery;
  SaverService::Limits limits;
  // The Saver RPC listener. From config the address defaults to "127.0.0.1:7400".
  rpc::Server::Options rpc;
  http::HttpServer::Options admin = noAdmin();
  // ZooKeeper: registers this saver as services/saver (endpoints rpc, admin). Off by default.
  service::DiscoveryOptions discovery;
  std::chrono::milliseconds shutdown_grace{5000};

  // Checks every integer field's range (INVALID_ARGUMENT naming the field, file:line:col when
  // `file` is given), the Redis mode and addresses, and reads mysql.password_file.
  static Result<SaverOptions> fromConfig(const config::SaverConfig& config, const ConfigFile* file);

  static http::HttpServer::Options noAdmin() {
    http::HttpServer::Options o;
    o.address.clear();
    return o;
  }
};

}  // namespace push::saver
