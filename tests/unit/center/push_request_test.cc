#include "services/center/push_request.h"

#include <gtest/gtest.h>

#include <string>

namespace push::center {
namespace {

Result<ParsedPush> parse(const std::string& body, PushLimits limits = {}) {
  return parsePushRequest(body, limits);
}

// The 400 message of `body`, or "" when it parses.
std::string errorOf(const std::string& body, PushLimits limits = {}) {
  auto r = parse(body, limits);
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << body;
  return r.status().message();
}

// `message` contains `text`.
::testing::AssertionResult mentions(const std::string& message, const std::string& text) {
  if (message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "' does not mention '" << text << "'";
}

TEST(PushRequestTest, ParsesAUnicastWithDefaults) {
  auto r = parse(R"({"app":"demo","users":["alice"],"payload":"hello"})");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->app, "demo");
  EXPECT_EQ(r->payload, "hello");
  EXPECT_EQ(r->qos, 1u);
  EXPECT_EQ(r->ttl_s, 0u);
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].user, "alice");
  EXPECT_EQ(r->targets[0].device, "");
}

TEST(PushRequestTest, ReadsEveryFieldInBothSpellingsAndNullMeansAbsent) {
  auto r = parse(R"({"app":"demo","users":["a"],"devices":[{"user":"b","device":"phone"}],
                     "payload_base64":"aGk=","qos":0,"ttl":60})");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->payload, "hi");
  EXPECT_EQ(r->qos, 0u);
  EXPECT_EQ(r->ttl_s, 60u);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[1].user, "b");
  EXPECT_EQ(r->targets[1].device, "phone");
  auto nulls = parse(R"({"app":"demo","users":["a"],"payload":null,"qos":null,"ttl":null,
                         "devices":null})");
  ASSERT_TRUE(nulls.isOk()) << nulls.status().toString();
  EXPECT_EQ(nulls->qos, 1u);
  EXPECT_EQ(nulls->payload, "");
}

TEST(PushRequestTest, UnknownAndRepeatedFieldsAreRefused) {
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"colour":"red"})"), "'colour'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","devices":[{"user":"a","device":"b","x":1}]})"),
                       "devices: unknown field 'x'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"users":["b"]})"), "twice"));
  EXPECT_TRUE(mentions(
      errorOf(R"({"app":"demo","users":["a"],"payloadBase64":"","payload_base64":""})"), "twice"));
}

TEST(PushRequestTest, MalformedJsonAndWrongTypesAreRefused) {
  EXPECT_NE(errorOf("{not json"), "");
  EXPECT_NE(errorOf(""), "");
  EXPECT_NE(errorOf("[]"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":["a"]} trailing)"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":"alice"})"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":[1]})"), "");
  EXPECT_NE(errorOf(R"({"app":7,"users":["a"]})"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":["a"],"qos":"1"})"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":["a"],"qos":-1})"), "");
  EXPECT_NE(errorOf(R"({"app":"demo","users":["a"],"ttl":1.5})"), "");
}

TEST(PushRequestTest, AppAndTargetsAreRequired) {
  EXPECT_TRUE(mentions(errorOf(R"({"users":["a"]})"), "'app' is required"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"","users":["a"]})"), "'app' is required"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo"})"), "'users' or 'devices'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":[],"devices":[]})"), "'users'"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","devices":[{"user":"a"}]})"), "devices"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","devices":[{"device":"d"}]})"), "devices"));
}

TEST(PushRequestTest, TargetCountIsLimited) {
  PushLimits limits;
  limits.max_targets = 2;
  EXPECT_EQ(
      errorOf(R"({"app":"demo","users":["a"],"devices":[{"user":"b","device":"c"}]})", limits), "");
  // Counted as given, before duplicates are dropped.
  EXPECT_TRUE(
      mentions(errorOf(R"({"app":"demo","users":["a","a","a"]})", limits), "3 targets: at most 2"));
}

TEST(PushRequestTest, BadNamesAreRefused) {
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":[""]})"), "bad user"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a\tb"]})"), "bad user"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a\u007fb"]})"), "bad user"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":[")" + std::string(129, 'u') + R"("]})"),
                       "bad user"));
  EXPECT_EQ(errorOf(R"({"app":"demo","users":[")" + std::string(128, 'u') + R"("]})"), "");
  EXPECT_TRUE(
      mentions(errorOf(R"({"app":"demo","devices":[{"user":"a","device":"\n"}]})"), "devices"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"de\u0001mo","users":["a"]})"), "bad 'app'"));
  // Non-ASCII UTF-8 names are fine.
  EXPECT_EQ(errorOf(R"({"app":"demo","users":["zoë","\u00e9\ud83d\ude00"]})"), "");
}

TEST(PushRequestTest, NonUtf8IsRefusedInNamesAndTextPayloads) {
  const std::string bad = "\xc3\x28";  // a broken two-byte sequence
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":[")" + bad + R"("]})"), "bad user"));
  EXPECT_TRUE(mentions(
      errorOf(R"({"app":"demo","devices":[{"user":"a","device":")" + bad + R"("}]})"), "devices"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"payload":")" + bad + R"("})"),
                       "not valid UTF-8"));
  // An encoded surrogate.
  EXPECT_TRUE(mentions(
      errorOf(R"({"app":"demo","users":["a"],"payload":")" + std::string("\xed\xa0\x80") + R"("})"),
      "not valid UTF-8"));
  // Bytes go as base64.
  auto r = parse(R"({"app":"demo","users":["a"],"payloadBase64":"wyg="})");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->payload, bad);
}

TEST(PushRequestTest, PayloadFormsAndSize) {
  EXPECT_TRUE(mentions(
      errorOf(R"({"app":"demo","users":["a"],"payload":"x","payloadBase64":"eA=="})"), "not both"));
  PushLimits limits;
  limits.max_payload_bytes = 4;
  EXPECT_EQ(errorOf(R"({"app":"demo","users":["a"],"payload":"abcd"})", limits), "");
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"payload":"abcde"})", limits),
                       "payload over 4 bytes"));
  // Bytes after decoding count: 4 bytes = 8 characters.
  EXPECT_EQ(errorOf(R"({"app":"demo","users":["a"],"payloadBase64":"AAECAw=="})", limits), "");
  EXPECT_TRUE(
      mentions(errorOf(R"({"app":"demo","users":["a"],"payloadBase64":"AAECAwQ="})", limits),
               "payload over 4 bytes"));
  EXPECT_TRUE(mentions(
      errorOf(R"({"app":"demo","users":["a"],"payloadBase64":")" + std::string(4000, 'A') + R"("})",
              limits),
      "payload over 4 bytes"));
  // An empty payload is allowed.
  EXPECT_EQ(errorOf(R"({"app":"demo","users":["a"]})"), "");
}

TEST(PushRequestTest, Base64MustBeStandardAndPadded) {
  for (const char* bad :
       {"AAE", "AA=A", "====", "A===", "AAE*", "AA E", "AAE-", "AAE_", "AB==CD=="}) {
    EXPECT_TRUE(mentions(
        errorOf(std::string(R"({"app":"demo","users":["a"],"payloadBase64":")") + bad + R"("})"),
        "not valid base64"))
        << bad;
  }
  std::string out;
  ASSERT_TRUE(decodeBase64("AAEC/w==", &out));
  EXPECT_EQ(out, std::string("\x00\x01\x02\xff", 4));
  ASSERT_TRUE(decodeBase64("+/+/", &out));
  EXPECT_EQ(out, "\xfb\xff\xbf");
  ASSERT_TRUE(decodeBase64("", &out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(decodeBase64("aGVsbG8=", &out));
  EXPECT_EQ(out, "hello");
}

TEST(PushRequestTest, QosAndTtlRanges) {
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"qos":2})"), "'qos' must be 0 or 1"));
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"qos":4294967296})"), "range"));
  EXPECT_EQ(errorOf(R"({"app":"demo","users":["a"],"ttl":2592000})"), "");
  EXPECT_TRUE(mentions(errorOf(R"({"app":"demo","users":["a"],"ttl":2592001})"), "30 days"));
}

TEST(PushRequestTest, DuplicateTargetsAreDroppedInOrder) {
  auto r = parse(R"({"app":"demo","users":["b","a","b"],
                     "devices":[{"user":"a","device":"p"},{"user":"a","device":"p"},
                                {"user":"a","device":"q"}]})");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->targets.size(), 4u);
  EXPECT_EQ(r->targets[0].user, "b");
  EXPECT_EQ(r->targets[1].user, "a");
  EXPECT_EQ(r->targets[1].device, "");  // the user and one of its devices are both kept
  EXPECT_EQ(r->targets[2].device, "p");
  EXPECT_EQ(r->targets[3].device, "q");
}

TEST(PushRequestTest, ValidName) {
  EXPECT_TRUE(validName("a"));
  EXPECT_TRUE(validName(std::string(128, 'x')));
  EXPECT_FALSE(validName(""));
  EXPECT_FALSE(validName(std::string(129, 'x')));
  EXPECT_FALSE(validName("a\x1f"));
  EXPECT_FALSE(validName("\xff"));
  EXPECT_TRUE(validName("caf\xc3\xa9"));
}

// The 400 message of a batch `body`, or "" when it parses.
std::string batchErrorOf(const std::string& body, PushLimits limits = {}) {
  auto r = parsePushBatchRequest(body, limits);
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << body;
  return r.status().message();
}

TEST(PushBatchRequestTest, ParsesEveryPushAndGivesEachTheBatchsApp) {
  auto r = parsePushBatchRequest(
      R"({"pushes":[{"users":["a"],"payload":"one"},
                    {"app":"demo","users":["b","b"],"devices":[{"user":"c","device":"d"}],
                     "payloadBase64":"aGk=","qos":0,"ttl":60}],
          "app":"demo"})",
      {});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->app, "demo");
  ASSERT_EQ(r->pushes.size(), 2u);
  EXPECT_EQ(r->pushes[0].app, "demo");
  EXPECT_EQ(r->pushes[0].payload, "one");
  EXPECT_EQ(r->pushes[0].qos, 1u);
  ASSERT_EQ(r->pushes[0].targets.size(), 1u);
  EXPECT_EQ(r->pushes[1].app, "demo");
  EXPECT_EQ(r->pushes[1].payload, "hi");
  EXPECT_EQ(r->pushes[1].qos, 0u);
  EXPECT_EQ(r->pushes[1].ttl_s, 60u);
  EXPECT_EQ(r->pushes[1].targets.size(), 2u);  // "b" once, then c/d
}

TEST(PushBatchRequestTest, ErrorsNameThePushAndTheRule) {
  EXPECT_TRUE(mentions(batchErrorOf(R"({"pushes":[{"users":["a"],"payload":"x"}]})"), "'app'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo"})"), "'pushes'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":[]})"), "'pushes'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":null})"), "'pushes'"));
  EXPECT_TRUE(
      mentions(batchErrorOf(R"({"app":"demo","pushes":[{"users":["a"]},{"users":["a"],"qos":7}]})"),
               "pushes[1]: 'qos'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":[{"users":["a"],"bogus":1}]})"),
                       "pushes[0]: unknown field 'bogus'"));
  EXPECT_TRUE(mentions(
      batchErrorOf(R"({"app":"demo","pushes":[{"app":"other","users":["a"],"payload":"x"}]})"),
      "pushes[0]: 'app' differs"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":[{"payload":"x"}]})"),
                       "pushes[0]: give 'users'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":[],"extra":1})"), "'extra'"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","app":"demo","pushes":[]})"), "twice"));
  EXPECT_FALSE(batchErrorOf(R"({"app":"demo","pushes":{}})").empty());
  EXPECT_FALSE(batchErrorOf(R"({"app":"demo","pushes":[{"users":["a"]}]} trailing)").empty());
  EXPECT_FALSE(batchErrorOf("[]").empty());
}

TEST(PushBatchRequestTest, PushCountAndTargetsTogetherAreBounded) {
  PushLimits limits;
  limits.max_batch_pushes = 2;
  limits.max_targets = 3;
  const std::string one = R"({"users":["a"],"payload":"x"})";
  EXPECT_EQ(batchErrorOf(R"({"app":"demo","pushes":[)" + one + "," + one + "]}", limits), "");
  EXPECT_TRUE(mentions(
      batchErrorOf(R"({"app":"demo","pushes":[)" + one + "," + one + "," + one + "]}", limits),
      "max_batch_pushes"));
  EXPECT_TRUE(mentions(batchErrorOf(R"({"app":"demo","pushes":[{"users":["a","b"]},)"
                                    R"({"users":["c","d"]}]})",
                                    limits),
                       "max_targets"));
}

}  // namespace
}  // namespace push::center
