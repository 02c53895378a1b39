#include "common/http/http_request.h"

#include <gtest/gtest.h>

namespace push::http {
namespace {

TEST(HttpRequestTest, SplitsOriginFormTarget) {
  HttpRequest req;
  ASSERT_TRUE(req.setTarget("/v1/a%20b/c?x=1&y=two+words&z=%3D").isOk());
  EXPECT_EQ(req.target(), "/v1/a%20b/c?x=1&y=two+words&z=%3D");
  EXPECT_EQ(req.path(), "/v1/a b/c");
  EXPECT_EQ(req.rawPath(), "/v1/a%20b/c");
  EXPECT_EQ(req.rawQuery(), "x=1&y=two+words&z=%3D");
  EXPECT_EQ(req.query("x"), "1");
  EXPECT_EQ(req.query("y"), "two words");
  EXPECT_EQ(req.query("z"), "=");
  EXPECT_FALSE(req.query("missing"));
}

TEST(HttpRequestTest, PlusIsLiteralInPathAndRepeatedKeysKeepOrder) {
  HttpRequest req;
  ASSERT_TRUE(req.setTarget("/a+b?k=1&&k=2&=v").isOk());
  EXPECT_EQ(req.path(), "/a+b");
  EXPECT_EQ(req.query("k"), "1");
  std::vector<HttpRequest::Param> want = {{"k", "1"}, {"k", "2"}, {"", "v"}};
  EXPECT_EQ(req.queryParams(), want);
}

TEST(HttpRequestTest, AbsoluteFormAndAsterisk) {
  HttpRequest req;
  ASSERT_TRUE(req.setTarget("http://example.com:8080/p/q?a=b").isOk());
  EXPECT_EQ(req.path(), "/p/q");
  EXPECT_EQ(req.rawPath(), "/p/q");
  EXPECT_EQ(req.query("a"), "b");
  ASSERT_TRUE(req.setTarget("http://example.com").isOk());
  EXPECT_EQ(req.path(), "/");
  ASSERT_TRUE(req.setTarget("*").isOk());
  EXPECT_EQ(req.path(), "*");
}

TEST(HttpRequestTest, RejectsBadTargets) {
  HttpRequest req;
  ASSERT_TRUE(req.setTarget("/keep").isOk());
  EXPECT_FALSE(req.setTarget("/a%zz").isOk());
  EXPECT_FALSE(req.setTarget("/a%2").isOk());
  EXPECT_FALSE(req.setTarget("/a?x=%").isOk());
  EXPECT_FALSE(req.setTarget("relative/path").isOk());
  EXPECT_FALSE(req.setTarget("").isOk());
  EXPECT_EQ(req.path(), "/keep");  // unchanged on error
}

TEST(HttpRequestTest, HeadersAreCaseInsensitiveAndTrimmed) {
  HttpRequest req;
  req.addHeader("Content-Type", "  application/json \t");
  req.addHeader("X-Dup", "1");
  req.addHeader("x-dup", "2");
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(req.header("X-DUP"), "1");
  EXPECT_FALSE(req.header("Content"));
  EXPECT_EQ(req.headers().size(), 3u);
}

TEST(HttpRequestTest, PercentDecode) {
  EXPECT_EQ(percentDecode("a%41%62+c", false), "aAb+c");
  EXPECT_EQ(percentDecode("a%41%62+c", true), "aAb c");
  EXPECT_EQ(percentDecode("%00", false), std::string(1, '\0'));
  EXPECT_FALSE(percentDecode("%", false));
  EXPECT_FALSE(percentDecode("%g0", false));
}

}  // namespace
}  // namespace push::http
