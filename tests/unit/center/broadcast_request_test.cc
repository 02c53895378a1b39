// parseBroadcastRequest: every rule of a POST /v1/broadcast body, and the tag name rule.
#include "services/center/broadcast_request.h"

#include <gtest/gtest.h>

#include <string>

namespace push::center {
namespace {

constexpr uint32_t kMaxPayload = 4096;

// The 400 message of `body`, or "" when it parses.
std::string errorOf(const std::string& body, uint32_t max_payload = kMaxPayload) {
  auto r = parseBroadcastRequest(body, max_payload);
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << body;
  return r.status().message();
}

::testing::AssertionResult mentions(const std::string& message, const std::string& text) {
  if (message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "' does not mention '" << text << "'";
}

TEST(BroadcastRequestTest, ParsesWithDefaults) {
  auto r = parseBroadcastRequest(R"({"app":"demo","payload":"hello all"})", kMaxPayload);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->app, "demo");
  EXPECT_EQ(r->payload, "hello all");
  EXPECT_EQ(r->qos, 1u);
  EXPECT_EQ(r->ttl_s, 0u);
  EXPECT_EQ(r->tag, "");
}

TEST(BroadcastRequestTest, ReadsEveryFieldInBothSpellingsAndNullMeansAbsent) {
  auto r = parseBroadcastRequest(
      R"({"app":"demo","payload_base64":"AAH/","qos":0,"ttl":2592000,"tag":"sports.eu:v-1_x"})",
      kMaxPayload);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->payload, std::string("\x00\x01\xff", 3));
  EXPECT_EQ(r->qos, 0u);
  EXPECT_EQ(r->ttl_s, 2592000u);
  EXPECT_EQ(r->tag, "sports.eu:v-1_x");
  auto b = parseBroadcastRequest(R"({"app":"demo","payloadBase64":"aGk="})", kMaxPayload);
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  EXPECT_EQ(b->payload, "hi");
  auto nulls = parseBroadcastRequest(
      R"({"app":"demo","payload":null,"qos":null,"ttl":null,"tag":null})", kMaxPayload);
  ASSERT_TRUE(nulls.isOk()) << nulls.status().toString();
  EXPECT_EQ(nulls->qos, 1u);
  EXPECT_EQ(nulls->tag, "");
}

TEST(BroadcastRequestTest, RefusesWhatPushRefuses) {
  EXPECT_FALSE(errorOf("{not json").empty());
  EXPECT_FALSE(errorOf("[]").empty());
  EXPECT_TRUE(mentions(errorOf(R"({"payload":"x"})"), "'app' is required"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"a\tb","payload":"x"})"), "bad 'app'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"]})"), "unknown field 'users'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","tag":"a","tag":"b"})"), "given twice"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","qos":2})"), "'qos'"));
  EXPECT_FALSE(errorOf(R"({"app":"demo","qos":-1})").empty());
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","ttl":2592001})"), "'ttl'"));
  EXPECT_TRUE(
      mentions(errorOf(R"({"app":"demo","payload":"a","payloadBase64":"YQ=="})"), "not both"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","payloadBase64":"YQ="})"), "not valid base64"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","payloadBase64":"Y!=="})"), "not valid base64"));
}

TEST(BroadcastRequestTest, PayloadLimitAppliesAfterDecoding) {
  const std::string at_limit(16, 'x');
  EXPECT_EQ(errorOf(R"({"app":"demo","payload":")" + at_limit + "\"}", 16), "");
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","payload":")" + at_limit + "x\"}", 16),
                       "payload over 16 bytes"));
  // 24 base64 characters = 18 bytes > 16; 20 characters + padding = 14 bytes.
  EXPECT_TRUE(
      mentions(errorOf(R"({"app":"demo","payloadBase64":")" + std::string(24, 'A') + "\"}", 16),
               "payload over 16 bytes"));
  EXPECT_EQ(errorOf(R"({"app":"demo","payloadBase64":")" + std::string(19, 'A') + "=\"}", 16), "");
}

TEST(BroadcastRequestTest, TagRule) {
  EXPECT_TRUE(validTag("a"));
  EXPECT_TRUE(validTag("Sports.EU:news-2_x"));
  EXPECT_TRUE(validTag(std::string(64, 't')));
  EXPECT_FALSE(validTag(""));
  EXPECT_FALSE(validTag(std::string(65, 't')));
  EXPECT_FALSE(validTag("a\tb"));
  for (const char* bad : {"a b", "a/b", "a#b", "caf\xc3\xa9", "a,b", "a*"}) {
    EXPECT_FALSE(validTag(bad)) << bad;
    EXPECT_TRUE(
        mentions(errorOf(std::string(R"({"app":"demo","tag":")") + bad + "\"}"), "bad 'tag'"))
        << bad;
  }
  // An empty tag is "every connection", like no tag.
  EXPECT_EQ(errorOf(R"({"app":"demo","tag":""})"), "");
}

}  // namespace
}  // namespace push::center
