#include "services/room/app_table.h"

namespace push::room {

AppTable::AppTable(std::vector<AppSecret> apps) : apps_(std::move(apps)) {
  for (size_t i = 0; i < apps_.size(); ++i) {
    by_name_.emplace(apps_[i].name, static_cast<uint16_t>(i));
  }
}

int AppTable::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

client::ErrorCode AppTable::verify(std::string_view token, int64_t now_s, Verified* out,
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
  return auth::checkToken(token, claims_json, out->claims, apps_[out->app].secret, now_s, why);
}

}  // namespace push::room
