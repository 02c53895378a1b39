#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/discovery/service_instance.h"
#include "common/net/owning_ptrs.h"

namespace push::discovery {

class ZkClient;

// Registers this process as an instance of a service: an EPHEMERAL node
// `services/<service>/<instance.id>` (below the ZkClient's root) whose data is the instance's
// JSON (service_instance.h), parents created as needed:
//
//   ServiceRegistry::Options o;
//   o.service = "room";
//   o.instance.id = "room-1";
//   o.instance.endpoints = {{"rpc", "10.0.0.5:5000"}, {"tcp", "10.0.0.5:7000"}};
//   ASSIGN_OR_RETURN(auto registry, ServiceRegistry::create(*zk, o));
//   registry->setLoadSource([&] { return server.load(); });
//   registry->start();
//
// Every `refresh_interval` it writes the data again with the current load (zoo_aset). It
// registers again when
// - a new session replaced an expired one (ZkClient's Reestablished: the old node is gone);
// - the refresh finds the node gone (NOT_FOUND: someone deleted it);
// - registering failed (no connection): again after `retry_delay`.
// A node of that name owned by another session (this instance restarted before its old
// session expired) is deleted and replaced, with a warning: instance ids must be unique.
//
// Errors are logged (at most once a second) and retried; nothing is reported to the caller
// except through registered()/stats().
//
// Lifetime: `zk` must outlive the registry. stop() deletes the node. Destroying the registry
// without stop() leaves the node to its session: it goes when the ZkClient is destroyed (which
// closes the session) or the session expires. Loop-thread only. Not copyable.
class ServiceRegistry {
 public:
  struct Options {
    // The service's name ("room", "register", ...): one path component. Required.
    std::string service;
    // This instance; `id` is the node's name (one path component). Required.
    ServiceInstance instance;
    // How often the data (with the load) is written again. Default: 5 s.
    std::chrono::milliseconds refresh_interval{5'000};
    // Delay before trying again after a failed registration or refresh. Default: 500 ms.
    std::chrono::milliseconds retry_delay{500};
  };
  struct Stats {
    uint64_t registrations = 0;  // nodes created
    uint64_t refreshes = 0;      // data writes that succeeded
    uint64_t failures = 0;       // calls that failed (then retried)
  };

  // INVALID_ARGUMENT for an empty or malformed service name or instance id, or intervals <= 0.
  static Result<std::unique_ptr<ServiceRegistry>> create(ZkClient& zk, Options options);
  ~ServiceRegistry();
  ServiceRegistry(const ServiceRegistry&) = delete;
  ServiceRegistry& operator=(const ServiceRegistry&) = delete;

  // Registers (asynchronously; also while the session is still connecting) and starts the
  // refreshes. Once; later calls do nothing.
  void start();
  // Stops refreshing and deletes the node. `done` (optional) runs on the loop once the server
  // answered (OK, NOT_FOUND when it was not there, UNAVAILABLE without a connection: the node
  // then goes with the session). Not called if the registry is destroyed first.
  void stop(std::function<void(Status)> done = nullptr);

  // The load written by the next refresh (unless a load source is set).
  void setLoad(double load) { instance_.load = load; }
  // Called at each refresh for the load to write. Replaces setLoad().
  void setLoadSource(std::function<double()> source) { load_source_ = std::move(source); }
  // Writes the data now instead of at the next interval: at once when registered and idle,
  // else right after the write in flight (whose data may be older than the caller's change).
  void refreshNow();

  // True once the node was created (or found ours) in the current session, until a
  // failure says otherwise.
  bool registered() const { return registered_; }
  // "/services/<service>/<id>", relative to the ZkClient's root.
  const std::string& path() const { return path_; }
  const ServiceInstance& instance() const { return instance_; }
  const Stats& stats() const { return stats_; }

 private:
  ServiceRegistry(ZkClient& zk, Options options);
  void tick();
  void doRegister();
  void onExisting();
  void doRefresh();
  // Next tick after `delay` (replaces a pending one).
  void schedule(std::chrono::milliseconds delay);
  void onFailure(const char* what, const Status& status);
  // After a successful write: the pending refresh now, else the next one in refresh_interval.
  void scheduleAfterWrite();
  std::string data();

  ZkClient& zk_;
  const Options options_;
  const std::string path_;
  ServiceInstance instance_;
  std::function<double()> load_source_;
  net::PeriodicTimerPtr timer_;
  uint64_t listener_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool registered_ = false;
  bool in_flight_ = false;        // a create/get/delete/set of ours is outstanding
  bool refresh_pending_ = false;  // refreshNow() came while in flight
  Stats stats_;
  Liveness liveness_;
};

}  // namespace push::discovery
