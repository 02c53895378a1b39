#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/discovery/service_instance.h"
#include "common/net/owning_ptrs.h"

namespace push::discovery {

class ZkClient;

// Keeps the current list of a service's instances: watches the children of
// `services/<service>` (below the ZkClient's root) and the data of each child, and calls back
// with the whole list whenever it changes:
//
//   ASSIGN_OR_RETURN(auto watcher, ServiceWatcher::create(*zk, "room",
//       [&](const std::vector<ServiceInstance>& rooms) { channel.setEndpoints(...); }));
//   watcher->start();
//
// The list is sorted by id. It is delivered once all reads of a change came back (not half
// way through a batch of new children), only when it differs from the last one delivered, and
// once at the start even when empty (so a user knows the first read is done). A service whose
// folder does not exist yet reads as empty; its creation is watched.
//
// A child whose data is missing or malformed (service_instance.h) is left out of the list and
// logged once (again only after it was good in between). After a new session replaced an
// expired one (ZkClient's Reestablished) everything is read and watched again; after a failed
// read (no connection) too, after `retry_delay`.
//
// `zk` must outlive the watcher; the callback never runs after the watcher is destroyed. The
// callback may destroy the watcher. Loop-thread only. Not copyable.
class ServiceWatcher {
 public:
  using Callback = std::function<void(const std::vector<ServiceInstance>& instances)>;

  struct Options {
    // Delay before reading again after a failed read. Default: 500 ms.
    std::chrono::milliseconds retry_delay{500};
  };

  // INVALID_ARGUMENT for an empty or malformed service name, or no callback.
  static Result<std::unique_ptr<ServiceWatcher>> create(ZkClient& zk, std::string service,
                                                        Callback callback, Options options);
  static Result<std::unique_ptr<ServiceWatcher>> create(ZkClient& zk, std::string service,
                                                        Callback callback) {
    return create(zk, std::move(service), std::move(callback), Options());
  }
  ~ServiceWatcher();
  ServiceWatcher(const ServiceWatcher&) = delete;
  ServiceWatcher& operator=(const ServiceWatcher&) = delete;

  // Starts reading and watching. Once; later calls do nothing.
  void start();

  // The list last delivered.
  const std::vector<ServiceInstance>& instances() const { return delivered_; }
  // Lists delivered so far.
  uint64_t updates() const { return updates_; }

 private:
  struct Child {
    uint64_t watch = 0;
    std::optional<ServiceInstance> instance;  // unset: not read yet, missing or malformed
    bool bad_logged = false;
  };

  ServiceWatcher(ZkClient& zk, std::string service, Callback callback, Options options);
  void listChildren();
  void onChildren(std::vector<std::string> names);
  void addChild(const std::string& name);
  void dropChild(const std::string& name);
  void fetch(const std::string& name);
  // Reads everything again (after an expiry or a failed read).
  void resync();
  void scheduleResync();
  void maybeDeliver();

  ZkClient& zk_;
  const std::string service_;
  const std::string dir_;  // "/services/<service>"
  const Callback callback_;
  const Options options_;
  net::PeriodicTimerPtr retry_timer_;
  uint64_t dir_watch_ = 0;
  uint64_t listener_ = 0;
  bool started_ = false;
  uint32_t pending_ = 0;  // reads of ours not answered yet
  std::map<std::string, Child> children_;
  std::vector<ServiceInstance> delivered_;
  uint64_t updates_ = 0;
  Liveness liveness_;
};

}  // namespace push::discovery
