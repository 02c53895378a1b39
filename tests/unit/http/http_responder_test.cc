#include "common/http/http_responder.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace push::http {
namespace {

// A responder that records what it delivers, as a server would.
struct Sink {
  std::vector<HttpResponse> delivered;
  HttpResponder make(std::string path = "/x") {
    HttpRequest req;
    EXPECT_TRUE(req.setTarget(std::move(path)).isOk());
    req.setMethod("GET");
    return HttpResponder(std::move(req),
                         [this](HttpResponse&& r) { delivered.push_back(std::move(r)); });
  }
};

TEST(HttpResponderTest, RespondsExactlyOnce) {
  Sink sink;
  HttpResponder r = sink.make();
  EXPECT_FALSE(r.responded());
  r.respond(201, "made");
  EXPECT_TRUE(r.responded());
  r.respond(500, "again");  // ignored
  r.respondError(400, "and again");
  ASSERT_EQ(sink.delivered.size(), 1u);
  EXPECT_EQ(sink.delivered[0].status(), 201);
  EXPECT_EQ(sink.delivered[0].body(), "made");
}

TEST(HttpResponderTest, DroppedAnswers500) {
  Sink sink;
  { HttpResponder r = sink.make(); }
  ASSERT_EQ(sink.delivered.size(), 1u);
  EXPECT_EQ(sink.delivered[0].status(), 500);
  EXPECT_EQ(sink.delivered[0].body(), R"({"error":"handler did not respond"})");
}

TEST(HttpResponderTest, MovesKeepTheRequestAliveAndAnswerOnce) {
  Sink sink;
  HttpResponder a = sink.make("/first");
  HttpRequest* req = &a.request();
  HttpResponder b = std::move(a);
  EXPECT_TRUE(a.responded());  // moved-from is empty
  a.respond(200, "ignored");
  EXPECT_EQ(&b.request(), req);  // same request object
  EXPECT_EQ(b.request().path(), "/first");
  EXPECT_TRUE(sink.delivered.empty());

  // Assigning over an unanswered responder answers it (500) first.
  b = sink.make("/second");
  ASSERT_EQ(sink.delivered.size(), 1u);
  EXPECT_EQ(sink.delivered[0].status(), 500);
  EXPECT_EQ(b.request().path(), "/second");
  b.respond(200, "ok");
  EXPECT_EQ(sink.delivered.size(), 2u);
}

TEST(HttpResponderTest, HooksRunInReverseAndMayEditTheResponse) {
  Sink sink;
  std::vector<int> order;
  HttpResponder r = sink.make();
  r.onComplete([&](const HttpRequest& req, HttpResponse& resp) {
    order.push_back(1);
    EXPECT_EQ(resp.header("X-Inner"), "yes");  // the later hook ran first
    resp.setHeader("X-Outer", req.path());
  });
  r.onComplete([&](const HttpRequest&, HttpResponse& resp) {
    order.push_back(2);
    resp.setHeader("X-Inner", "yes");
  });
  r.respond(200, "");
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
  ASSERT_EQ(sink.delivered.size(), 1u);
  EXPECT_EQ(sink.delivered[0].header("X-Outer"), "/x");
  r.onComplete([&](const HttpRequest&, HttpResponse&) { order.push_back(3); });  // too late
  EXPECT_EQ(order.size(), 2u);
}

TEST(HttpResponderTest, EmptyResponderIsInert) {
  HttpResponder r;
  EXPECT_TRUE(r.responded());
  r.respond(200, "nothing happens");
  r.onComplete([](const HttpRequest&, HttpResponse&) { FAIL(); });
}

}  // namespace
}  // namespace push::http
