#include "services/register/register_options.h"

#include <iterator>
#include <vector>

#include "proto/config.pb.h"
#include "services/common/cluster_key.h"
#include "services/common/config_ranges.h"

namespace push::reg {

namespace {

// Every integer field of RegisterConfig and its ranges (proto/config.proto states them too),
// the shared RpcServerConfig and HttpServerConfig included so an error names the line of
// register.conf. 0 always passes: proto3's "not set", the default applies.
// register_options_test sets every integer field out of range and expects it refused, so none
// goes unchecked.
std::vector<FieldRange> registerRanges() {
  static const FieldRange kOwn[] = {
      {"room_timeout_ms", 100, 3'600'000}, {"max_sessions_per_user", 1, 10'000},
      {"pull_page_sessions", 1, 10'000},   {"shutdown_grace_ms", 1, 60'000},
      {"max_concurrent_pulls", 1, 1000},
  };
  return service::joinRanges({service::rpcServerRanges("rpc"), service::httpServerRanges("admin"),
                              service::discoveryRanges("discovery"),
                              std::vector<FieldRange>(std::begin(kOwn), std::end(kOwn))});
}

}  // namespace

Result<RegisterOptions> RegisterOptions::fromConfig(const config::RegisterConfig& c,
                                                    const ConfigFile* file) {
  RETURN_IF_ERROR(checkFieldRanges(c, file, registerRanges()));
  RegisterOptions o;
  o.slots_from_discovery = c.slots() == "auto";
  if (!c.slots().empty() && !o.slots_from_discovery) {
    auto slots = SlotSet::parse(c.slots());
    if (!slots.isOk()) {
      return file ? file->fieldError("slots", slots.status().message())
                  : invalidArgument("slots: " + slots.status().message());
    }
    o.service.slots = std::move(*slots);
  }
  if (c.room_timeout_ms()) o.service.room_timeout = std::chrono::milliseconds(c.room_timeout_ms());
  if (c.max_sessions_per_user()) o.service.max_sessions_per_user = c.max_sessions_per_user();
  if (c.pull_page_sessions()) o.service.pull_page = c.pull_page_sessions();
  if (c.max_concurrent_pulls()) o.service.max_concurrent_pulls = c.max_concurrent_pulls();
  if (c.shutdown_grace_ms()) o.shutdown_grace = std::chrono::milliseconds(c.shutdown_grace_ms());

  auto rpc = rpc::Server::Options::fromConfig(c.rpc());
  if (!rpc.isOk()) return rpc.status().withContext(file ? file->name() : "config");
  o.rpc = std::move(*rpc);
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:7200";
  rpc::Channel::Options pull;  // register's channels to rooms take the key from the service
  RETURN_IF_ERROR(service::applyClusterKey(c.cluster_key(), file, &o.rpc, {&pull}));
  o.service.cluster_key = pull.cluster_key;

  if (!c.admin().listen().address().empty()) {
    o.admin = http::HttpServer::Options::fromConfig(c.admin());
  }
  ASSIGN_OR_RETURN(o.discovery,
                   service::DiscoveryOptions::fromConfig(c.discovery(), file, "discovery"));
  if (o.slots_from_discovery && !o.discovery.enabled()) {
    const std::string message =
        "\"auto\" takes the slots from ZooKeeper: it needs discovery.zookeeper";
    return file ? file->fieldError("slots", message) : invalidArgument("slots: " + message);
  }
  return o;
}

}  // namespace push::reg
