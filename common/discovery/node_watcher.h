#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"

namespace push::discovery {

class ZkClient;

// Watches one node's data: `config/<service>` for hot reload, `apps/<app>` for app records
// (DESIGN.md §7), paths relative to the ZkClient's root:
//
//   ASSIGN_OR_RETURN(auto config, NodeWatcher::create(*zk, "/config/room",
//       [&](Result<std::string> data) { if (data.isOk()) reload(*data); }));
//   config->start();
//
// The callback gets the node's bytes when it is first read, and again each time its version
// changes (a write of the same bytes counts); NOT_FOUND while it does not exist (at the start,
// and once after it is deleted), then the bytes again when it appears. Nothing else: read
// failures (no connection) are logged and retried after `retry_delay`, and the last value
// stays the current one. After a new session replaced an expired one the node is read and
// watched again (a change missed meanwhile is delivered then).
//
// `zk` must outlive the watcher; the callback never runs after the watcher is destroyed and
// may destroy it. Loop-thread only. Not copyable.
class NodeWatcher {
 public:
  using Callback = std::function<void(Result<std::string> data)>;
  struct Options {
    // Delay before reading again after a failed read. Default: 500 ms.
    std::chrono::milliseconds retry_delay{500};
  };

  // INVALID_ARGUMENT for a malformed path (ZkClient::checkPath) or no callback.
  static Result<std::unique_ptr<NodeWatcher>> create(ZkClient& zk, std::string path,
                                                     Callback callback, Options options);
  static Result<std::unique_ptr<NodeWatcher>> create(ZkClient& zk, std::string path,
                                                     Callback callback) {
    return create(zk, std::move(path), std::move(callback), Options());
  }
  ~NodeWatcher();
  NodeWatcher(const NodeWatcher&) = delete;
  NodeWatcher& operator=(const NodeWatcher&) = delete;

  // Starts reading and watching. Once; later calls do nothing.
  void start();

  const std::string& path() const { return path_; }
  // Whether the node existed at the last delivery, and its version then.
  bool exists() const { return state_ == State::Present; }
  int32_t version() const { return version_; }

 private:
  enum class State { Unknown, Missing, Present };
  NodeWatcher(ZkClient& zk, std::string path, Callback callback, Options options);
  // get with a watch; NOT_FOUND -> exists with a watch (fires Created).
  void read();
  void deliverMissing();
  void deliver(std::string data, int32_t version);
  void onError(const Status& status);

  ZkClient& zk_;
  const std::string path_;
  const Callback callback_;
  const Options options_;
  net::PeriodicTimerPtr retry_timer_;
  uint64_t watch_ = 0;
  uint64_t listener_ = 0;
  bool started_ = false;
  State state_ = State::Unknown;
  int32_t version_ = -1;
  Liveness liveness_;
};

}  // namespace push::discovery
