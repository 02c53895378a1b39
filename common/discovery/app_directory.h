#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/discovery/app_record.h"
#include "common/net/owning_ptrs.h"

namespace push::discovery {

class NodeWatcher;
class ZkClient;

// Every app's record, kept current from `apps/<app>` (DESIGN.md §7; paths relative to the
// ZkClient's root):
//
//   ASSIGN_OR_RETURN(auto apps, AppDirectory::create(*zk, [&](const AppDirectory::Apps& all) {
//     auth.setApps(all);
//   }));
//   apps->start();
//
// Watches the children of `/apps` (apps added and removed) and each app node with a
// NodeWatcher (edits). The callback gets the full map, name -> AppRecord, once every app
// listed has been read the first time (an empty map when there are none, or no `/apps`), and
// again after each change that alters the map. A record that does not decode
// (decodeAppRecord) is logged once per node version and ignored: the app keeps its previous
// good record, or stays absent if it never had one. A deleted app leaves the map. Read
// failures are retried after `retry_delay`; after a new session replaced an expired one,
// everything is listed and read again (NodeWatcher does the records).
//
// `zk` must outlive the directory; the callback never runs after the directory is destroyed
// and may destroy it. Loop-thread only. Not copyable.
class AppDirectory {
 public:
  using Apps = std::map<std::string, AppRecord, std::less<>>;
  using Callback = std::function<void(const Apps& apps)>;
  struct Options {
    // Delay before listing `/apps` again after a failed listing. Default: 500 ms.
    std::chrono::milliseconds retry_delay{500};
  };

  // INVALID_ARGUMENT without a callback or with retry_delay <= 0.
  static Result<std::unique_ptr<AppDirectory>> create(ZkClient& zk, Callback callback,
                                                      Options options);
  static Result<std::unique_ptr<AppDirectory>> create(ZkClient& zk, Callback callback) {
    return create(zk, std::move(callback), Options());
  }
  ~AppDirectory();
  AppDirectory(const AppDirectory&) = delete;
  AppDirectory& operator=(const AppDirectory&) = delete;

  // Starts listing and watching. Once; later calls do nothing.
  void start();
  // The map as last delivered (empty before the first delivery).
  const Apps& apps() const { return delivered_; }
  // The app's record as last delivered, or nullptr.
  const AppRecord* find(std::string_view name) const;
  // Deliveries so far.
  uint64_t updates() const { return updates_; }
  // Record versions refused as malformed so far (each version counted once).
  uint64_t rejected() const { return rejected_; }

 private:
  struct Entry {
    std::unique_ptr<NodeWatcher> watcher;
    bool reported = false;     // its first read has come back
    int32_t bad_version = -1;  // the last version refused (logged once)
  };

  AppDirectory(ZkClient& zk, Callback callback, Options options);
  // getChildren with a watch; NOT_FOUND -> exists with a watch (fires Created).
  void listChildren();
  void onChildren(const std::vector<std::string>& names);
  void onData(const std::string& name, Result<std::string> data);
  void scheduleRetry();
  void maybeDeliver();

  ZkClient& zk_;
  const Callback callback_;
  const Options options_;
  net::PeriodicTimerPtr retry_timer_;
  uint64_t dir_watch_ = 0;
  uint64_t listener_ = 0;
  bool started_ = false;
  bool listed_ = false;  // the children of /apps (or its absence) are known
  std::map<std::string, Entry> entries_;
  Apps current_;    // the good records read so far
  Apps delivered_;  // what the callback last got
  uint64_t updates_ = 0;
  uint64_t rejected_ = 0;
  Liveness liveness_;
};

}  // namespace push::discovery
