#include "common/http/middleware.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base/log.h"
#include "common/base/metrics.h"

namespace push::http {
namespace {

TEST(MiddlewareChainTest, RunsInOrderUntilOneAnswers) {
  std::vector<std::string> trace;
  MiddlewareChain chain;
  chain.add([&](HttpRequest& req, HttpResponder&) {
    trace.push_back("a");
    req.addHeader("X-Seen-By", "a");  // may change the request for later steps
  });
  chain.add([&](HttpRequest& req, HttpResponder& r) {
    trace.push_back("b");
    if (req.header("X-Seen-By") == "a") r.respondError(403, "forbidden");
  });
  chain.add([&](HttpRequest&, HttpResponder&) { trace.push_back("c"); });
  chain.add(nullptr);  // ignored
  EXPECT_EQ(chain.size(), 3u);

  HttpResponse answer;
  HttpResponder responder(HttpRequest(), [&](HttpResponse&& r) { answer = std::move(r); });
  EXPECT_TRUE(chain.run(responder.request(), responder));
  EXPECT_EQ(trace, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(answer.status(), 403);
}

TEST(MiddlewareChainTest, PassesOnWhenNobodyAnswers) {
  MiddlewareChain chain;
  int runs = 0;
  chain.add([&](HttpRequest&, HttpResponder&) { ++runs; });
  HttpResponder responder(HttpRequest(), [](HttpResponse&&) {});
  EXPECT_FALSE(chain.run(responder.request(), responder));
  EXPECT_EQ(runs, 1);
  responder.respond(200, "");
}

TEST(MiddlewareChainTest, MetricsCountByStatus) {
  auto& ok = metrics::Registry::global().counter(
      "push_http_requests_total", "HTTP requests answered, by status code.", "code=\"202\"");
  const uint64_t before = ok.value();
  MiddlewareChain chain;
  chain.add(requestMetrics());
  chain.add(requestLog());
  ASSERT_TRUE(log::setLevel("debug").isOk());  // exercise the log line too
  for (int i = 0; i < 3; ++i) {
    HttpRequest req;
    req.setMethod("GET");
    ASSERT_TRUE(req.setTarget("/m").isOk());
    req.setReceivedAt(Clock::system().monoNow());
    HttpResponder responder(std::move(req), [](HttpResponse&&) {});
    EXPECT_FALSE(chain.run(responder.request(), responder));
    responder.respond(202, "");
  }
  ASSERT_TRUE(log::setLevel("info").isOk());
  EXPECT_EQ(ok.value(), before + 3);
  EXPECT_NE(metrics::Registry::global().render().find("push_http_request_seconds_bucket"),
            std::string::npos);
}

}  // namespace
}  // namespace push::http
