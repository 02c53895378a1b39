#include "common/http/admin.h"

#include <memory>

#include "common/base/log.h"
#include "common/base/metrics.h"

namespace push::http {
namespace {

void addOrLog(Router& router, std::string_view path, HttpHandler handler) {
  Status st = router.add("GET", path, std::move(handler));
  if (!st.isOk()) LOG_ERROR(Http, "mountAdmin: {}", st.toString());
}

}  // namespace

void mountAdmin(Router& router, AdminInfo info) {
  // Shared by the three handlers (the Router copies nothing else).
  auto shared = std::make_shared<AdminInfo>(std::move(info));

  addOrLog(router, "/healthz", [shared](HttpRequest&, HttpResponder r) {
    Status st = shared->health ? shared->health() : Status::ok();
    if (st.isOk()) {
      r.respond(200, "ok\n");
    } else {
      r.respondError(503, st.message().empty() ? std::string("not ready") : st.message());
    }
  });

  addOrLog(router, "/metrics", [](HttpRequest&, HttpResponder r) {
    r.respond(200, metrics::Registry::global().render(), "text/plain; version=0.0.4");
  });

  addOrLog(router, "/status", [shared](HttpRequest&, HttpResponder r) {
    std::string json = shared->status_json ? shared->status_json() : std::string("{}");
    r.respond(HttpResponse::json(200, std::move(json)));
  });
}

}  // namespace push::http
