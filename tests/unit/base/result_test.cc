#include "common/base/result.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace push {
namespace {

TEST(ResultTest, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(r.status().isOk());
}

TEST(ResultTest, HoldsError) {
  Result<int> r = Status(Code::TIMEOUT, "late");
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::TIMEOUT);
  EXPECT_EQ(r.status().message(), "late");
}

TEST(ResultTest, ArrowAndMutation) {
  Result<std::string> r = std::string("abc");
  EXPECT_EQ(r->size(), 3u);
  r.value() += "d";
  EXPECT_EQ(*r, "abcd");
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->size(), 4u);
  EXPECT_EQ(*cr, "abcd");
}

TEST(ResultTest, MoveOnlyValueMovesOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.isOk());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

#ifdef NDEBUG
// In debug builds this is an assert; release builds turn it into an INTERNAL error so that a
// bug never yields an "OK Result" without a value.
TEST(ResultTest, OkStatusWithoutValueBecomesInternal) {
  Result<int> r = Status::ok();
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::INTERNAL);
}
#endif

Result<int> parsePositive(int v) {
  if (v <= 0) return invalidArgument("not positive: " + std::to_string(v));
  return v;
}

Result<int> sumOfPositives(int a, int b, std::vector<int>* seen) {
  ASSIGN_OR_RETURN(int x, parsePositive(a));
  seen->push_back(x);
  ASSIGN_OR_RETURN(int y, parsePositive(b));
  seen->push_back(y);
  return x + y;
}

TEST(ResultTest, AssignOrReturnAssignsOnSuccess) {
  std::vector<int> seen;
  Result<int> r = sumOfPositives(2, 3, &seen);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(seen, (std::vector<int>{2, 3}));
}

TEST(ResultTest, AssignOrReturnPropagatesFirstError) {
  std::vector<int> seen;
  Result<int> r = sumOfPositives(2, -1, &seen);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(r.status().message(), "not positive: -1");
  EXPECT_EQ(seen, (std::vector<int>{2}));  // stopped before the second push_back

  seen.clear();
  r = sumOfPositives(0, 5, &seen);
  EXPECT_EQ(r.status().message(), "not positive: 0");
  EXPECT_TRUE(seen.empty());
}

Status consume(int v, std::unique_ptr<int>* out) {
  auto make = [](int v) -> Result<std::unique_ptr<int>> {
    if (v < 0) return notFound("negative");
    return std::make_unique<int>(v);
  };
  // Works into an existing variable and with move-only values; two uses in one function.
  ASSIGN_OR_RETURN(*out, make(v));
  ASSIGN_OR_RETURN(std::unique_ptr<int> again, make(v + 1));
  **out += *again;
  return Status::ok();
}

TEST(ResultTest, AssignOrReturnInStatusFunctionWithMoveOnlyValues) {
  std::unique_ptr<int> out;
  EXPECT_TRUE(consume(1, &out).isOk());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(*out, 3);
  Status st = consume(-5, &out);
  EXPECT_EQ(st.code(), Code::NOT_FOUND);
}

}  // namespace
}  // namespace push
