#include "services/register/register_server.h"
#include "proto/config.pb.h"

#include <unistd.h>

#include <map>
#include <utility>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/rpc/server.h"
#include "services/common/admin_port.h"
#include "services/register/slot_assignment.h"

namespace push::reg {

Result<std::unique_ptr<RegisterServer>> RegisterServer::create(net::EventLoop& loop,
                                                               Options options) {
  // The ranges fromConfig checks, for options built in code.
  RETURN_IF_ERROR(checkFieldRange(nullptr, "room_timeout_ms", options.service.room_timeout.count(),
                                  100, 3'600'000));
  RETURN_IF_ERROR(checkFieldRange(nullptr, "max_sessions_per_user",
                                  options.service.max_sessions_per_user, 1, 10'000));
  RETURN_IF_ERROR(
      checkFieldRange(nullptr, "pull_page_sessions", options.service.pull_page, 1, 10'000));
  // checkFieldRange lets 0 through (config's "not set"); in code 0 is simply wrong.
  if (options.service.room_timeout.count() == 0 || options.service.max_sessions_per_user == 0 ||
      options.service.pull_page == 0) {
    return invalidArgument("room_timeout_ms, max_sessions_per_user, pull_page_sessions: not 0");
  }
  if (options.shutdown_grace.count() < 0) return invalidArgument("shutdown_grace: not negative");
  if (options.slots_from_discovery && !options.discovery.enabled()) {
    return invalidArgument("slots from ZooKeeper need discovery.zookeeper");
  }
  // Owned from the list in ZooKeeper once this instance is in it, not before.
  if (options.slots_from_discovery) options.service.slots = SlotSet();
  return std::unique_ptr<RegisterServer>(new RegisterServer(loop, std::move(options)));
}

RegisterServer::RegisterServer(net::EventLoop& loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      service_(std::make_unique<RegisterService>(loop_, options_.service)) {}

RegisterServer::~RegisterServer() {
  liveness_.kill();
  admin_.reset();
  // Not stopped: the RPC server stops dispatching to the service at once (it deletes itself
  // later; no call of the service runs past its handler, so none can outlive `service_`).
  rpc_.reset();
  service_->close();
}

Status RegisterServer::start() {
  loop_.assertInLoopThread();
  if (started_) return Status(Code::FAILED_PRECONDITION, "register server started twice");
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
  auto link = service::DiscoveryLink::create(loop_, options_.discovery);
  if (!link.isOk()) {
    rpc_.reset();
    admin_.reset();
    return link.status().withContext("discovery");
  }
  discovery_ = std::move(link).value();
  if (discovery_) {
    std::map<std::string, net::InetAddress> endpoints{{"rpc", rpc_address_}};
    if (admin_) endpoints.emplace("admin", admin_address_);
    instance_id_ = service::DiscoveryLink::instanceId("register");
    RETURN_IF_ERROR(discovery_->registerSelf("register", instance_id_, endpoints, nullptr));
    if (options_.slots_from_discovery) {
      RETURN_IF_ERROR(discovery_->watch("register", [this](const auto& registers) {
        std::vector<std::string> ids;
        bool listed = false;
        for (const discovery::ServiceInstance& r : registers) {
          ids.push_back(r.id);
          listed = listed || r.id == instance_id_;
        }
        // Its own node missing (the session expired and it is registering again): keep the
        // sessions rather than drop them all and pull them back a moment later. No caller
        // routes here meanwhile (they follow the same list).
        if (!listed) return;
        service_->setSlots(slotsOf(ids, instance_id_));
      }));
    }
    // Live config (config/register): its log levels only.
    RETURN_IF_ERROR(
        discovery_->watchConfig("register", std::make_unique<config::RegisterConfig>(), nullptr));
    RETURN_IF_ERROR(discovery_->watch("room", [this](const auto& rooms) {
      std::vector<std::string> ids;
      for (const discovery::ServiceInstance& r : rooms)
        ids.push_back(r.id);
      service_->roomsInDiscovery(ids);
    }));
  }
  if (options_.slots_from_discovery) {
    LOG_INFO(Register, "register {} on {}: slots from ZooKeeper (services/register)", instance_id_,
             rpc_address_.toString());
  } else {
    LOG_INFO(Register, "register serving slots {} on {}", options_.service.slots.toString(),
             rpc_address_.toString());
  }
  return Status::ok();
}

void RegisterServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  admin_.reset();
  if (discovery_) discovery_->stop(nullptr);
  if (!rpc_) {  // never started (or start() failed)
    service_->close();
    loop_.post(std::move(done));
    return;
  }
  // Handed over to its graceful shutdown, which deletes it. The service stays open during the
  // grace (running calls may still use it); the server's callback comes from its own deletion
  // path, so this object may be gone by then.
  rpc_.release()->shutdown(options_.shutdown_grace, [this, loop = &loop_, alive = liveness_.token(),
                                                     done = std::move(done)]() mutable {
    if (alive.alive()) service_->close();  // `this` is touched only while it lives
    loop->post(std::move(done));
  });
}

std::string RegisterServer::statusJson() const {
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
  if (!instance_id_.empty()) w.key("instance").string(instance_id_);
  w.key("slots_from").string(options_.slots_from_discovery ? "zookeeper" : "config");
  if (discovery_) w.key("discovery").raw(discovery_->statusJson());
  service_->writeStatus(w);
  w.endObject();
  return w.take();
}

}  // namespace push::reg
