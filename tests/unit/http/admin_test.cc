#include "common/http/admin.h"

#include <gtest/gtest.h>

#include "common/base/metrics.h"

namespace push::http {
namespace {

HttpResponse get(const Router& router, std::string target, std::string method = "GET") {
  HttpRequest req;
  EXPECT_TRUE(req.setTarget(std::move(target)).isOk());
  req.setMethod(std::move(method));
  HttpResponse answer;
  HttpResponder responder(std::move(req), [&](HttpResponse&& r) { answer = std::move(r); });
  HttpRequest& r = responder.request();
  router.handle(r, std::move(responder));
  return answer;
}

TEST(AdminTest, DefaultsWhenNoCallbacks) {
  Router router;
  mountAdmin(router, AdminInfo{});
  EXPECT_EQ(router.size(), 3u);
  HttpResponse health = get(router, "/healthz");
  EXPECT_EQ(health.status(), 200);
  EXPECT_EQ(health.body(), "ok\n");
  HttpResponse status = get(router, "/status");
  EXPECT_EQ(status.status(), 200);
  EXPECT_EQ(status.body(), "{}");
  EXPECT_EQ(get(router, "/healthz", "POST").status(), 405);
}

TEST(AdminTest, HealthAndStatusCallbacks) {
  Router router;
  Status health = unavailable("");
  mountAdmin(router, AdminInfo{.health = [&] { return health; },
                               .status_json = [] { return std::string(R"({"up":true})"); }});
  HttpResponse r = get(router, "/healthz");
  EXPECT_EQ(r.status(), 503);
  EXPECT_EQ(r.body(), R"({"error":"not ready"})");
  health = Status::ok();
  EXPECT_EQ(get(router, "/healthz").status(), 200);
  r = get(router, "/status");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.body(), R"({"up":true})");
}

TEST(AdminTest, MetricsRenderTheGlobalRegistry) {
  Router router;
  mountAdmin(router, AdminInfo{});
  metrics::Registry::global().gauge("push_http_admin_test_gauge", "A gauge.").set(17);
  HttpResponse r = get(router, "/metrics");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(r.body().find("push_http_admin_test_gauge 17\n"), std::string::npos) << r.body();
  EXPECT_EQ(get(router, "/metrics", "HEAD").status(), 200);  // served by GET
}

TEST(AdminTest, MountingTwiceKeepsTheFirstRoutes) {
  Router router;
  mountAdmin(router, AdminInfo{.status_json = [] { return std::string("1"); }});
  mountAdmin(router, AdminInfo{.status_json = [] { return std::string("2"); }});  // logged
  EXPECT_EQ(router.size(), 3u);
  EXPECT_EQ(get(router, "/status").body(), "1");
}

}  // namespace
}  // namespace push::http
