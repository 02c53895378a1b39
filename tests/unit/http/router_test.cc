#include "common/http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace push::http {
namespace {

HttpHandler named(std::string name, std::string* called) {
  return [name, called](HttpRequest&, HttpResponder r) {
    *called = name;
    r.respond(200, name);
  };
}

// Routes a request built in code and returns what was answered.
HttpResponse route(const Router& router, std::string method, std::string target,
                   HttpRequest* out = nullptr) {
  HttpRequest req;
  EXPECT_TRUE(req.setTarget(std::move(target)).isOk());
  req.setMethod(std::move(method));
  HttpResponse answer;
  HttpRequest* seen = nullptr;
  {
    HttpResponder responder(std::move(req), [&](HttpResponse&& r) { answer = std::move(r); });
    seen = &responder.request();
    router.handle(*seen, std::move(responder));
  }
  (void)seen;
  (void)out;
  return answer;
}

TEST(RouterTest, RejectsBadRoutes) {
  Router router;
  std::string called;
  EXPECT_EQ(router.add("get", "/x", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("", "/x", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "x", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/a/{}", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/a/{b-c}", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/a/{b", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/a/x{b}", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/{a}/{a}", named("a", &called)).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(router.add("GET", "/a", nullptr).code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(router.add("GET", "/a/{id}", named("a", &called)).isOk());
  EXPECT_EQ(router.add("GET", "/a/{other}", named("b", &called)).code(), Code::ALREADY_EXISTS);
  EXPECT_TRUE(router.add("POST", "/a/{other}", named("b", &called)).isOk());
  EXPECT_EQ(router.size(), 2u);
}

TEST(RouterTest, MatchesLiteralsAndParameters) {
  Router router;
  std::string called;
  ASSERT_TRUE(router.add("GET", "/", named("root", &called)).isOk());
  ASSERT_TRUE(router.add("GET", "/v1/apps/{app}/users/{user}", named("user", &called)).isOk());
  ASSERT_TRUE(router.add("GET", "/v1/apps/{app}/users/me", named("me", &called)).isOk());
  ASSERT_TRUE(router.add("GET", "/v1/apps/{app}/", named("slash", &called)).isOk());

  auto m = router.match("GET", "/v1/apps/chat/users/u1");
  ASSERT_EQ(m.kind, Router::Match::Kind::Found);
  std::vector<HttpRequest::Param> want = {{"app", "chat"}, {"user", "u1"}};
  EXPECT_EQ(m.params, want);

  m = router.match("GET", "/v1/apps/chat/users/me");
  ASSERT_EQ(m.kind, Router::Match::Kind::Found);
  (*m.handler)(*std::make_unique<HttpRequest>(), HttpResponder());
  EXPECT_EQ(called, "me");

  EXPECT_EQ(router.match("GET", "/").kind, Router::Match::Kind::Found);
  EXPECT_EQ(router.match("GET", "").kind, Router::Match::Kind::Found);
  EXPECT_EQ(router.match("GET", "/v1/apps/chat/").kind, Router::Match::Kind::Found);
  EXPECT_EQ(router.match("GET", "/v1/apps/chat").kind, Router::Match::Kind::NotFound);
  EXPECT_EQ(router.match("GET", "/v1/apps//users/u1").kind, Router::Match::Kind::NotFound);
  EXPECT_EQ(router.match("GET", "/v1/apps/chat/users/u1/x").kind, Router::Match::Kind::NotFound);
  EXPECT_EQ(router.match("GET", "/v1/apps/%zz/users/u1").kind, Router::Match::Kind::NotFound);
}

TEST(RouterTest, ParametersAreDecodedPerSegment) {
  Router router;
  std::string called;
  ASSERT_TRUE(router.add("GET", "/files/{name}", named("f", &called)).isOk());
  auto m = router.match("GET", "/files/a%2Fb%20c");
  ASSERT_EQ(m.kind, Router::Match::Kind::Found);
  EXPECT_EQ(m.params[0].second, "a/b c");
  // A decoded literal matches its encoded form.
  ASSERT_TRUE(router.add("GET", "/with space", named("s", &called)).isOk());
  EXPECT_EQ(router.match("GET", "/with%20space").kind, Router::Match::Kind::Found);
}

TEST(RouterTest, LiteralBranchFallsBackToParameter) {
  Router router;
  std::string called;
  ASSERT_TRUE(router.add("GET", "/a/b/c", named("literal", &called)).isOk());
  ASSERT_TRUE(router.add("GET", "/a/{x}/d", named("param", &called)).isOk());
  auto m = router.match("GET", "/a/b/d");
  ASSERT_EQ(m.kind, Router::Match::Kind::Found);
  EXPECT_EQ(m.params, (std::vector<HttpRequest::Param>{{"x", "b"}}));
}

TEST(RouterTest, MethodNotAllowedListsAllow) {
  Router router;
  std::string called;
  ASSERT_TRUE(router.add("GET", "/r/{id}", named("get", &called)).isOk());
  ASSERT_TRUE(router.add("DELETE", "/r/{id}", named("del", &called)).isOk());
  ASSERT_TRUE(router.add("PUT", "/r/special", named("put", &called)).isOk());

  auto m = router.match("POST", "/r/1");
  EXPECT_EQ(m.kind, Router::Match::Kind::MethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD");
  // Both the literal and the parameter pattern match: methods of both are allowed.
  m = router.match("POST", "/r/special");
  EXPECT_EQ(m.kind, Router::Match::Kind::MethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD, PUT");
  // ... and a method only the parameter pattern has is found through it.
  m = router.match("GET", "/r/special");
  ASSERT_EQ(m.kind, Router::Match::Kind::Found);
  EXPECT_EQ(m.params, (std::vector<HttpRequest::Param>{{"id", "special"}}));
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router router;
  std::string called;
  ASSERT_TRUE(router.add("GET", "/x", named("get", &called)).isOk());
  EXPECT_EQ(router.match("HEAD", "/x").kind, Router::Match::Kind::Found);
  ASSERT_TRUE(router.add("HEAD", "/x", named("head", &called)).isOk());
  auto m = router.match("HEAD", "/x");
  (*m.handler)(*std::make_unique<HttpRequest>(), HttpResponder());
  EXPECT_EQ(called, "head");
}

TEST(RouterTest, HandleAnswers404And405AndSetsParams) {
  Router router;
  std::string called;
  ASSERT_TRUE(router
                  .add("GET", "/u/{user}",
                       [&](HttpRequest& req, HttpResponder r) {
                         called = std::string(req.pathParam("user").value_or("?"));
                         r.respond(200, "");
                       })
                  .isOk());
  HttpResponse r = route(router, "GET", "/u/bob");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(called, "bob");
  r = route(router, "GET", "/nothing");
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.body(), R"({"error":"not found"})");
  r = route(router, "PATCH", "/u/bob");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");
}

TEST(RouterTest, MovedRouterKeepsRoutes) {
  Router a;
  std::string called;
  ASSERT_TRUE(a.add("GET", "/x", named("x", &called)).isOk());
  Router b = std::move(a);
  EXPECT_EQ(b.match("GET", "/x").kind, Router::Match::Kind::Found);
  EXPECT_EQ(a.match("GET", "/x").kind, Router::Match::Kind::NotFound);  // NOLINT: moved-from
  EXPECT_TRUE(a.add("GET", "/y", named("y", &called)).isOk());          // usable again
}

}  // namespace
}  // namespace push::http
