#include "common/discovery/service_watcher.h"

#include "common/base/log.h"
#include "common/discovery/zk_client.h"
#include "common/net/periodic_timer.h"

namespace push::discovery {

Result<std::unique_ptr<ServiceWatcher>> ServiceWatcher::create(ZkClient& zk, std::string service,
                                                               Callback callback, Options options) {
  RETURN_IF_ERROR(ZkClient::checkName(service, "service name"));
  if (!callback) return invalidArgument("service watcher: no callback");
  if (options.retry_delay.count() <= 0) return invalidArgument("service watcher: retry_delay <= 0");
  return std::unique_ptr<ServiceWatcher>(
      new ServiceWatcher(zk, std::move(service), std::move(callback), options));
}

ServiceWatcher::ServiceWatcher(ZkClient& zk, std::string service, Callback callback,
                               Options options)
    : zk_(zk),
      service_(std::move(service)),
      dir_("/services/" + service_),
      callback_(std::move(callback)),
      options_(options) {}

ServiceWatcher::~ServiceWatcher() {
  liveness_.kill();
  if (!started_) return;
  zk_.removeSessionListener(listener_);
  zk_.removeWatch(dir_watch_);
  for (const auto& [name, child] : children_)
    zk_.removeWatch(child.watch);
  retry_timer_.reset();
}

void ServiceWatcher::start() {
  if (started_) return;
  started_ = true;
  retry_timer_ = net::PeriodicTimer::create(zk_.loop(), [this] { resync(); });
  // Children come and go (Child); the folder itself may appear or vanish (Created, Deleted).
  dir_watch_ =
      zk_.addWatch(dir_, [this](ZkClient::EventType, const std::string&) { listChildren(); });
  listener_ = zk_.addSessionListener([this](ZkClient::SessionEvent event) {
    // The old session's watches died with it: read and watch everything again.
    if (event == ZkClient::SessionEvent::Reestablished) resync();
  });
  listChildren();
}

void ServiceWatcher::listChildren() {
  ++pending_;
  zk_.getChildren(dir_, true, [this, alive = liveness_.token()](auto names) {
    if (!alive.alive()) return;
    --pending_;
    if (names.isOk()) {
      onChildren(std::move(names).value());
    } else if (names.status().code() == Code::NOT_FOUND) {
      // No folder, so no child watch was left: watch for the folder to appear.
      ++pending_;
      zk_.exists(dir_, true, [this, alive = liveness_.token()](Status st) {
        if (!alive.alive()) return;
        --pending_;
        if (st.isOk()) {
          listChildren();  // created meanwhile
        } else if (st.code() == Code::NOT_FOUND) {
          onChildren({});
        } else {
          LOG_EVERY_SEC(Warn, Zk, 1, "watcher {}: {}", dir_, st.toString());
          scheduleResync();
          maybeDeliver();
        }
      });
    } else {
      LOG_EVERY_SEC(Warn, Zk, 1, "watcher {}: {}", dir_, names.status().toString());
      scheduleResync();
      maybeDeliver();
    }
  });
}

void ServiceWatcher::onChildren(std::vector<std::string> names) {
  std::map<std::string, bool> present;
  for (const std::string& name : names)
    present.emplace(name, true);
  for (auto it = children_.begin(); it != children_.end();) {
    if (present.count(it->first) == 0) {
      zk_.removeWatch(it->second.watch);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& name : names) {
    if (children_.count(name) == 0) addChild(name);
  }
  maybeDeliver();
}

void ServiceWatcher::addChild(const std::string& name) {
  Child& child = children_[name];
  child.watch =
      zk_.addWatch(dir_ + "/" + name, [this, name](ZkClient::EventType type, const std::string&) {
        if (children_.count(name) == 0) return;
        if (type == ZkClient::EventType::Deleted) {
          dropChild(name);
          maybeDeliver();
        } else {
          fetch(name);
        }
      });
  fetch(name);
}

void ServiceWatcher::dropChild(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end()) return;
  zk_.removeWatch(it->second.watch);
  children_.erase(it);
}

void ServiceWatcher::fetch(const std::string& name) {
  ++pending_;
  zk_.get(dir_ + "/" + name, true,
          [this, name, alive = liveness_.token()](Result<ZkClient::Node> node) {
            if (!alive.alive()) return;
            --pending_;
            auto it = children_.find(name);
            if (it != children_.end()) {
              Child& child = it->second;
              if (node.isOk()) {
                auto decoded = decodeInstance(name, node->data);
                if (decoded.isOk()) {
                  child.instance = std::move(decoded).value();
                  child.bad_logged = false;
                } else {
                  if (!child.bad_logged) {
                    LOG_WARN(Zk, "watcher {}: skipping {}: {}", dir_, name,
                             decoded.status().toString());
                  }
                  child.bad_logged = true;
                  child.instance.reset();
                }
              } else if (node.status().code() == Code::NOT_FOUND) {
                dropChild(name);
              } else {
                LOG_EVERY_SEC(Warn, Zk, 1, "watcher {}: reading {}: {}", dir_, name,
                              node.status().toString());
                scheduleResync();
              }
            }
            maybeDeliver();
          });
}

void ServiceWatcher::resync() {
  listChildren();
  for (const auto& [name, child] : children_)
    fetch(name);
}

void ServiceWatcher::scheduleResync() {
  if (retry_timer_ && !retry_timer_->active()) retry_timer_->start(options_.retry_delay, false);
}

void ServiceWatcher::maybeDeliver() {
  if (pending_ > 0) return;  // more of this change is still coming
  std::vector<ServiceInstance> list;
  list.reserve(children_.size());
  for (const auto& [name, child] : children_) {
    if (child.instance) list.push_back(*child.instance);
  }
  if (updates_ > 0 && list == delivered_) return;
  delivered_ = list;
  ++updates_;
  Callback callback = callback_;  // the callback may destroy this watcher
  callback(list);
}

}  // namespace push::discovery
