#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/server.h"
#include "services/coordinator/app_dispatcher.h"
#include "services/coordinator/coordinator_options.h"

namespace push::net {
class EventLoop;
}
namespace push::http {
class CurlClient;
}

namespace push::service {
class RoomPool;
class UserKicker;
}  // namespace push::service

namespace push::coord {

class CoordinatorService;

// One coordinator instance (services/coordinator/README.md): the Coordinator RPC service on its
// listener, the HTTP client its webhooks go through (CurlClient on the loop), and the admin
// HTTP port (/healthz, /metrics, /status) when options.admin.address is set. With
// options.discovery: registered as services/coordinator/<id> (endpoint "rpc", and "admin"),
// live log levels from config/coordinator, and, when options.apps is empty, the apps from
// ZooKeeper apps/<app> (CoordinatorService::setApps on each change). With
// options.register_client: Coordinator.Kick (service::UserKicker over a RegisterClient, whose
// shards follow services/register with `discover`, and a RoomPool).
//
// Ownership: create(), start(); stop(done) stops gracefully and runs `done` once everything is
// closed; destroy the CoordinatorServer after that. Destroying it without stop() closes at once
// (items in flight are answered ERROR_UNAVAILABLE "coordinator stopping" when their connection
// still stands). Loop-thread only.
class CoordinatorServer {
 public:
  using Options = CoordinatorOptions;

  // Checks the options (INVALID_ARGUMENT naming the field or app); no socket yet.
  static Result<std::unique_ptr<CoordinatorServer>> create(net::EventLoop& loop, Options options);
  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  // Binds the RPC listener, then the admin port. INVALID_ARGUMENT for a malformed address,
  // UNAVAILABLE when one cannot be bound (nothing stays open; stop() is still allowed). Once.
  Status start();

  // Graceful stop: the ZooKeeper node goes first (rooms stop picking this instance), the admin
  // port closes, calls arriving now are answered UNAVAILABLE, calls
  // running get options.shutdown_grace (webhooks in flight may finish), then whatever is
  // still pending is answered "coordinator stopping" and everything closes. `done` runs on the
  // loop thread after that (never inside stop()). Call once; later calls are ignored.
  void stop(std::function<void()> done);

  const net::InetAddress& address() const { return rpc_address_; }
  const net::InetAddress& adminAddress() const { return admin_address_; }
  // {"rpc":..,"admin":..,"stopping":b,"apps":[...]}
  std::string statusJson() const;

  CoordinatorService& service() { return *service_; }
  const Options& options() const { return options_; }

 private:
  CoordinatorServer(net::EventLoop& loop, Options options);
  Status startDiscovery();
  // ZooKeeper services/register (register.discover): kick lookups route by their slot map.
  void followRegisters(const std::vector<discovery::ServiceInstance>& registers);
  // AppDirectory's callback: the records become the service's apps.
  void onApps(const discovery::AppDirectory::Apps& records);

  net::EventLoop& loop_;
  const Options options_;
  std::unique_ptr<http::CurlClient> curl_;
  std::unique_ptr<AppDispatcher::Shared> shared_;
  // Kick (all null without options.register_client): service_ borrows kicker_, which borrows
  // register_ and rooms_; destroyed kicker_ first, then service_ (answers what waits), then these.
  std::unique_ptr<reg::RegisterClient> register_;
  std::unique_ptr<service::RoomPool> rooms_;
  std::unique_ptr<CoordinatorService> service_;  // before rpc_: the server calls into it
  std::unique_ptr<service::UserKicker> kicker_;
  rpc::ServerPtr rpc_;
  http::HttpServerPtr admin_;
  std::unique_ptr<service::DiscoveryLink> discovery_;  // null without ZooKeeper
  net::PeriodicTimerPtr grace_timer_;  // stop(): answers what is still pending after the grace
  net::InetAddress rpc_address_;
  net::InetAddress admin_address_;
  bool started_ = false;
  bool stopping_ = false;
  uint64_t register_updates_ = 0;  // register lists applied from ZooKeeper
  Liveness liveness_;
};

}  // namespace push::coord
