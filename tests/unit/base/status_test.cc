#include "common/base/status.h"

#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace push {
namespace {

TEST(StatusTest, DefaultIsOkWithEmptyMessage) {
  Status st;
  EXPECT_TRUE(st.isOk());
  EXPECT_EQ(st.code(), Code::OK);
  EXPECT_EQ(st.message(), "");
  EXPECT_EQ(st.toString(), "OK");
  EXPECT_EQ(st, Status::ok());
}

TEST(StatusTest, HelpersSetCodeAndMessage) {
  EXPECT_EQ(invalidArgument("x").code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(notFound("x").code(), Code::NOT_FOUND);
  EXPECT_EQ(unavailable("x").code(), Code::UNAVAILABLE);
  EXPECT_EQ(internalError("x").code(), Code::INTERNAL);
  Status st = unavailable("no endpoint");
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(st.message(), "no endpoint");
}

TEST(StatusTest, CodeNamesMatchTheProtoEnum) {
  // Every value of push.Code has a name, and that name is the proto's own.
  for (int i = Code_MIN; i <= Code_MAX; ++i) {
    ASSERT_TRUE(Code_IsValid(i));
    const Code code = static_cast<Code>(i);
    EXPECT_EQ(codeName(code), Code_Name(code)) << i;
  }
  EXPECT_EQ(codeName(static_cast<Code>(999)), "UNKNOWN");
}

TEST(StatusTest, ToStringIsCodeColonMessage) {
  EXPECT_EQ(Status(Code::TIMEOUT, "no reply within 100 ms").toString(),
            "TIMEOUT: no reply within 100 ms");
  // No dangling ": " when there is no message.
  EXPECT_EQ(Status(Code::CANCELLED, "").toString(), "CANCELLED");
  std::ostringstream os;
  os << Status(Code::RATE_LIMITED, "slow down");
  EXPECT_EQ(os.str(), "RATE_LIMITED: slow down");
}

TEST(StatusTest, WithContextPrependsAndKeepsCode) {
  Status st = notFound("no such file").withContext("loading room.conf");
  EXPECT_EQ(st.code(), Code::NOT_FOUND);
  EXPECT_EQ(st.message(), "loading room.conf: no such file");
  // Chains read outermost first.
  EXPECT_EQ(st.withContext("starting").message(), "starting: loading room.conf: no such file");
}

TEST(StatusTest, WithContextOnOkIsNoOp) {
  Status st = Status::ok().withContext("anything");
  EXPECT_TRUE(st.isOk());
  EXPECT_EQ(st.message(), "");
}

TEST(StatusTest, EqualityComparesCodeAndMessage) {
  EXPECT_EQ(Status(Code::INTERNAL, "a"), Status(Code::INTERNAL, "a"));
  EXPECT_NE(Status(Code::INTERNAL, "a"), Status(Code::INTERNAL, "b"));
  EXPECT_NE(Status(Code::INTERNAL, "a"), Status(Code::TIMEOUT, "a"));
}

Status failIf(bool fail, int* reached) {
  if (fail) return Status(Code::OVERLOADED, "busy");
  ++*reached;
  return Status::ok();
}

Status twoSteps(bool fail_first, bool fail_second, int* reached) {
  RETURN_IF_ERROR(failIf(fail_first, reached));
  RETURN_IF_ERROR(failIf(fail_second, reached));
  return Status(Code::ALREADY_EXISTS, "end reached");
}

TEST(StatusTest, ReturnIfErrorReturnsFirstFailure) {
  int reached = 0;
  Status st = twoSteps(true, false, &reached);
  EXPECT_EQ(st, Status(Code::OVERLOADED, "busy"));
  EXPECT_EQ(reached, 0);  // the second step never ran

  reached = 0;
  st = twoSteps(false, true, &reached);
  EXPECT_EQ(st.code(), Code::OVERLOADED);
  EXPECT_EQ(reached, 1);

  reached = 0;
  st = twoSteps(false, false, &reached);
  EXPECT_EQ(st.code(), Code::ALREADY_EXISTS);
  EXPECT_EQ(reached, 2);
}

TEST(StatusTest, ReturnIfErrorEvaluatesExpressionOnce) {
  int calls = 0;
  auto step = [&calls]() -> Status {
    ++calls;
    return Status::ok();
  };
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(step());
    return Status::ok();
  };
  EXPECT_TRUE(run().isOk());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace push
