#include "common/discovery/service_registry.h"

#include "common/base/log.h"
#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

namespace push::discovery {

Result<std::unique_ptr<ServiceRegistry>> ServiceRegistry::create(ZkClient& zk, Options options) {
  RETURN_IF_ERROR(ZkClient::checkName(options.service, "service name"));
  RETURN_IF_ERROR(ZkClient::checkName(options.instance.id, "instance id"));
  if (options.refresh_interval.count() <= 0 || options.retry_delay.count() <= 0) {
    return invalidArgument("registry: refresh_interval and retry_delay must be > 0");
  }
  return std::unique_ptr<ServiceRegistry>(new ServiceRegistry(zk, std::move(options)));
}

ServiceRegistry::ServiceRegistry(ZkClient& zk, Options options)
    : zk_(zk),
      options_(std::move(options)),
      path_("/services/" + options_.service + "/" + options_.instance.id),
      instance_(options_.instance) {}

ServiceRegistry::~ServiceRegistry() {
  liveness_.kill();
  if (listener_ != 0) zk_.removeSessionListener(listener_);
  timer_.reset();
}

void ServiceRegistry::start() {
  if (started_) return;
  started_ = true;
  timer_ = net::PeriodicTimer::create(zk_.loop(), [this] { tick(); });
  listener_ = zk_.addSessionListener([this](ZkClient::SessionEvent event) {
    if (stopped_) return;
    if (event == ZkClient::SessionEvent::Reestablished) {
      // The old session's node is gone with it: create ours again.
      LOG_INFO(Zk, "registry {}: new zk session, registering again", path_);
      registered_ = false;
      if (!in_flight_) doRegister();
    } else if (event == ZkClient::SessionEvent::Connected && !registered_ && !in_flight_) {
      doRegister();  // do not wait for the retry delay
    }
  });
  doRegister();
}

void ServiceRegistry::stop(std::function<void(Status)> done) {
  if (stopped_) {
    if (done) {
      zk_.loop().post([alive = liveness_.token(), done = std::move(done)] {
        if (alive.alive()) done(Status::ok());
      });
    }
    return;
  }
  stopped_ = true;
  if (timer_) timer_->stop();
  registered_ = false;
  // Deleted whatever state we are in: a create still in flight is ordered before this delete
  // on the session, so it cannot resurrect the node afterwards.
  zk_.remove(path_, -1, [this, alive = liveness_.token(), done = std::move(done)](Status st) {
    if (!alive.alive()) return;
    if (st.isOk() || st.code() == Code::NOT_FOUND) {
      LOG_INFO(Zk, "registry {}: deregistered", path_);
    } else {
      LOG_WARN(Zk, "registry {}: deregistering failed: {} (the node goes with the session)", path_,
               st.toString());
    }
    if (done) done(st);
  });
}

void ServiceRegistry::refreshNow() {
  if (!started_ || stopped_) return;
  if (registered_ && !in_flight_) {
    doRefresh();
  } else {
    // A write of ours is outstanding (its data may predate the change): write again once it
    // is done rather than a refresh interval later.
    refresh_pending_ = true;
  }
}

void ServiceRegistry::scheduleAfterWrite() {
  if (refresh_pending_) {
    doRefresh();
  } else {
    schedule(options_.refresh_interval);
  }
}

void ServiceRegistry::schedule(std::chrono::milliseconds delay) {
  if (!stopped_ && timer_) timer_->start(delay, false);
}

void ServiceRegistry::tick() {
  if (stopped_ || in_flight_) return;
  if (registered_) {
    doRefresh();
  } else {
    doRegister();
  }
}

std::string ServiceRegistry::data() {
  if (load_source_) instance_.load = load_source_();
  return encodeInstance(instance_);
}

void ServiceRegistry::onFailure(const char* what, const Status& status) {
  ++stats_.failures;
  in_flight_ = false;
  LOG_EVERY_SEC(Warn, Zk, 1, "registry {}: {} failed: {}; retrying in {} ms", path_, what,
                status.toString(), options_.retry_delay.count());
  schedule(options_.retry_delay);
}

void ServiceRegistry::doRegister() {
  if (stopped_) return;
  in_flight_ = true;
  refresh_pending_ = false;  // data() is read now
  zk_.createRecursive(
      path_, data(), ZkClient::CreateMode::Ephemeral, [this, alive = liveness_.token()](Status st) {
        if (!alive.alive() || stopped_) return;
        if (st.isOk()) {
          in_flight_ = false;
          registered_ = true;
          ++stats_.registrations;
          LOG_INFO(Zk, "registry {}: registered (session 0x{:x})", path_, zk_.sessionId());
          scheduleAfterWrite();
        } else if (st.code() == Code::ALREADY_EXISTS) {
          onExisting();
        } else {
          onFailure("registering", st);
        }
      });
}

void ServiceRegistry::onExisting() {
  // Ours (a create retried on this session, or a Reestablished after a create that already
  // went to the new session): just refresh. Another session's: a previous run of this
  // instance whose session has not expired yet; replace it.
  zk_.get(path_, false, [this, alive = liveness_.token()](Result<ZkClient::Node> node) {
    if (!alive.alive() || stopped_) return;
    if (!node.isOk()) {
      if (node.status().code() == Code::NOT_FOUND) {
        in_flight_ = false;
        doRegister();  // gone meanwhile
      } else {
        onFailure("reading the existing node", node.status());
      }
      return;
    }
    if (node->ephemeral_owner == zk_.sessionId() && node->ephemeral_owner != 0) {
      in_flight_ = false;
      registered_ = true;
      ++stats_.registrations;
      doRefresh();
      return;
    }
    LOG_WARN(Zk, "registry {}: node exists, owned by session 0x{:x} (ours 0x{:x}); replacing it",
             path_, node->ephemeral_owner, zk_.sessionId());
    zk_.remove(path_, node->version, [this, alive = liveness_.token()](Status st) {
      if (!alive.alive() || stopped_) return;
      if (st.isOk() || st.code() == Code::NOT_FOUND || st.code() == Code::FAILED_PRECONDITION) {
        in_flight_ = false;
        doRegister();
      } else {
        onFailure("deleting the stale node", st);
      }
    });
  });
}

void ServiceRegistry::doRefresh() {
  if (stopped_) return;
  in_flight_ = true;
  refresh_pending_ = false;  // data() is read now
  zk_.set(path_, data(), -1, [this, alive = liveness_.token()](Status st) {
    if (!alive.alive() || stopped_) return;
    if (st.isOk()) {
      in_flight_ = false;
      ++stats_.refreshes;
      scheduleAfterWrite();
    } else if (st.code() == Code::NOT_FOUND) {
      LOG_WARN(Zk, "registry {}: node vanished; registering again", path_);
      in_flight_ = false;
      registered_ = false;
      doRegister();
    } else {
      onFailure("refreshing", st);
    }
  });
}

}  // namespace push::discovery
