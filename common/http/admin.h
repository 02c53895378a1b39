#pragma once

// The admin endpoints every service serves on its admin port (docs/ARCHITECTURE.md §2):
//   GET /healthz  200 "ok" when ready, 503 with the reason when not
//   GET /metrics  Prometheus text (metrics::Registry::global()), "text/plain; version=0.0.4"
//   GET /status   JSON the service produces
//
//   mountAdmin(router, AdminInfo{
//       .health = [&] { return room.draining() ? unavailable("draining") : Status::ok(); },
//       .status_json = [&] { return room.statusJson(); }});

#include <functional>
#include <string>

#include "common/base/status.h"
#include "common/http/router.h"

namespace push::http {

struct AdminInfo {
  // Readiness: OK -> 200 "ok"; otherwise 503 {"error":"<message>"}. Runs on the loop thread
  // for each request; keep it quick. Unset: always ready.
  std::function<Status()> health;
  // The /status document, already JSON. Runs on the loop thread for each request. Unset:
  // "{}".
  std::function<std::string()> status_json;
};

// Adds GET /healthz, /metrics and /status to `router` (HEAD works too). Call once per router,
// before the server starts. A route already taken is a programmer error: logged, and the
// existing route is kept.
void mountAdmin(Router& router, AdminInfo info);

}  // namespace push::http
