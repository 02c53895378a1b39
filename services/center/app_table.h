#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "services/center/api_key_table.h"
#include "services/center/center_options.h"
#include "services/center/rate_limiter.h"

namespace push::center {

// The apps center serves, their API keys and their request rate limits: either the static
// list of the config (setStatic, once) or ZooKeeper's apps/<app>, replaced whole on every
// AppDirectory delivery (update).
//
// Each app gets an index the first time its name is seen, and keeps it for the life of the
// table: a removed app stays in the table, inactive (its keys are gone from the key table, so
// they get 401), and comes back under the same index if it is added again. Requests in flight
// and the per-app state of BroadcastApi and JobApi hold indexes, so none ever dangles, and an
// App* stays valid as long as the table (apps are held by unique_ptr).
//
// Keys: a key names exactly one active app. When an update gives a key to two apps, the app
// that held it before keeps it; otherwise it is refused for the later app (name order) and
// reported in Changes::dropped_keys. Keys are held as digests (ApiKeyTable).
//
// Rate limits: an app whose rate or burst changed keeps its banked tokens, cut to the new
// burst (TokenBucket::reconfigure); an app whose limits did not change keeps its bucket
// untouched.
//
// Loop-thread only (center runs one loop per process; --workers are processes).
class AppTable {
 public:
  struct App {
    App(size_t i, CenterOptions::App c)
        : index(i), config(std::move(c)), bucket(config.rate_per_s, config.burst) {}
    const size_t index;
    CenterOptions::App config;
    // The app's /v1 requests (push, job, user calls).
    TokenBucket bucket;
    // False once removed from ZooKeeper (its keys are then gone from the key table).
    bool active = true;
    uint64_t pushes = 0;
  };

  // What an update changed, by index (each ascending).
  struct Changes {
    // Seen for the first time: indexes size() - added.size() .. size() - 1.
    std::vector<size_t> added;
    // Known before and present now, with a different config or back after a removal.
    std::vector<size_t> changed;
    // Active before, absent now.
    std::vector<size_t> removed;
    // "<app>: key <n>" for each key refused because another app holds it.
    std::vector<std::string> dropped_keys;
    bool any() const { return !added.empty() || !changed.empty() || !removed.empty(); }
  };

  // The config's apps, once, before any update. INVALID_ARGUMENT naming the app for an empty
  // key or one used twice (a static config is refused rather than half applied).
  Status setStatic(const std::vector<CenterOptions::App>& apps);
  // The whole new set of apps (names unique). Apps absent from `apps` are removed.
  Changes update(const std::vector<CenterOptions::App>& apps, int64_t now_ms);

  // The active app `key` belongs to; null for an empty or unknown key (or a removed app's).
  App* findByKey(std::string_view key);
  // The app named `name`, active or not; null if never seen.
  App* find(std::string_view name);
  App& at(size_t index) { return *apps_.at(index); }
  const App& at(size_t index) const { return *apps_.at(index); }
  // Every index ever given (active or not).
  size_t size() const { return apps_.size(); }
  size_t activeCount() const;
  size_t keyCount() const { return keys_.size(); }
  uint64_t updates() const { return updates_; }

 private:
  std::vector<std::unique_ptr<App>> apps_;
  std::map<std::string, size_t, std::less<>> by_name_;
  ApiKeyTable keys_;
  uint64_t updates_ = 0;
};

}  // namespace push::center
