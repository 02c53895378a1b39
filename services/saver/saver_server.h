#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"
#include "common/rpc/server.h"
#include "services/saver/saver_options.h"

namespace push::net {
class EventLoop;
}

namespace push::saver {

// One saver instance (services/saver/README.md): the Saver RPC service over InboxStore and
// BroadcastLog on Redis (a RedisRouter: one instance, shards or a cluster), and with MySQL a
// WriteBehind of every fact and a Recovery that reads MySQL back when Redis lost data; plus
// the admin port (/healthz, /metrics, /status).
//
// MySQL is never waited for: the schema migrations (mysql_schema.h) run in the background at
// start and are retried every second until they apply; facts wait in the write-behind
// meanwhile, and /status says "schema_version".
//
// Ownership: create(), start(); stop(done) answers the calls in flight, gives the write-behind
// shutdown_grace to empty, and runs `done`; destroy the SaverServer after that. Loop-thread
// only.
class SaverServer {
 public:
  using Options = SaverOptions;

  static Result<std::unique_ptr<SaverServer>> create(net::EventLoop& loop, Options options);
  ~SaverServer();
  SaverServer(const SaverServer&) = delete;
  SaverServer& operator=(const SaverServer&) = delete;

  // Binds the RPC listener and the admin port (UNAVAILABLE when one cannot be bound), starts
  // the migrations and the recovery checks. Call once.
  Status start();
  void stop(std::function<void()> done);

  const net::InetAddress& address() const { return rpc_address_; }
  const net::InetAddress& adminAddress() const { return admin_address_; }
  std::string statusJson() const;
  SaverService& service() { return *service_; }
  // The schema version applied in MySQL (0: not yet, or no MySQL).
  uint32_t schemaVersion() const { return schema_version_; }

 private:
  SaverServer(net::EventLoop& loop, Options options);
  void migrate();
  void floorFor(const std::string& app, std::function<void(Result<uint64_t>)> done);
  void registerGauges();

  net::EventLoop& loop_;
  const Options options_;
  std::unique_ptr<redis::RedisRouter> redis_;
  std::unique_ptr<mysql::MySqlPool> mysql_;  // null without MySQL
  std::unique_ptr<InboxStore> inbox_;
  std::unique_ptr<BroadcastLog> broadcasts_;
  std::unique_ptr<WriteBehind> write_behind_;  // null without MySQL
  std::unique_ptr<Recovery> recovery_;         // null without MySQL
  std::unique_ptr<SaverService> service_;
  rpc::ServerPtr rpc_;
  http::HttpServerPtr admin_;
  std::unique_ptr<service::DiscoveryLink> discovery_;  // null without ZooKeeper
  net::PeriodicTimerPtr migrate_retry_;
  net::InetAddress rpc_address_, admin_address_;
  std::vector<uint64_t> gauges_;
  uint32_t schema_version_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  Liveness liveness_;
};

}  // namespace push::saver
