// AppRecord (common/discovery/app_record.h): the JSON of apps/<app>, its defaults and the
// reasons a record is refused.

#include "common/discovery/app_record.h"

#include <gtest/gtest.h>

#include <string>

namespace push::discovery {
namespace {

constexpr const char* kFull = R"({
  "secrets":[{"id":"k1","secret":"0123456789abcdef-old","not_after_ms":1700000000000},
             {"id":"k2","secret":"0123456789abcdef-new"}],
  "api_keys":["apikey-0123456789abcdef"],
  "webhooks":{"upstream":{"default":"http://app.example/up","chat":"https://chat.example/in"},
              "events":"http://app.example/events"},
  "events":["online","offline","online"],
  "push_rate_per_s":500,"push_burst":800,"broadcast_rate_per_s":2,"broadcast_burst":4,
  "offline_ttl_s":3600,"future_member":{"x":1}})";

TEST(AppRecordTest, DecodesEveryMemberAndRoundTrips) {
  auto r = decodeAppRecord("chat", kFull);
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->name, "chat");
  ASSERT_EQ(r->secrets.size(), 2u);
  EXPECT_EQ(r->secrets[0].id, "k1");
  EXPECT_EQ(r->secrets[0].not_after_ms, 1700000000000);
  EXPECT_EQ(r->secrets[1].not_after_ms, 0);
  EXPECT_EQ(r->api_keys, std::vector<std::string>{"apikey-0123456789abcdef"});
  EXPECT_EQ(r->upstreamWebhook("chat"), "https://chat.example/in");
  EXPECT_EQ(r->upstreamWebhook("other"), "http://app.example/up");  // the default
  EXPECT_EQ(r->events_webhook, "http://app.example/events");
  EXPECT_EQ(r->events, (std::vector<std::string>{"offline", "online"}));  // sorted, unique
  EXPECT_TRUE(r->wantsEvent("online"));
  EXPECT_EQ(r->push_rate_per_s, 500u);
  EXPECT_EQ(r->push_burst, 800u);
  EXPECT_EQ(r->broadcast_rate_per_s, 2u);
  EXPECT_EQ(r->broadcast_burst, 4u);
  EXPECT_EQ(r->offline_ttl_s, 3600u);

  auto again = decodeAppRecord("chat", encodeAppRecord(*r));
  ASSERT_TRUE(again.isOk()) << again.status();
  EXPECT_EQ(*again, *r);
  EXPECT_EQ(encodeAppRecord(*again), encodeAppRecord(*r));
}

TEST(AppRecordTest, MissingMembersTakeTheDefaults) {
  auto r = decodeAppRecord("a", R"({"secrets":[{"id":"k","secret":"0123456789abcdef"}]})");
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_TRUE(r->api_keys.empty());
  EXPECT_EQ(r->upstreamWebhook("x"), "");
  EXPECT_TRUE(r->events.empty());
  EXPECT_FALSE(r->wantsEvent("online"));
  EXPECT_EQ(r->push_rate_per_s, 1000u);
  EXPECT_EQ(r->push_burst, 2000u);
  EXPECT_EQ(r->broadcast_rate_per_s, 10u);
  EXPECT_EQ(r->broadcast_burst, 20u);
  EXPECT_EQ(r->offline_ttl_s, 604800u);
}

TEST(AppRecordTest, RotationKeepsEverySecretUntilItsEnd) {
  auto r = decodeAppRecord("chat", kFull);
  ASSERT_TRUE(r.isOk());
  auto before = r->activeSecrets(1700000000000 - 1);
  ASSERT_EQ(before.size(), 2u);  // both valid while rotating
  auto after = r->activeSecrets(1700000000000);
  ASSERT_EQ(after.size(), 1u);  // k1 has ended
  EXPECT_EQ(after[0]->id, "k2");
  // Removing a secret from the record revokes it at once.
  AppRecord revoked = *r;
  revoked.secrets.erase(revoked.secrets.begin() + 1);
  EXPECT_TRUE(revoked.activeSecrets(0).size() == 1 && revoked.activeSecrets(0)[0]->id == "k1");
}

// The reason names what is wrong.
void expectRefused(const std::string& json, const std::string& reason) {
  auto r = decodeAppRecord("bad", json);
  ASSERT_FALSE(r.isOk()) << json;
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(r.status().message().find(reason), std::string::npos)
      << r.status() << " does not say '" << reason << "'";
  EXPECT_NE(r.status().message().find("app bad"), std::string::npos) << r.status();
}

TEST(AppRecordTest, BadRecordsAreInvalidArgumentWithTheReason) {
  const std::string ok_secret = R"("secrets":[{"id":"k","secret":"0123456789abcdef"}])";
  expectRefused("", "no data");
  expectRefused("[1,2]", "not a JSON object");
  expectRefused("{", "not a JSON object");
  expectRefused("{}", "secrets is missing");
  expectRefused(R"({"secrets":[]})", "secrets is empty");
  expectRefused(R"({"secrets":[{"id":"k","secret":"short"}]})", "fewer than 16");
  expectRefused(R"({"secrets":[{"id":"k","secret":"0123456789abcdef"},)"
                R"({"id":"k","secret":"0123456789abcdefg"}]})",
                "duplicate secret id 'k'");
  expectRefused(R"({"secrets":[{"secret":"0123456789abcdef"}]})", "has no id");
  expectRefused(R"({"secrets":[{"id":"k","secret":"0123456789abcdef","not_after_ms":-1}]})",
                "out of range");
  expectRefused("{" + ok_secret + R"(,"webhooks":{"upstream":{"default":"ftp://x/"}}})",
                "not an http:// or https:// URL");
  expectRefused("{" + ok_secret + R"(,"webhooks":{"events":"http:///path"}})", "has no host");
  expectRefused("{" + ok_secret + R"(,"events":["online","crashed"]})", "unknown event 'crashed'");
  expectRefused("{" + ok_secret + R"(,"push_rate_per_s":0})", "push_rate_per_s: 0 is out of range");
  expectRefused("{" + ok_secret + R"(,"broadcast_burst":100001})", "broadcast_burst: 100001");
  expectRefused("{" + ok_secret + R"(,"offline_ttl_s":1.5})", "offline_ttl_s is not an integer");
  expectRefused("{" + ok_secret + R"(,"push_burst":"10"})", "push_burst is not an integer");
  expectRefused("{" + ok_secret + R"(,"api_keys":["short"]})", "api key is shorter");
  expectRefused("{" + ok_secret + R"(,"api_keys":["0123456789abcdef","0123456789abcdef"]})",
                "duplicate api key");
}

}  // namespace
}  // namespace push::discovery
