#include "common/discovery/node_watcher.h"

#include "common/base/log.h"
#include "common/discovery/zk_client.h"
#include "common/net/periodic_timer.h"

namespace push::discovery {

Result<std::unique_ptr<NodeWatcher>> NodeWatcher::create(ZkClient& zk, std::string path,
                                                         Callback callback, Options options) {
  RETURN_IF_ERROR(ZkClient::checkPath(path));
  if (!callback) return invalidArgument("node watcher: no callback");
  if (options.retry_delay.count() <= 0) return invalidArgument("node watcher: retry_delay <= 0");
  return std::unique_ptr<NodeWatcher>(
      new NodeWatcher(zk, std::move(path), std::move(callback), options));
}

NodeWatcher::NodeWatcher(ZkClient& zk, std::string path, Callback callback, Options options)
    : zk_(zk), path_(std::move(path)), callback_(std::move(callback)), options_(options) {}

NodeWatcher::~NodeWatcher() {
  liveness_.kill();
  if (!started_) return;
  zk_.removeSessionListener(listener_);
  zk_.removeWatch(watch_);
  retry_timer_.reset();
}

void NodeWatcher::start() {
  if (started_) return;
  started_ = true;
  retry_timer_ = net::PeriodicTimer::create(zk_.loop(), [this] { read(); });
  watch_ = zk_.addWatch(path_, [this](ZkClient::EventType type, const std::string&) {
    if (type == ZkClient::EventType::Deleted) deliverMissing();
    // Every event used up the one-shot watch: read again, which re-arms it (an exists watch
    // while the node is missing, so its creation fires Created).
    if (type != ZkClient::EventType::Child) read();
  });
  listener_ = zk_.addSessionListener([this](ZkClient::SessionEvent event) {
    if (event == ZkClient::SessionEvent::Reestablished) read();
  });
  read();
}

void NodeWatcher::read() {
  zk_.get(path_, true, [this, alive = liveness_.token()](Result<ZkClient::Node> node) {
    if (!alive.alive()) return;
    if (node.isOk()) {
      deliver(std::move(node->data), node->version);
      return;
    }
    if (node.status().code() != Code::NOT_FOUND) return onError(node.status());
    // get leaves no watch on a missing node; exists does.
    zk_.exists(path_, true, [this, alive = liveness_.token()](Status st) {
      if (!alive.alive()) return;
      if (st.isOk()) {
        read();  // created in between
      } else if (st.code() == Code::NOT_FOUND) {
        deliverMissing();
      } else {
        onError(st);
      }
    });
  });
}

void NodeWatcher::onError(const Status& status) {
  LOG_EVERY_SEC(Warn, Zk, 1, "node watcher {}: {}; retrying in {} ms", path_, status.toString(),
                options_.retry_delay.count());
  if (retry_timer_ && !retry_timer_->active()) retry_timer_->start(options_.retry_delay, false);
}

void NodeWatcher::deliverMissing() {
  if (state_ == State::Missing) return;
  state_ = State::Missing;
  version_ = -1;
  Callback callback = callback_;  // the callback may destroy this watcher
  callback(Status(Code::NOT_FOUND, "zk node " + path_ + " does not exist"));
}

void NodeWatcher::deliver(std::string data, int32_t version) {
  if (state_ == State::Present && version == version_) return;  // seen (a re-read)
  state_ = State::Present;
  version_ = version;
  Callback callback = callback_;
  callback(std::move(data));
}

}  // namespace push::discovery
