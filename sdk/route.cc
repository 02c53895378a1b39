#include "sdk/route.h"

#include <algorithm>
#include <utility>

#include "common/base/json_reader.h"
#include "sdk/http_get.h"

namespace push::sdk {

namespace {

Status readRoute(std::string_view body, Route* out) {
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  bool has_ttl = false;
  uint64_t ttl = 0;
  while (r.nextKey(&key)) {
    if (key == "tcp") {
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement()) {
        std::string entry;
        RETURN_IF_ERROR(r.readString(&entry));
        if (out->tcp.size() >= kMaxRouteEntries) continue;
        auto server = parseServer(entry);
        if (server.isOk()) out->tcp.push_back(std::move(*server));
      }
      RETURN_IF_ERROR(r.status());
    } else if (key == "heartbeat_s") {
      uint64_t v = 0;
      RETURN_IF_ERROR(r.readUintTruncated(&v, UINT32_MAX));
      out->heartbeat_s = static_cast<uint32_t>(v);
    } else if (key == "ttl_s") {
      RETURN_IF_ERROR(r.readUintTruncated(&ttl, UINT32_MAX));
      has_ttl = true;
    } else {
      RETURN_IF_ERROR(r.skipValue());
    }
  }
  RETURN_IF_ERROR(r.finish());
  out->ttl_s = has_ttl && ttl > 0
                   ? static_cast<uint32_t>(std::clamp<uint64_t>(ttl, kMinRouteTtlS, kMaxRouteTtlS))
                   : kDefaultRouteTtlS;
  return Status::ok();
}

}  // namespace

Result<Route> parseRoute(std::string_view body) {
  Route route;
  if (Status st = readRoute(body, &route); !st.isOk()) {
    return Status(Code::PROTOCOL_ERROR, "dispatcher answer: " + st.message());
  }
  if (route.tcp.empty()) {
    return Status(Code::PROTOCOL_ERROR, "dispatcher answer: no usable tcp address");
  }
  return route;
}

std::string routeTarget(std::string_view path, std::string_view app, std::string_view user,
                        std::string_view net, std::string_view region, uint32_t retry) {
  std::string t(path);
  t += "/v1/route?app=" + urlEncode(app) + "&user=" + urlEncode(user) + "&net=" + urlEncode(net);
  if (!region.empty()) t += "&region=" + urlEncode(region);
  t += "&retry=" + std::to_string(retry);
  return t;
}

}  // namespace push::sdk
