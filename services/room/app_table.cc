#include "services/room/app_table.h"

#include <algorithm>

#include "common/base/log.h"

namespace push::room {

AppTable::AppTable(std::vector<AppSecret> apps, size_t max_apps)
    : max_apps_(std::min(max_apps, kMaxApps)) {
  apps_.reserve(apps.size());
  for (AppSecret& app : apps) {
    by_name_.emplace(app.name, static_cast<uint16_t>(apps_.size()));
    Entry e;
    e.name = std::move(app.name);
    e.secrets.push_back(discovery::AppSecret{"config", std::move(app.secret), 0});
    e.served = true;
    apps_.push_back(std::move(e));
  }
  served_ = apps_.size();
}

int AppTable::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() || !apps_[it->second].served ? -1 : it->second;
}

AppTable::Changes AppTable::apply(
    const std::map<std::string, discovery::AppRecord, std::less<>>& records) {
  Changes changes;
  // Removals first: a number freed of its secrets before the additions are counted.
  for (size_t i = 0; i < apps_.size(); ++i) {
    Entry& e = apps_[i];
    if (!e.served) continue;
    auto it = records.find(e.name);
    if (it != records.end() && !it->second.secrets.empty()) continue;
    e.served = false;
    e.secrets.clear();
    --served_;
    changes.removed.push_back(static_cast<uint16_t>(i));
  }
  for (const auto& [name, record] : records) {
    if (record.secrets.empty()) continue;
    auto known = by_name_.find(name);
    if (known == by_name_.end()) {
      if (apps_.size() >= max_apps_) {
        // Logged once per name: the same map comes back at every change of any app.
        if (ignored_names_.insert(name).second) {
          LOG_ERROR(Room, "apps: '{}' ignored: this room already numbers {} apps, its bound", name,
                    max_apps_);
        }
        ++changes.ignored;
        continue;
      }
      known = by_name_.emplace(name, static_cast<uint16_t>(apps_.size())).first;
      apps_.push_back(Entry{name, {}, false});
    }
    Entry& e = apps_[known->second];
    if (!e.served) {
      e.served = true;
      e.secrets = record.secrets;
      ++served_;
      changes.added.push_back(known->second);
    } else if (e.secrets != record.secrets) {
      e.secrets = record.secrets;
      changes.edited.push_back(known->second);
    }
  }
  return changes;
}

client::ErrorCode AppTable::verify(std::string_view token, int64_t now_ms, Verified* out,
                                   std::string* why) const {
  std::string claims_json;
  client::ErrorCode code = auth::parseToken(token, &out->claims, &claims_json, why);
  if (code != client::ERROR_NONE) return code;
  const int app = find(out->claims.app);
  if (app < 0) {
    *why = "unknown app '" + out->claims.app + "'";
    return client::ERROR_UNKNOWN_APP;
  }
  out->app = static_cast<uint16_t>(app);
  // Any active secret will do: during a rotation tokens of the old and the new one are both
  // in use. A secret past its not_after_ms is skipped as if it were gone.
  bool any_active = false;
  for (const discovery::AppSecret& s : apps_[out->app].secrets) {
    if (s.not_after_ms != 0 && s.not_after_ms <= now_ms) continue;
    any_active = true;
    code = auth::checkToken(token, claims_json, out->claims, s.secret, now_ms / 1000, why);
    // BAD_TOKEN: not this secret's signature; any other answer is this secret's verdict.
    if (code != client::ERROR_BAD_TOKEN) return code;
  }
  *why = any_active ? "signature does not match any active secret of app '" + out->claims.app + "'"
                    : "app '" + out->claims.app + "' has no active secret";
  return client::ERROR_BAD_TOKEN;
}

}  // namespace push::room
