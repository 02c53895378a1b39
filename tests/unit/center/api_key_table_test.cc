#include "services/center/api_key_table.h"

#include <gtest/gtest.h>

#include <string>

namespace push::center {
namespace {

TEST(ApiKeyTableTest, FindsTheAppOfEachKey) {
  ApiKeyTable t;
  ASSERT_TRUE(t.add("key-a-0123456789abcdef", 0).isOk());
  ASSERT_TRUE(t.add("key-a-second-0123456789", 0).isOk());
  ASSERT_TRUE(t.add("key-b-0123456789abcdef", 1).isOk());
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.find("key-a-0123456789abcdef"), std::optional<size_t>(0));
  EXPECT_EQ(t.find("key-a-second-0123456789"), std::optional<size_t>(0));
  EXPECT_EQ(t.find("key-b-0123456789abcdef"), std::optional<size_t>(1));
}

TEST(ApiKeyTableTest, WrongKeysFindNothing) {
  ApiKeyTable t;
  ASSERT_TRUE(t.add("key-a-0123456789abcdef", 0).isOk());
  EXPECT_EQ(t.find(""), std::nullopt);
  EXPECT_EQ(t.find("key-a-0123456789abcdeF"), std::nullopt);  // same length, last byte off
  EXPECT_EQ(t.find("key-a-0123456789abcde"), std::nullopt);   // a prefix
  EXPECT_EQ(t.find("key-a-0123456789abcdef "), std::nullopt);
  EXPECT_EQ(t.find(std::string("key-a-0123456789abcdef\0", 23)), std::nullopt);
}

TEST(ApiKeyTableTest, AKeyNamesOneAppOnly) {
  ApiKeyTable t;
  ASSERT_TRUE(t.add("key-a-0123456789abcdef", 0).isOk());
  Status again = t.add("key-a-0123456789abcdef", 1);
  EXPECT_EQ(again.code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(t.add("key-a-0123456789abcdef", 0).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(t.add("", 0).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(t.find("key-a-0123456789abcdef"), std::optional<size_t>(0));
  EXPECT_EQ(t.size(), 1u);
}

TEST(ApiKeyTableTest, ManyKeys) {
  ApiKeyTable t;
  for (size_t i = 0; i < 1000; ++i)
    ASSERT_TRUE(t.add("key-" + std::to_string(i) + "-0123456789abcdef", i % 7).isOk());
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(t.find("key-" + std::to_string(i) + "-0123456789abcdef"),
              std::optional<size_t>(i % 7));
    EXPECT_EQ(t.find("key-" + std::to_string(i) + "-0123456789abcdeg"), std::nullopt);
  }
}

}  // namespace
}  // namespace push::center
