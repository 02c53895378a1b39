#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "common/base/result.h"

namespace push::config {
class CoordinatorAppConfig;
}
namespace push::discovery {
struct AppRecord;
}

namespace push::coord {

// Everything the coordinator knows about one app: where its webhooks are, which session events
// it wants, and how much of the coordinator it may use. One plain value, so that a source of
// app records (the static config, or ZooKeeper apps/<app>) hands over a whole record and
// CoordinatorService::updateApp() applies it in one step.
struct AppSettings {
  // [A-Za-z0-9._-], 1..64 bytes (it is also a metrics label value).
  std::string name;
  // Webhook for upstream items whose type has no entry in `upstream_urls` (and items with no
  // type). Empty: such items are answered ERROR_UNKNOWN_APP.
  std::string upstream_url;
  std::map<std::string, std::string> upstream_urls;  // by upstream type
  // Where online/offline events go (one JSON array per POST). Empty: no events.
  std::string events_url;
  bool online_events = true;
  bool offline_events = true;
  // Webhook requests running at once for upstream (at least 1), and waiting beyond that;
  // more are answered "app busy" at once.
  uint32_t max_concurrency = 32;
  uint32_t max_queued = 1000;
  // One webhook attempt's timeout (the retries' overall deadline is the coordinator's).
  std::chrono::milliseconds timeout{5'000};

  // The webhook for `type`: its own, else the default; empty when neither is set.
  const std::string& urlFor(const std::string& type) const;
  bool wantsEvent(bool online) const {
    return !events_url.empty() && (online ? online_events : offline_events);
  }

  // INVALID_ARGUMENT naming the field (prefixed with `field`, e.g. "apps[2]") when the name or
  // a URL is malformed (URLs must start http:// or https://) or a number is out of range.
  Status validate(const std::string& field) const;
  // From the config record; range-checked by validate(). 0/empty fields keep the defaults.
  static Result<AppSettings> fromConfig(const config::CoordinatorAppConfig& config,
                                        const std::string& field);
  // From ZooKeeper apps/<app>: the record's upstream webhooks (its "default" entry is
  // upstream_url, the others by type), events webhook and events (the record's list as is:
  // empty means none, as AppRecord::wantsEvent says); the caps (max_concurrency, max_queued,
  // timeout) from `defaults`, since a record has none. Validated (INVALID_ARGUMENT naming the
  // app, e.g. a node name outside [A-Za-z0-9._-]).
  static Result<AppSettings> fromRecord(const discovery::AppRecord& record,
                                        const AppSettings& defaults);

  bool operator==(const AppSettings& other) const = default;
};

}  // namespace push::coord
