#include "services/common/discovery_link.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include <google/protobuf/message.h>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/discovery/node_watcher.h"
#include "common/discovery/service_registry.h"
#include "common/discovery/service_watcher.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/rpc/channel.h"
#include "proto/config.pb.h"

namespace push::service {

namespace {

Status fieldError(const ConfigFile* file, std::string_view field, std::string_view why) {
  return file ? file->fieldError(field, why)
              : invalidArgument(std::string(field) + ": " + std::string(why));
}

bool isWildcard(const net::InetAddress& address) {
  const std::string host = address.host();
  return host == "0.0.0.0" || host == "::";
}

}  // namespace

Result<DiscoveryOptions> DiscoveryOptions::fromConfig(const config::DiscoveryConfig& c,
                                                      const ConfigFile* file,
                                                      std::string_view field) {
  DiscoveryOptions o;
  const std::string prefix(field);
  o.zk.hosts = c.zookeeper();
  o.zk.root = c.root().empty() ? "/push/default" : c.root();
  if (Status st = discovery::ZkClient::checkPath(o.zk.root); !st.isOk()) {
    return fieldError(file, prefix + ".root", st.message());
  }
  if (!c.region().empty()) o.region = c.region();
  if (o.region.size() > 64 || !std::all_of(o.region.begin(), o.region.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
      })) {
    return fieldError(file, prefix + ".region", "must be 1..64 of [A-Za-z0-9._-]");
  }
  if (c.weight()) o.weight = c.weight();
  if (c.session_timeout_ms()) {
    o.zk.session_timeout = std::chrono::milliseconds(c.session_timeout_ms());
  }
  if (c.capacity()) o.capacity = c.capacity();
  if (c.refresh_ms()) o.refresh = std::chrono::milliseconds(c.refresh_ms());
  if (!c.advertise_host().empty()) {
    auto probe = net::InetAddress::fromHostPort(c.advertise_host(), 1);
    if (!probe.isOk() || isWildcard(*probe)) {
      return fieldError(file, prefix + ".advertise_host", "must be a numeric, non-wildcard IP");
    }
    o.advertise_host = c.advertise_host();
  }
  return o;
}

DiscoveryLink::DiscoveryLink(net::EventLoop& loop, DiscoveryOptions options)
    : loop_(loop), options_(std::move(options)) {}

DiscoveryLink::~DiscoveryLink() {
  liveness_.kill();
  // Watchers and the registry hold the client: they go first.
  watches_.clear();
  config_watcher_.reset();
  apps_.reset();
  registry_.reset();
  zk_.reset();
}

Result<std::unique_ptr<DiscoveryLink>> DiscoveryLink::create(net::EventLoop& loop,
                                                             DiscoveryOptions options) {
  if (!options.enabled()) return std::unique_ptr<DiscoveryLink>();
  std::unique_ptr<DiscoveryLink> link(new DiscoveryLink(loop, std::move(options)));
  ASSIGN_OR_RETURN(link->zk_, discovery::ZkClient::create(loop, link->options_.zk));
  link->zk_->addSessionListener(
      [hosts = link->options_.zk.hosts, root = link->options_.zk.root](auto event) {
        using E = discovery::ZkClient::SessionEvent;
        switch (event) {
          case E::Connected:
            LOG_INFO(Zk, "discovery: ZooKeeper {} connected (root {})", hosts, root);
            break;
          case E::Disconnected:
            LOG_WARN(Zk, "discovery: lost the connection to ZooKeeper {}; reconnecting", hosts);
            break;
          case E::Expired:
            LOG_WARN(Zk, "discovery: ZooKeeper session expired; opening a new one");
            break;
          case E::Reestablished:
            LOG_INFO(Zk, "discovery: new ZooKeeper session; registering and watching again");
            break;
        }
      });
  return link;
}

std::string DiscoveryLink::instanceId(std::string_view service) {
  return std::string(service) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(Clock::system().wallMillis());
}

Status DiscoveryLink::registerSelf(const std::string& service, const std::string& id,
                                   const std::map<std::string, net::InetAddress>& endpoints,
                                   std::function<double()> load) {
  if (registry_) return Status(Code::FAILED_PRECONDITION, "discovery: already registered");
  discovery::ServiceRegistry::Options o;
  o.service = service;
  o.instance.id = id;
  o.instance.region = options_.region;
  o.instance.weight = options_.weight;
  for (const auto& [name, address] : endpoints) {
    if (isWildcard(address)) {
      auto advertised = net::InetAddress::fromHostPort(options_.advertise_host, address.port());
      if (!advertised.isOk()) return advertised.status().withContext("discovery.advertise_host");
      o.instance.endpoints[name] = advertised->toString();
    } else {
      o.instance.endpoints[name] = address.toString();
    }
  }
  o.refresh_interval = options_.refresh;
  ASSIGN_OR_RETURN(registry_, discovery::ServiceRegistry::create(*zk_, std::move(o)));
  if (load) registry_->setLoadSource(std::move(load));
  registry_->start();
  LOG_INFO(Zk, "discovery: registering services/{}/{} in {}", service, id, options_.zk.root);
  return Status::ok();
}

Status DiscoveryLink::watch(const std::string& service, InstancesFn fn) {
  ASSIGN_OR_RETURN(auto watcher, discovery::ServiceWatcher::create(*zk_, service, std::move(fn)));
  watcher->start();
  watches_.push_back(Watch{service, std::move(watcher)});
  return Status::ok();
}

Status DiscoveryLink::feedChannel(const std::string& service, const std::string& endpoint,
                                  rpc::Channel& channel) {
  return watch(
      service, [service, endpoint, &channel, alive = liveness_.token()](const auto& instances) {
        if (!alive.alive()) return;
        std::vector<rpc::Endpoint> eps;
        for (const discovery::ServiceInstance& in : instances) {
          auto it = in.endpoints.find(endpoint);
          if (it == in.endpoints.end()) continue;
          eps.push_back(rpc::Endpoint{it->second, std::clamp<uint32_t>(in.weight, 1, 1000)});
        }
        Status st = channel.setEndpoints(eps);
        if (!st.isOk()) {
          LOG_WARN(Zk, "discovery: {} endpoints not applied: {}", service, st.toString());
          return;
        }
        LOG_INFO(Zk, "discovery: {} has {} instance(s) with endpoint {}", service, eps.size(),
                 endpoint);
      });
}

void DiscoveryLink::stop(std::function<void()> done) {
  if (!registry_) {
    if (done) loop_.post(std::move(done));
    return;
  }
  registry_->stop([done = std::move(done)](Status st) {
    if (!st.isOk()) LOG_WARN(Zk, "discovery: deregistering: {}", st.toString());
    if (done) done();
  });
}

Status DiscoveryLink::watchConfig(const std::string& service,
                                  std::unique_ptr<google::protobuf::Message> prototype,
                                  ConfigFn apply) {
  if (config_watcher_) return Status(Code::FAILED_PRECONDITION, "discovery: config watched twice");
  config_prototype_ = std::move(prototype);
  const std::string path = "/config/" + service;
  auto onData = [this, path, apply = std::move(apply),
                 alive = liveness_.token()](Result<std::string> data) {
    if (!alive.alive()) return;
    if (!data.isOk()) {
      if (data.status().code() != Code::NOT_FOUND) {
        LOG_WARN(Zk, "live config {}: {}", path, data.status().toString());
      }
      return;  // no live config (or it went): what is applied stays
    }
    std::unique_ptr<google::protobuf::Message> config(config_prototype_->New());
    Status st = [&]() -> Status {
      auto file = ConfigFile::parse(*data, path, config.get());
      if (!file.isOk()) return file.status();
      const config::LogConfig* log_config = nullptr;
      const auto* log_field = config->GetDescriptor()->FindFieldByName("log");
      if (log_field && config->GetReflection()->HasField(*config, log_field)) {
        log_config = static_cast<const config::LogConfig*>(
            &config->GetReflection()->GetMessage(*config, log_field));
        // Swapping sinks races the threads that log (MySQL workers, the ZooKeeper client's):
        // only levels are reloadable.
        if (!log_config->file().empty()) {
          return invalidArgument("log.file is not reloadable (restart to change it)");
        }
      }
      // The service's part first: a version it refuses changes nothing, levels included.
      if (apply) RETURN_IF_ERROR(apply(*config));
      if (log_config) {
        Status levels = log::configure(*log_config);
        if (!levels.isOk()) {
          return levels.withContext("the service's part was applied, the log levels were not");
        }
      }
      return Status::ok();
    }();
    if (!st.isOk()) {
      ++configs_rejected_;
      config_error_ = st.toString();
      LOG_WARN(Zk, "live config {} refused, the previous one stays: {}", path, config_error_);
      return;
    }
    ++configs_applied_;
    LOG_INFO(Zk, "live config {} applied ({} bytes)", path, data->size());
  };
  ASSIGN_OR_RETURN(config_watcher_, discovery::NodeWatcher::create(*zk_, path, std::move(onData)));
  config_watcher_->start();
  return Status::ok();
}

Status DiscoveryLink::watchApps(discovery::AppDirectory::Callback fn) {
  if (apps_) return Status(Code::FAILED_PRECONDITION, "discovery: apps watched twice");
  ASSIGN_OR_RETURN(apps_, discovery::AppDirectory::create(*zk_, std::move(fn)));
  apps_->start();
  return Status::ok();
}

void DiscoveryLink::refreshNow() {
  if (registry_) registry_->refreshNow();
}

bool DiscoveryLink::connected() const {
  return zk_->connected();
}

std::string DiscoveryLink::statusJson() const {
  JsonWriter w;
  w.beginObject();
  w.key("connected").boolean(zk_->connected());
  w.key("sessions").uint64(zk_->sessions());
  w.key("root").string(options_.zk.root);
  w.key("registered").boolean(registry_ && registry_->registered());
  w.key("config").beginObject();
  w.key("applied").uint64(configs_applied_);
  w.key("rejected").uint64(configs_rejected_);
  w.key("last_error").string(config_error_);
  w.endObject();
  if (apps_) {
    w.key("apps").beginObject();
    w.key("known").uint64(apps_->apps().size());
    w.key("updates").uint64(apps_->updates());
    w.key("rejected").uint64(apps_->rejected());
    w.endObject();
  }
  w.key("watching").beginObject();
  for (const Watch& wt : watches_)
    w.key(wt.service).uint64(wt.watcher->instances().size());
  w.endObject();
  w.endObject();
  return w.take();
}

}  // namespace push::service
