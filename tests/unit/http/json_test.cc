#include "common/http/json.h"

#include <gtest/gtest.h>

#include "proto/echo.pb.h"

namespace push::http {
namespace {

HttpRequest withBody(std::string body) {
  HttpRequest req;
  req.setBody(std::move(body));
  return req;
}

TEST(JsonTest, ParsesBodyIntoMessage) {
  echo::EchoRequest msg;
  msg.set_fail_with(9);  // cleared first
  ASSERT_TRUE(parseJsonBody(withBody(R"({"message":"hi","delay_ms":5})"), &msg).isOk());
  EXPECT_EQ(msg.message(), "hi");
  EXPECT_EQ(msg.delay_ms(), 5u);
  EXPECT_EQ(msg.fail_with(), 0);
}

TEST(JsonTest, ErrorsNameTheTypeAndTheProblem) {
  echo::EchoRequest msg;
  Status st = parseJsonBody(withBody("  \n"), &msg);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(st.message(),
            "request body: expected JSON for push.echo.EchoRequest, got an empty body");

  st = parseJsonBody(withBody(R"({"delayMs":"soon"})"), &msg);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(st.message().find("invalid JSON for push.echo.EchoRequest: "), std::string::npos)
      << st.message();

  st = parseJsonBody(withBody(R"({"nope":1})"), &msg);
  EXPECT_NE(st.message().find("nope"), std::string::npos) << st.message();

  st = parseJsonBody(withBody("[1,2"), &msg);
  EXPECT_FALSE(st.isOk());
}

TEST(JsonTest, RespondJsonAndStatus) {
  HttpResponse answer;
  {
    HttpResponder r(HttpRequest(), [&](HttpResponse&& a) { answer = std::move(a); });
    echo::EchoResponse out;
    out.set_message("x");
    out.set_server_id("s");
    respondJson(r, 201, out);
  }
  EXPECT_EQ(answer.status(), 201);
  EXPECT_EQ(answer.header("Content-Type"), "application/json");
  EXPECT_EQ(answer.body(), R"({"message":"x","serverId":"s"})");

  {
    HttpResponder r(HttpRequest(), [&](HttpResponse&& a) { answer = std::move(a); });
    respondStatus(r, Status(Code::RATE_LIMITED, "slow \"down\""));
  }
  EXPECT_EQ(answer.status(), 429);
  EXPECT_EQ(answer.body(), R"({"error":"slow \"down\"","code":"RATE_LIMITED"})");
}

TEST(JsonTest, StatusMapping) {
  EXPECT_EQ(httpStatusFor(Code::OK), 200);
  EXPECT_EQ(httpStatusFor(Code::INVALID_ARGUMENT), 400);
  EXPECT_EQ(httpStatusFor(Code::UNAUTHENTICATED), 401);
  EXPECT_EQ(httpStatusFor(Code::PERMISSION_DENIED), 403);
  EXPECT_EQ(httpStatusFor(Code::NOT_FOUND), 404);
  EXPECT_EQ(httpStatusFor(Code::ALREADY_EXISTS), 409);
  EXPECT_EQ(httpStatusFor(Code::RATE_LIMITED), 429);
  EXPECT_EQ(httpStatusFor(Code::INTERNAL), 500);
  EXPECT_EQ(httpStatusFor(Code::UNAVAILABLE), 503);
  EXPECT_EQ(httpStatusFor(Code::TIMEOUT), 504);
}

}  // namespace
}  // namespace push::http
