#include "services/center/app_table.h"

#include <algorithm>
#include <optional>
#include <set>

namespace push::center {

Status AppTable::setStatic(const std::vector<CenterOptions::App>& apps) {
  if (!apps_.empty()) return internalError("AppTable::setStatic: apps already set");
  ApiKeyTable keys;
  for (size_t i = 0; i < apps.size(); ++i) {
    for (const auto& key : apps[i].api_keys) {
      if (Status st = keys.add(key, i); !st.isOk()) {
        return invalidArgument("apps[" + apps[i].name + "]: " + st.message());
      }
    }
  }
  for (size_t i = 0; i < apps.size(); ++i) {
    apps_.push_back(std::make_unique<App>(i, apps[i]));
    by_name_.emplace(apps[i].name, i);
  }
  keys_ = std::move(keys);
  return Status::ok();
}

AppTable::Changes AppTable::update(const std::vector<CenterOptions::App>& apps, int64_t now_ms) {
  Changes changes;
  std::vector<size_t> indexes;  // of apps[i]
  indexes.reserve(apps.size());
  std::set<size_t> present;
  for (const auto& config : apps) {
    auto it = by_name_.find(config.name);
    if (it == by_name_.end()) {
      const size_t index = apps_.size();
      apps_.push_back(std::make_unique<App>(index, config));
      by_name_.emplace(config.name, index);
      changes.added.push_back(index);
      indexes.push_back(index);
      present.insert(index);
      continue;
    }
    App& app = *apps_[it->second];
    indexes.push_back(app.index);
    present.insert(app.index);
    if (app.active && app.config == config) continue;
    if (app.config.rate_per_s != config.rate_per_s || app.config.burst != config.burst) {
      app.bucket.reconfigure(config.rate_per_s, config.burst, now_ms);
    }
    app.config = config;
    app.active = true;
    changes.changed.push_back(app.index);
  }
  for (auto& app : apps_) {
    if (app->active && !present.count(app->index)) {
      app->active = false;
      changes.removed.push_back(app->index);
    }
  }
  std::sort(changes.changed.begin(), changes.changed.end());

  // Keys: first those whose app held them before (they stay where they were), then the rest.
  ApiKeyTable keys;
  std::vector<std::vector<bool>> placed(apps.size());
  for (size_t i = 0; i < apps.size(); ++i) {
    placed[i].assign(apps[i].api_keys.size(), false);
    for (size_t k = 0; k < apps[i].api_keys.size(); ++k) {
      const std::string& key = apps[i].api_keys[k];
      if (keys_.find(key) == indexes[i] && keys.add(key, indexes[i]).isOk()) placed[i][k] = true;
    }
  }
  for (size_t i = 0; i < apps.size(); ++i) {
    for (size_t k = 0; k < apps[i].api_keys.size(); ++k) {
      if (placed[i][k]) continue;
      if (!keys.add(apps[i].api_keys[k], indexes[i]).isOk()) {
        changes.dropped_keys.push_back(apps[i].name + ": key " + std::to_string(k + 1));
      }
    }
  }
  keys_ = std::move(keys);
  ++updates_;
  return changes;
}

AppTable::App* AppTable::findByKey(std::string_view key) {
  std::optional<size_t> index = keys_.find(key);
  if (!index) return nullptr;
  App* app = apps_[*index].get();
  return app->active ? app : nullptr;
}

AppTable::App* AppTable::find(std::string_view name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : apps_[it->second].get();
}

size_t AppTable::activeCount() const {
  size_t n = 0;
  for (const auto& app : apps_)
    n += app->active ? 1 : 0;
  return n;
}

}  // namespace push::center
