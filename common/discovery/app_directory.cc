#include "common/discovery/app_directory.h"

#include "common/base/log.h"
#include "common/discovery/node_watcher.h"
#include "common/discovery/zk_client.h"
#include "common/net/periodic_timer.h"

namespace push::discovery {

namespace {
constexpr const char* kAppsDir = "/apps";
}  // namespace

Result<std::unique_ptr<AppDirectory>> AppDirectory::create(ZkClient& zk, Callback callback,
                                                           Options options) {
  if (!callback) return invalidArgument("app directory: no callback");
  if (options.retry_delay.count() <= 0) return invalidArgument("app directory: retry_delay <= 0");
  return std::unique_ptr<AppDirectory>(new AppDirectory(zk, std::move(callback), options));
}

AppDirectory::AppDirectory(ZkClient& zk, Callback callback, Options options)
    : zk_(zk), callback_(std::move(callback)), options_(options) {}

AppDirectory::~AppDirectory() {
  liveness_.kill();
  if (!started_) return;
  zk_.removeSessionListener(listener_);
  zk_.removeWatch(dir_watch_);
  entries_.clear();  // the NodeWatchers remove their own watches
  retry_timer_.reset();
}

const AppRecord* AppDirectory::find(std::string_view name) const {
  auto it = delivered_.find(name);
  return it != delivered_.end() ? &it->second : nullptr;
}

void AppDirectory::start() {
  if (started_) return;
  started_ = true;
  retry_timer_ = net::PeriodicTimer::create(zk_.loop(), [this] { listChildren(); });
  // Apps come and go (Child); the folder itself may appear or vanish (Created, Deleted).
  dir_watch_ =
      zk_.addWatch(kAppsDir, [this](ZkClient::EventType, const std::string&) { listChildren(); });
  listener_ = zk_.addSessionListener([this](ZkClient::SessionEvent event) {
    // The old session's child watch died with it. The records' NodeWatchers re-read
    // themselves on the same event.
    if (event == ZkClient::SessionEvent::Reestablished) listChildren();
  });
  listChildren();
}

void AppDirectory::listChildren() {
  zk_.getChildren(kAppsDir, true, [this, alive = liveness_.token()](auto names) {
    if (!alive.alive()) return;
    if (names.isOk()) {
      onChildren(*names);
    } else if (names.status().code() == Code::NOT_FOUND) {
      // No folder, so no child watch was left: watch for it to appear.
      zk_.exists(kAppsDir, true, [this, alive = liveness_.token()](Status st) {
        if (!alive.alive()) return;
        if (st.isOk()) {
          listChildren();  // created meanwhile
        } else if (st.code() == Code::NOT_FOUND) {
          onChildren({});
        } else {
          LOG_EVERY_SEC(Warn, Zk, 1, "apps: {}", st.toString());
          scheduleRetry();
        }
      });
    } else {
      LOG_EVERY_SEC(Warn, Zk, 1, "apps: {}", names.status().toString());
      scheduleRetry();
    }
  });
}

void AppDirectory::onChildren(const std::vector<std::string>& names) {
  listed_ = true;
  std::map<std::string, bool> present;
  for (const std::string& name : names)
    present.emplace(name, true);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (present.count(it->first) == 0) {
      current_.erase(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& name : names) {
    if (entries_.count(name) != 0) continue;
    auto watcher = NodeWatcher::create(
        zk_, std::string(kAppsDir) + "/" + name,
        [this, name](Result<std::string> data) { onData(name, std::move(data)); },
        NodeWatcher::Options{options_.retry_delay});
    if (!watcher.isOk()) {
      // A name ZooKeeper accepted is a valid path component; nothing to watch otherwise.
      LOG_WARN(Zk, "apps: cannot watch {}: {}", name, watcher.status().toString());
      continue;
    }
    Entry& entry = entries_[name];
    entry.watcher = std::move(watcher).value();
    entry.watcher->start();  // its first read is posted, never inside start()
  }
  maybeDeliver();
}

void AppDirectory::onData(const std::string& name, Result<std::string> data) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  entry.reported = true;
  if (data.isOk()) {
    auto record = decodeAppRecord(name, *data);
    if (record.isOk()) {
      current_[name] = std::move(record).value();
      entry.bad_version = -1;
    } else if (entry.bad_version != entry.watcher->version()) {
      // Logged once per version: the operator fixes it with a new write.
      entry.bad_version = entry.watcher->version();
      ++rejected_;
      LOG_WARN(Zk, "apps: {} version {} refused, {}: {}", name, entry.bad_version,
               current_.count(name) != 0 ? "keeping the previous record" : "app not loaded",
               record.status().toString());
    }
  } else if (data.status().code() == Code::NOT_FOUND) {
    current_.erase(name);  // deleted; the child watch drops the entry too
  }
  maybeDeliver();
}

void AppDirectory::scheduleRetry() {
  if (retry_timer_ && !retry_timer_->active()) retry_timer_->start(options_.retry_delay, false);
}

void AppDirectory::maybeDeliver() {
  if (!listed_) return;
  for (const auto& [name, entry] : entries_) {
    if (!entry.reported) return;  // the first delivery waits for every app's first read
  }
  if (updates_ > 0 && current_ == delivered_) return;
  delivered_ = current_;
  ++updates_;
  Callback callback = callback_;  // the callback may destroy this directory
  callback(delivered_);
}

}  // namespace push::discovery
