#pragma once

// A service's link to ZooKeeper (DESIGN.md §7, common/discovery): it registers this process
// under services/<svc>, keeps RPC channels' endpoints equal to the instances of the services
// it calls, and hands other watchers their instance lists. Built from the service config's
// `discovery` block; without one a service runs on its static addresses and makes no link.
//
//   ASSIGN_OR_RETURN(discovery_, service::DiscoveryLink::create(loop_, options_.discovery));
//   if (discovery_) {
//     RETURN_IF_ERROR(discovery_->registerSelf("saver", id, {{"rpc", address()}}, nullptr));
//     RETURN_IF_ERROR(discovery_->feedChannel("saver", "rpc", *saver_channel_));
//   }
//   ...
//   discovery_->stop([..] { ... });   // in stop(): the node goes at once, users stop calling
//
// Ownership: the link owns its ZooKeeper session, the registration and the watchers. A fed
// channel is borrowed: it must outlive the link (or the link is destroyed first). Everything is
// loop-thread only.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/discovery/app_directory.h"
#include "common/discovery/service_instance.h"
#include "common/discovery/zk_client.h"

namespace google::protobuf {
class Message;
}
namespace push::config {
class DiscoveryConfig;
}
namespace push::net {
class EventLoop;
class InetAddress;
}  // namespace push::net
namespace push::rpc {
class Channel;
}
namespace push::discovery {
class NodeWatcher;
class ServiceRegistry;
class ServiceWatcher;
}  // namespace push::discovery

namespace push::service {

struct DiscoveryOptions {
  // Empty hosts: discovery off (create() returns a null link).
  discovery::ZkClient::Options zk;
  std::string region = "default";
  uint32_t weight = 100;
  std::chrono::milliseconds refresh{5'000};
  std::string advertise_host = "127.0.0.1";
  uint32_t capacity = 1'000'000;  // rooms: load = connections / capacity

  bool enabled() const { return !zk.hosts.empty(); }

  // From a service config's `discovery` block (ranges checked by the service with
  // discoveryRanges(), config_ranges.h). INVALID_ARGUMENT for a malformed root.
  static Result<DiscoveryOptions> fromConfig(const config::DiscoveryConfig& config,
                                             const ConfigFile* file, std::string_view field);
};

class DiscoveryLink {
 public:
  using InstancesFn = std::function<void(const std::vector<discovery::ServiceInstance>&)>;

  // A null link when discovery is off. The session connects in the background: registering
  // and watching start now and take effect once it is up (and again after an expiry).
  static Result<std::unique_ptr<DiscoveryLink>> create(net::EventLoop& loop,
                                                       DiscoveryOptions options);
  ~DiscoveryLink();
  DiscoveryLink(const DiscoveryLink&) = delete;
  DiscoveryLink& operator=(const DiscoveryLink&) = delete;

  // "<service>-<pid>-<start ms>": an instance id unique on a host and across restarts.
  static std::string instanceId(std::string_view service);

  // Registers this process as instance `id` of `service` with these endpoints (name ->
  // bound address; a wildcard host becomes advertise_host). `load` (may be null) is read every
  // refresh. Once per link.
  Status registerSelf(const std::string& service, const std::string& id,
                      const std::map<std::string, net::InetAddress>& endpoints,
                      std::function<double()> load);

  // Keeps `channel`'s endpoints equal to endpoint `endpoint` of every instance of `service`
  // (weights from the instances; instances without that endpoint are skipped). Until the first
  // list arrives the channel has no endpoint and its calls fail with UNAVAILABLE.
  Status feedChannel(const std::string& service, const std::string& endpoint,
                     rpc::Channel& channel);

  // Calls `fn` with the full sorted instance list of `service` each time it changes.
  Status watch(const std::string& service, InstancesFn fn);

  // Writes this instance's load now rather than at the next refresh.
  void refreshNow();

  // Watches config/<service>, the live config: each version is parsed (protobuf text format,
  // as the service's config file) into a copy of `prototype`, `apply` gets it, then its `log`
  // block's levels are applied (log.file is not reloadable: such a version is refused). A
  // version that does not parse, or that `apply` refuses, is logged (WARN, with the reason) and
  // counted, and what was applied before stays; bad levels in a version `apply` took are
  // refused alone. A missing node changes nothing. Once per link. A null `apply`: only the
  // log levels are reloadable.
  using ConfigFn = std::function<Status(const google::protobuf::Message& config)>;
  Status watchConfig(const std::string& service,
                     std::unique_ptr<google::protobuf::Message> prototype, ConfigFn apply);

  // Watches apps/<app> (discovery::AppDirectory): `fn` gets every app's record once all were
  // read, then again after each change (an app added, edited or removed). A record that does
  // not decode is logged and ignored (the app keeps its previous good record). This is how a
  // service whose config lists no static `apps` learns them. Once per link.
  Status watchApps(discovery::AppDirectory::Callback fn);
  // The directory watchApps made (null before), e.g. for find() on a request path.
  const discovery::AppDirectory* apps() const { return apps_.get(); }

  // Removes this instance's node (users stop picking it at once), then calls `done`. Watches
  // stay until destruction.
  void stop(std::function<void()> done);

  const DiscoveryOptions& options() const { return options_; }
  discovery::ZkClient& zk() { return *zk_; }
  bool connected() const;
  // {"connected":..,"sessions":..,"registered":..,"watching":{"saver":2,...}}
  std::string statusJson() const;

 private:
  DiscoveryLink(net::EventLoop& loop, DiscoveryOptions options);

  net::EventLoop& loop_;
  const DiscoveryOptions options_;
  std::unique_ptr<discovery::ZkClient> zk_;
  std::unique_ptr<discovery::ServiceRegistry> registry_;
  struct Watch {
    std::string service;
    std::unique_ptr<discovery::ServiceWatcher> watcher;
  };
  std::vector<Watch> watches_;
  std::unique_ptr<discovery::NodeWatcher> config_watcher_;
  std::unique_ptr<discovery::AppDirectory> apps_;
  std::unique_ptr<google::protobuf::Message> config_prototype_;
  uint64_t configs_applied_ = 0;
  uint64_t configs_rejected_ = 0;
  std::string config_error_;  // of the last version refused
  Liveness liveness_;
};

}  // namespace push::service
