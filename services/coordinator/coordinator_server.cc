#include "services/coordinator/coordinator_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/http/curl_client.h"
#include "common/net/event_loop.h"
#include "proto/config.pb.h"
#include "services/common/admin_port.h"
#include "services/common/room_pool.h"
#include "services/common/user_kicker.h"
#include "services/coordinator/coordinator_service.h"

namespace push::coord {

Result<std::unique_ptr<CoordinatorServer>> CoordinatorServer::create(net::EventLoop& loop,
                                                                     Options options) {
  for (size_t i = 0; i < options.apps.size(); ++i)
    RETURN_IF_ERROR(options.apps[i].validate("apps[" + std::to_string(i) + "]"));
  if (options.event_queue_max == 0 || options.event_batch_max == 0) {
    return invalidArgument("event_queue_max, event_batch_max: not 0");
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer(loop, std::move(options)));
  http::CurlClient::Options curl = s->options_.curl;
  // A reply over max_reply_bytes fails at the client, before its body is kept (at least 1 KiB
  // so that an events URL's small answer always fits).
  curl.max_body_bytes = std::max<size_t>(s->options_.max_reply_bytes, 1024);
  auto client = http::CurlClient::create(loop, curl);
  if (!client.isOk()) return client.status().withContext("http client");
  s->curl_ = std::move(client).value();
  // Request ids: this instance's start time and pid, then a counter per app.
  const std::string instance =
      "c" + std::to_string(Clock::system().wallMillis()) + "-" + std::to_string(::getpid());
  s->shared_.reset(new AppDispatcher::Shared{
      loop, *s->curl_, s->options_.retry, s->options_.max_reply_bytes, s->options_.event_queue_max,
      s->options_.event_batch_max, s->options_.event_batch_interval, instance});
  s->service_ = std::make_unique<CoordinatorService>(*s->shared_);
  for (const AppSettings& app : s->options_.apps)
    RETURN_IF_ERROR(s->service_->updateApp(app));
  if (s->options_.register_client) {
    if (s->options_.register_client->discover && !s->options_.discovery.enabled()) {
      return invalidArgument("register.discover: needs discovery.zookeeper");
    }
    ASSIGN_OR_RETURN(s->register_, reg::RegisterClient::create(loop, *s->options_.register_client));
    s->rooms_ = std::make_unique<service::RoomPool>(loop, s->options_.room_channel);
    s->kicker_ = std::make_unique<service::UserKicker>(*s->register_, *s->rooms_);
    s->service_->setKicker(s->kicker_.get());
  }
  return s;
}

CoordinatorServer::CoordinatorServer(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

CoordinatorServer::~CoordinatorServer() {
  liveness_.kill();
  discovery_.reset();  // its app callback calls into service_
  admin_.reset();
  grace_timer_.reset();
  rpc_.reset();  // no handler runs after this; the calls still pending are answered next
  kicker_.reset();
  service_.reset();
  rooms_.reset();
  register_.reset();
  shared_.reset();
  curl_.reset();
}

Status CoordinatorServer::start() {
  loop_.assertInLoopThread();
  if (started_) return Status(Code::FAILED_PRECONDITION, "coordinator started twice");
  started_ = true;
  rpc_ = rpc::Server::create(loop_, options_.rpc);
  Status st = rpc_->addService(service_.get());
  if (st.isOk()) st = rpc_->start();
  if (!st.isOk()) {
    rpc_.reset();
    return st;
  }
  rpc_address_ = rpc_->address();
  auto admin = service::startAdmin(
      loop_, options_.admin,
      {.health = [this] { return stopping_ ? unavailable("stopping") : Status::ok(); },
       .status_json = [this] { return statusJson(); }});
  if (!admin.isOk()) {
    rpc_.reset();
    return admin.status().withContext("admin");
  }
  admin_ = std::move(admin).value();
  if (admin_) admin_address_ = admin_->address();
  st = startDiscovery();
  if (!st.isOk()) {
    discovery_.reset();
    admin_.reset();
    rpc_.reset();
    return st.withContext("discovery");
  }
  if (discovery_ && options_.apps.empty()) {
    LOG_INFO(Coordinator, "coordinator on {} (apps from ZooKeeper {}/apps)",
             rpc_address_.toString(), options_.discovery.zk.root);
  } else {
    LOG_INFO(Coordinator, "coordinator on {} ({} apps)", rpc_address_.toString(),
             options_.apps.size());
  }
  return Status::ok();
}

Status CoordinatorServer::startDiscovery() {
  ASSIGN_OR_RETURN(discovery_, service::DiscoveryLink::create(loop_, options_.discovery));
  if (!discovery_) return Status::ok();
  std::map<std::string, net::InetAddress> endpoints{{"rpc", rpc_address_}};
  if (admin_) endpoints.emplace("admin", admin_address_);
  RETURN_IF_ERROR(discovery_->registerSelf(
      "coordinator", service::DiscoveryLink::instanceId("coordinator"), endpoints, nullptr));
  // Live config (config/coordinator): its log levels only.
  RETURN_IF_ERROR(discovery_->watchConfig("coordinator",
                                          std::make_unique<config::CoordinatorConfig>(), nullptr));
  if (register_ && options_.register_client->discover) {
    RETURN_IF_ERROR(discovery_->watch(
        "register", [this](const std::vector<discovery::ServiceInstance>& registers) {
          followRegisters(registers);
        }));
  }
  // The rule of every service: static apps win; none listed means ZooKeeper's.
  if (options_.apps.empty()) {
    RETURN_IF_ERROR(discovery_->watchApps(
        [this](const discovery::AppDirectory::Apps& records) { onApps(records); }));
  }
  return Status::ok();
}

void CoordinatorServer::followRegisters(const std::vector<discovery::ServiceInstance>& registers) {
  const Result<bool> moved = register_->followInstances(registers);
  if (!moved.isOk()) {
    LOG_ERROR(Coordinator,
              "register instances from ZooKeeper not applied, the previous map "
              "stays: {}",
              moved.status().toString());
    return;
  }
  ++register_updates_;
  LOG_INFO(Coordinator, "register: {} instance(s) from ZooKeeper, {} shard(s)", registers.size(),
           register_->shardCount());
}

void CoordinatorServer::onApps(const discovery::AppDirectory::Apps& records) {
  if (stopping_) return;  // removeAll() has run or is about to: nothing new is served
  std::vector<AppSettings> apps;
  apps.reserve(records.size());
  for (const auto& [name, record] : records) {
    auto settings = AppSettings::fromRecord(record, options_.app_defaults);
    if (settings.isOk()) {
      apps.push_back(std::move(settings).value());
    } else if (const AppDispatcher* known = service_->app(name)) {
      // A record the coordinator cannot use does not take a working app away.
      LOG_WARN(Coordinator, "app {}: record not applied, the previous one stays: {}", name,
               settings.status().toString());
      apps.push_back(known->settings());
    } else {
      LOG_WARN(Coordinator, "app {}: record not applied: {}", name, settings.status().toString());
    }
  }
  service_->setApps(apps);
}

void CoordinatorServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  // The node goes first so rooms stop picking this coordinator; calls already sent get the
  // RPC server's grace below.
  if (discovery_) discovery_->stop(nullptr);
  admin_.reset();
  if (!rpc_) {
    service_->removeAll();
    loop_.post(std::move(done));
    return;
  }
  // Webhooks may take longer than the grace: what is still pending then is answered
  // "coordinator stopping", so the server's shutdown is not held up by an app's server.
  grace_timer_ = net::PeriodicTimer::create(loop_, [this] { service_->removeAll(); });
  grace_timer_->start(options_.shutdown_grace, false);
  rpc_.release()->shutdown(options_.shutdown_grace, [this, loop = &loop_, alive = liveness_.token(),
                                                     done = std::move(done)]() mutable {
    if (alive.alive()) {
      grace_timer_.reset();
      service_->removeAll();
    }
    loop->post(std::move(done));
  });
}

std::string CoordinatorServer::statusJson() const {
  JsonWriter w(256);
  w.beginObject();
  w.key("rpc").string(rpc_address_.toString());
  w.key("admin");
  if (admin_address_.port() != 0) {
    w.string(admin_address_.toString());
  } else {
    w.null();
  }
  w.key("stopping").boolean(stopping_);
  service_->writeStatus(w);
  if (register_) {
    w.key("register").beginObject();
    w.key("source").string(options_.register_client->discover ? "zookeeper" : "config");
    w.key("shards").uint64(register_->shardCount());
    w.key("updates").uint64(register_updates_);
    w.endObject();
  }
  w.key("kicks").uint64(service_->kicks());
  if (discovery_) w.key("discovery").raw(discovery_->statusJson());
  w.endObject();
  return w.take();
}

}  // namespace push::coord
