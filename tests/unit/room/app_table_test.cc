#include "services/room/app_table.h"

#include <gtest/gtest.h>

namespace push::room {
namespace {

constexpr int64_t kNow = 1'700'000'000;

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
  EXPECT_EQ(t.verify(tokenFor("chat", "chat-secret-0123456789", kNow + 60), kNow, &v, &why),
            client::ERROR_NONE)
      << why;
  EXPECT_EQ(v.app, 1);
  EXPECT_EQ(v.claims.user, "alice");
  EXPECT_EQ(t.verify("garbage", kNow, &v, &why), client::ERROR_BAD_TOKEN);
  EXPECT_EQ(t.verify(tokenFor("nope", "x-secret-0123456789", kNow + 60), kNow, &v, &why),
            client::ERROR_UNKNOWN_APP);
  // Signed with another app's secret.
  EXPECT_EQ(t.verify(tokenFor("chat", "news-secret-0123456789", kNow + 60), kNow, &v, &why),
            client::ERROR_BAD_TOKEN);
  EXPECT_EQ(t.verify(tokenFor("news", "news-secret-0123456789", kNow), kNow, &v, &why),
            client::ERROR_TOKEN_EXPIRED);
}

}  // namespace
}  // namespace push::room
