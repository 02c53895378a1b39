#include "common/http/http_response.h"

#include <gtest/gtest.h>

namespace push::http {
namespace {

std::string wire(const HttpResponse& r, bool head = false, bool close = false, bool ka = false) {
  std::string out;
  r.serializeTo(&out, head, close, ka);
  return out;
}

TEST(HttpResponseTest, SerializesWithContentLength) {
  HttpResponse r = HttpResponse::text(200, "hi");
  EXPECT_EQ(wire(r),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
            "2\r\n\r\nhi");
  EXPECT_EQ(wire(r, /*head=*/true),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
            "2\r\n\r\n");
  EXPECT_EQ(wire(HttpResponse(404), false, /*close=*/true),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(wire(HttpResponse(200), false, false, /*keep_alive_header=*/true),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpResponseTest, ServerOwnsFramingHeaders) {
  HttpResponse r(200);
  r.setBody("abc");
  r.addHeader("Content-Length", "999");
  r.addHeader("Transfer-Encoding", "chunked");
  r.addHeader("Connection", "keep-alive");
  EXPECT_EQ(wire(r), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
}

TEST(HttpResponseTest, DropsHeadersThatCouldInject) {
  HttpResponse r(200);
  r.addHeader("X-Ok", "fine");
  r.addHeader("X-Bad", "a\r\nSet-Cookie: evil=1");
  r.addHeader("Bad Name", "v");
  r.addHeader("", "v");
  EXPECT_EQ(wire(r), "HTTP/1.1 200 OK\r\nX-Ok: fine\r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpResponseTest, NoBodyStatusesAndInvalidStatus) {
  HttpResponse r = HttpResponse::text(204, "ignored");
  EXPECT_EQ(wire(r), "HTTP/1.1 204 No Content\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
  EXPECT_EQ(wire(HttpResponse(304)), "HTTP/1.1 304 Not Modified\r\n\r\n");
  EXPECT_EQ(wire(HttpResponse(42)),
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(wire(HttpResponse(101)).substr(0, 13), "HTTP/1.1 500 ");
  EXPECT_EQ(wire(HttpResponse(599)).substr(0, 21), "HTTP/1.1 599 Unknown\r");
}

TEST(HttpResponseTest, HeaderHelpers) {
  HttpResponse r(200);
  r.addHeader("Set-Cookie", "a=1");
  r.addHeader("set-cookie", "b=2");
  EXPECT_EQ(r.header("SET-COOKIE"), "a=1");
  r.setHeader("Set-Cookie", "c=3");
  ASSERT_EQ(r.headers().size(), 1u);
  EXPECT_EQ(r.header("set-cookie"), "c=3");
  r.removeHeader("SET-cookie");
  EXPECT_TRUE(r.headers().empty());
  EXPECT_FALSE(r.wantsClose());
  r.setHeader("Connection", "keep-alive, Close");
  EXPECT_TRUE(r.wantsClose());
}

TEST(HttpResponseTest, ErrorBodyIsValidJson) {
  HttpResponse r = HttpResponse::error(400, "bad \"x\"\n\\");
  EXPECT_EQ(r.body(), R"({"error":"bad \"x\"\n\\"})");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
}

TEST(HttpResponseTest, JsonEscapeKeepsUtf8AndReplacesGarbage) {
  EXPECT_EQ(jsonEscape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(jsonEscape(std::string("\x01\x1f\x7f\t\r", 5)), "\\u0001\\u001f\\u007f\\t\\r");
  EXPECT_EQ(jsonEscape("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(jsonEscape("\xC3"), "\xEF\xBF\xBD");                  // truncated sequence
  EXPECT_EQ(jsonEscape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(jsonEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

}  // namespace
}  // namespace push::http
