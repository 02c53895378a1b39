#include "services/dispatcher/route_query.h"

#include <optional>
#include <string>

#include "common/http/http_request.h"

namespace push::dispatcher {
namespace {

bool printable(std::string_view s) {
  for (char c : s) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

bool regionChars(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status required(const http::HttpRequest& req, std::string_view name, size_t max,
                std::string_view* out) {
  std::optional<std::string_view> v = req.query(name);
  if (!v || v->empty()) return invalidArgument(std::string(name) + ": missing");
  if (v->size() > max) {
    return invalidArgument(std::string(name) + ": longer than " + std::to_string(max) + " bytes");
  }
  if (!printable(*v)) {
    return invalidArgument(std::string(name) + ": only printable ASCII without spaces");
  }
  *out = *v;
  return Status::ok();
}

}  // namespace

Result<RouteQuery> RouteQuery::parse(const http::HttpRequest& req) {
  RouteQuery q;
  RETURN_IF_ERROR(required(req, "app", 128, &q.app));
  RETURN_IF_ERROR(required(req, "user", 256, &q.user));
  if (std::optional<std::string_view> net = req.query("net"); net && !net->empty()) {
    if (*net == "wifi") {
      q.net = Network::Wifi;
    } else if (*net == "cellular") {
      q.net = Network::Cellular;
    } else if (*net == "ethernet") {
      q.net = Network::Ethernet;
    } else if (*net == "unknown") {
      q.net = Network::Unknown;
    } else {
      return invalidArgument("net: one of wifi, cellular, ethernet, unknown");
    }
  }
  if (std::optional<std::string_view> region = req.query("region"); region) {
    if (region->size() > 64 || !regionChars(*region)) {
      return invalidArgument("region: up to 64 of A-Z a-z 0-9 . _ -");
    }
    q.region = *region;
  }
  if (std::optional<std::string_view> retry = req.query("retry"); retry && !retry->empty()) {
    uint32_t n = 0;
    bool ok = retry->size() <= 3;
    for (char c : *retry) {
      if (c < '0' || c > '9') ok = false;
      n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    if (!ok || n > kMaxRetry) {
      return invalidArgument("retry: an integer 0.." + std::to_string(kMaxRetry));
    }
    q.retry = n;
  }
  return q;
}

}  // namespace push::dispatcher
