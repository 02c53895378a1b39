#include "services/coordinator/app_settings.h"

#include "common/discovery/app_record.h"
#include "proto/config.pb.h"

namespace push::coord {

namespace {

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

bool validUrl(const std::string& url) {
  const bool http = url.rfind("http://", 0) == 0 && url.size() > 7;
  const bool https = url.rfind("https://", 0) == 0 && url.size() > 8;
  return http || https;
}

}  // namespace

const std::string& AppSettings::urlFor(const std::string& type) const {
  if (!type.empty()) {
    auto it = upstream_urls.find(type);
    if (it != upstream_urls.end()) return it->second;
  }
  return upstream_url;
}

Status AppSettings::validate(const std::string& field) const {
  if (!validName(name)) {
    return invalidArgument(field + ".name: '" + name + "' is not 1..64 of [A-Za-z0-9._-]");
  }
  if (!upstream_url.empty() && !validUrl(upstream_url)) {
    return invalidArgument(field + ".upstream_url: '" + upstream_url + "' is not http(s)://...");
  }
  for (const auto& [type, url] : upstream_urls) {
    if (type.empty()) return invalidArgument(field + ".upstream_urls: empty type");
    if (!validUrl(url)) {
      return invalidArgument(field + ".upstream_urls[" + type + "]: '" + url +
                             "' is not http(s)://...");
    }
  }
  if (!events_url.empty() && !validUrl(events_url)) {
    return invalidArgument(field + ".events_url: '" + events_url + "' is not http(s)://...");
  }
  if (max_concurrency < 1 || max_concurrency > 10'000) {
    return invalidArgument(field + ".max_concurrency: " + std::to_string(max_concurrency) +
                           " is out of range [1, 10000]");
  }
  if (max_queued > 1'000'000) {
    return invalidArgument(field + ".max_queued: " + std::to_string(max_queued) +
                           " is out of range [0, 1000000]");
  }
  if (timeout.count() < 10 || timeout.count() > 600'000) {
    return invalidArgument(field + ".timeout_ms: " + std::to_string(timeout.count()) +
                           " is out of range [10, 600000]");
  }
  return Status::ok();
}

Result<AppSettings> AppSettings::fromConfig(const config::CoordinatorAppConfig& c,
                                            const std::string& field) {
  AppSettings s;
  s.name = c.name();
  s.upstream_url = c.upstream_url();
  for (const auto& [type, url] : c.upstream_urls())
    s.upstream_urls[type] = url;
  s.events_url = c.events_url();
  if (c.events_size() > 0) {
    s.online_events = false;
    s.offline_events = false;
    for (const std::string& e : c.events()) {
      if (e == "online") {
        s.online_events = true;
      } else if (e == "offline") {
        s.offline_events = true;
      } else {
        return invalidArgument(field + ".events: '" + e + "' is not online or offline");
      }
    }
  }
  if (c.max_concurrency()) s.max_concurrency = c.max_concurrency();
  if (c.max_queued()) s.max_queued = c.max_queued();
  if (c.timeout_ms()) s.timeout = std::chrono::milliseconds(c.timeout_ms());
  RETURN_IF_ERROR(s.validate(field));
  return s;
}

Result<AppSettings> AppSettings::fromRecord(const discovery::AppRecord& r,
                                            const AppSettings& defaults) {
  AppSettings s;
  s.name = r.name;
  for (const auto& [type, url] : r.upstream_webhooks) {
    if (type == "default") {
      s.upstream_url = url;
    } else {
      s.upstream_urls[type] = url;
    }
  }
  s.events_url = r.events_webhook;
  s.online_events = r.wantsEvent("online");
  s.offline_events = r.wantsEvent("offline");
  s.max_concurrency = defaults.max_concurrency;
  s.max_queued = defaults.max_queued;
  s.timeout = defaults.timeout;
  RETURN_IF_ERROR(s.validate("apps/" + r.name));
  return s;
}

}  // namespace push::coord
