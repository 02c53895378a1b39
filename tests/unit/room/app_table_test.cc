#include "services/room/app_table.h"

#include <gtest/gtest.h>

#include <map>

namespace push::room {
namespace {

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kNowMs = kNow * 1000;

AppTable table() {
  return AppTable({{"news", "news-secret-0123456789"}, {"chat", "chat-secret-0123456789"}});
}

std::string tokenFor(const std::string& app, const std::string& secret, int64_t exp) {
  return auth::mintToken(secret, auth::TokenClaims{app, "alice", "phone", exp});
}

TEST(AppTableTest, FindsAppsByName) {
  AppTable t = table();
  EXPECT_EQ(t.find("news"), 0);
  EXPECT_EQ(t.find("chat"), 1);
  EXPECT_EQ(t.find("nope"), -1);
  EXPECT_EQ(t.name(1), "chat");
  EXPECT_EQ(t.size(), 2u);
}

TEST(AppTableTest, VerifyChecksAppSecretAndExpiryInOrder) {
  AppTable t = table();
  AppTable::Verified v;
  std::string why;
  EXPECT_EQ(t.verify(tokenFor("chat", "chat-secret-0123456789", kNow + 60), kNowMs, &v, &why),
            client::ERROR_NONE)
      << why;
  EXPECT_EQ(v.app, 1);
  EXPECT_EQ(v.claims.user, "alice");
  EXPECT_EQ(t.verify("garbage", kNowMs, &v, &why), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(t.verify(tokenFor("nope", "x-secret-0123456789", kNow + 60), kNowMs, &v, &why),
            client::ERROR_UNKNOWN_APP);
  // Signed with another app's secret.
  EXPECT_EQ(t.verify(tokenFor("chat", "news-secret-0123456789", kNow + 60), kNowMs, &v, &why),
            client::ERROR_BAD_TOKEN);
  EXPECT_EQ(t.verify(tokenFor("news", "news-secret-0123456789", kNow), kNowMs, &v, &why),
            client::ERROR_TOKEN_EXPIRED);
}

using Records = std::map<std::string, discovery::AppRecord, std::less<>>;

discovery::AppRecord record(const std::string& name, std::vector<discovery::AppSecret> secrets) {
  discovery::AppRecord r;
  r.name = name;
  r.secrets = std::move(secrets);
  return r;
}

const std::string kK1 = "k1-secret-0123456789";
const std::string kK2 = "k2-secret-0123456789";

client::ErrorCode check(const AppTable& t, const std::string& app, const std::string& secret,
                        int64_t now_ms = kNowMs, uint16_t* number = nullptr) {
  AppTable::Verified v;
  std::string why;
  client::ErrorCode code = t.verify(tokenFor(app, secret, kNow + 60), now_ms, &v, &why);
  if (number && code == client::ERROR_NONE) *number = v.app;
  return code;
}

TEST(AppTableTest, StartsEmptyWithoutStaticApps) {
  AppTable t({});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.served(), 0u);
  EXPECT_EQ(check(t, "chat", kK1), client::ERROR_UNKNOWN_APP);
}

TEST(AppTableTest, AppsAreNumberedOnceAndKeepTheirNumberAcrossRemoval) {
  AppTable t({});
  AppTable::Changes c = t.apply(
      {{"chat", record("chat", {{"k1", kK1, 0}})}, {"news", record("news", {{"k1", kK2, 0}})}});
  EXPECT_EQ(c.added.size(), 2u);
  EXPECT_EQ(t.served(), 2u);
  const int chat = t.find("chat");
  const int news = t.find("news");
  ASSERT_GE(chat, 0);
  ASSERT_GE(news, 0);
  EXPECT_NE(chat, news);

  // news removed: its number is kept but no longer served.
  c = t.apply({{"chat", record("chat", {{"k1", kK1, 0}})}});
  ASSERT_EQ(c.removed.size(), 1u);
  EXPECT_EQ(c.removed[0], news);
  EXPECT_TRUE(c.added.empty());
  EXPECT_EQ(t.find("news"), -1);
  EXPECT_FALSE(t.serves(static_cast<uint16_t>(news)));
  EXPECT_EQ(t.name(static_cast<uint16_t>(news)), "news");
  EXPECT_EQ(check(t, "news", kK2), client::ERROR_UNKNOWN_APP);

  // A third app takes a new number; news back gets its old one.
  c = t.apply({{"chat", record("chat", {{"k1", kK1, 0}})},
               {"game", record("game", {{"k1", kK1, 0}})},
               {"news", record("news", {{"k1", kK2, 0}})}});
  EXPECT_EQ(c.added.size(), 2u);
  EXPECT_EQ(t.find("news"), news);
  EXPECT_EQ(t.find("chat"), chat);
  EXPECT_EQ(t.find("game"), 2);
  EXPECT_EQ(t.size(), 3u);
  uint16_t number = 99;
  EXPECT_EQ(check(t, "news", kK2, kNowMs, &number), client::ERROR_NONE);
  EXPECT_EQ(number, news);
}

TEST(AppTableTest, SecretRotation) {
  AppTable t({});
  t.apply({{"chat", record("chat", {{"k1", kK1, 0}})}});
  EXPECT_EQ(check(t, "chat", kK1), client::ERROR_NONE);
  EXPECT_EQ(check(t, "chat", kK2), client::ERROR_BAD_TOKEN);

  AppTable::Changes c = t.apply({{"chat", record("chat", {{"k1", kK1, 0}, {"k2", kK2, 0}})}});
  EXPECT_EQ(c.edited.size(), 1u);
  EXPECT_EQ(check(t, "chat", kK1), client::ERROR_NONE);
  EXPECT_EQ(check(t, "chat", kK2), client::ERROR_NONE);

  t.apply({{"chat", record("chat", {{"k2", kK2, 0}})}});
  EXPECT_EQ(check(t, "chat", kK1), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(check(t, "chat", kK2), client::ERROR_NONE);

  // The same record again changes nothing.
  c = t.apply({{"chat", record("chat", {{"k2", kK2, 0}})}});
  EXPECT_TRUE(c.added.empty() && c.removed.empty() && c.edited.empty());
}

TEST(AppTableTest, SecretPastItsNotAfterIsRefused) {
  AppTable t({});
  // k1 ends at kNowMs: refused from then on; k2 has no end.
  t.apply({{"chat", record("chat", {{"k1", kK1, kNowMs}, {"k2", kK2, 0}})}});
  EXPECT_EQ(check(t, "chat", kK1, kNowMs - 1), client::ERROR_NONE);
  EXPECT_EQ(check(t, "chat", kK1, kNowMs), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(check(t, "chat", kK2, kNowMs), client::ERROR_NONE);
  // Only an ended secret: the app has no active one.
  t.apply({{"chat", record("chat", {{"k1", kK1, kNowMs}})}});
  AppTable::Verified v;
  std::string why;
  EXPECT_EQ(t.verify(tokenFor("chat", kK1, kNow + 60), kNowMs, &v, &why), client::ERROR_BAD_TOKEN);
  EXPECT_NE(why.find("no active secret"), std::string::npos) << why;
}

TEST(AppTableTest, ExpiryIsCheckedWithTheMatchingSecret) {
  AppTable t({});
  t.apply({{"chat", record("chat", {{"k1", kK1, 0}, {"k2", kK2, 0}})}});
  AppTable::Verified v;
  std::string why;
  EXPECT_EQ(t.verify(tokenFor("chat", kK2, kNow), kNowMs, &v, &why), client::ERROR_TOKEN_EXPIRED);
}

TEST(AppTableTest, AppsOverTheBoundAreIgnoredAndLaterOnesStillUpdate) {
  AppTable t({{"static", kK1}}, 2);
  AppTable::Changes c = t.apply({{"a", record("a", {{"k1", kK1, 0}})},
                                 {"b", record("b", {{"k1", kK1, 0}})},
                                 {"static", record("static", {{"k2", kK2, 0}})}});
  // "static" (0) keeps its number with the record's secrets; "a" takes 1; "b" is over.
  EXPECT_EQ(c.ignored, 1u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find("static"), 0);
  EXPECT_EQ(t.find("a"), 1);
  EXPECT_EQ(t.find("b"), -1);
  EXPECT_EQ(t.ignoredOverLimit(), 1u);
  EXPECT_EQ(check(t, "static", kK2), client::ERROR_NONE);
  EXPECT_EQ(check(t, "b", kK1), client::ERROR_UNKNOWN_APP);
  // Removing "a" does not free its number: "b" still does not fit.
  c = t.apply({{"b", record("b", {{"k1", kK1, 0}})}});
  EXPECT_EQ(c.removed.size(), 2u);
  EXPECT_EQ(c.ignored, 1u);
  EXPECT_EQ(t.ignoredOverLimit(), 1u);  // counted once per name
  EXPECT_EQ(t.served(), 0u);
}

}  // namespace
}  // namespace push::room
