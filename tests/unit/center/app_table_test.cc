#include "services/center/app_table.h"

#include <gtest/gtest.h>

namespace push::center {
namespace {

CenterOptions::App app(std::string name, std::vector<std::string> keys, double rate = 10,
                       double burst = 5) {
  CenterOptions::App a;
  a.name = std::move(name);
  a.api_keys = std::move(keys);
  a.rate_per_s = rate;
  a.burst = burst;
  return a;
}

const std::string kA1 = "key-a1-0123456789abcdef";
const std::string kA2 = "key-a2-0123456789abcdef";
const std::string kB1 = "key-b1-0123456789abcdef";

TEST(AppTableTest, StaticAppsAreFoundByTheirKeys) {
  AppTable t;
  ASSERT_TRUE(t.setStatic({app("a", {kA1, kA2}), app("b", {kB1})}).isOk());
  ASSERT_NE(t.findByKey(kA1), nullptr);
  EXPECT_EQ(t.findByKey(kA1)->config.name, "a");
  EXPECT_EQ(t.findByKey(kA2)->index, 0u);
  EXPECT_EQ(t.findByKey(kB1)->index, 1u);
  EXPECT_EQ(t.findByKey("no-such-key-0123456789"), nullptr);
  EXPECT_EQ(t.findByKey(""), nullptr);
  EXPECT_EQ(t.keyCount(), 3u);
  EXPECT_EQ(t.activeCount(), 2u);
}

TEST(AppTableTest, StaticKeyUsedTwiceIsRefusedNamingTheApp) {
  AppTable t;
  Status st = t.setStatic({app("a", {kA1}), app("b", {kA1})});
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(st.message().find("apps[b]"), std::string::npos) << st.message();
  EXPECT_EQ(t.size(), 0u);
}

TEST(AppTableTest, UpdateAddsAppsAndKeysLive) {
  AppTable t;
  EXPECT_EQ(t.findByKey(kA1), nullptr);
  auto c = t.update({app("a", {kA1})}, 1000);
  EXPECT_EQ(c.added, std::vector<size_t>{0});
  EXPECT_TRUE(c.changed.empty());
  ASSERT_NE(t.findByKey(kA1), nullptr);
  // A key added and the old one removed: the old one fails at once, the app keeps its index.
  c = t.update({app("a", {kA2}), app("b", {kB1})}, 1000);
  EXPECT_EQ(c.added, std::vector<size_t>{1});
  EXPECT_EQ(c.changed, std::vector<size_t>{0});
  EXPECT_EQ(t.findByKey(kA1), nullptr);
  ASSERT_NE(t.findByKey(kA2), nullptr);
  EXPECT_EQ(t.findByKey(kA2)->index, 0u);
  EXPECT_EQ(t.findByKey(kB1)->index, 1u);
  EXPECT_EQ(t.updates(), 2u);
}

TEST(AppTableTest, ARemovedAppKeepsItsIndexAndItsKeysFail) {
  AppTable t;
  (void)t.update({app("a", {kA1}), app("b", {kB1})}, 1000);
  AppTable::App* a = t.find("a");
  ASSERT_NE(a, nullptr);
  auto c = t.update({app("b", {kB1})}, 1000);
  EXPECT_EQ(c.removed, std::vector<size_t>{0});
  EXPECT_EQ(t.findByKey(kA1), nullptr);
  EXPECT_EQ(t.size(), 2u);  // still there, inactive: an index held by a request stays valid
  EXPECT_EQ(t.find("a"), a);
  EXPECT_FALSE(a->active);
  EXPECT_EQ(t.activeCount(), 1u);
  // Back under the same index (and the same object).
  c = t.update({app("a", {kA1}), app("b", {kB1})}, 1000);
  EXPECT_TRUE(c.added.empty());
  EXPECT_EQ(c.changed, std::vector<size_t>{0});
  EXPECT_EQ(t.findByKey(kA1), a);
  EXPECT_TRUE(a->active);
}

TEST(AppTableTest, AnUnchangedAppKeepsItsBucketState) {
  AppTable t;
  (void)t.update({app("a", {kA1}, 10, 5), app("b", {kB1})}, 1000);
  AppTable::App* a = t.find("a");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(a->bucket.tryTake(1000));
  ASSERT_FALSE(a->bucket.tryTake(1000));
  // b edited, a not: a's bucket is still empty.
  auto c = t.update({app("a", {kA1}, 10, 5), app("b", {kB1}, 99, 99)}, 1000);
  EXPECT_EQ(c.changed, std::vector<size_t>{1});
  EXPECT_FALSE(a->bucket.tryTake(1000));
  EXPECT_EQ(t.find("b")->bucket.rate(), 99);
}

TEST(AppTableTest, ALoweredLimitKeepsTheTokensCutToTheNewBurst) {
  AppTable t;
  (void)t.update({app("a", {kA1}, 100, 50)}, 1000);
  AppTable::App* a = t.find("a");
  ASSERT_TRUE(a->bucket.tryTake(1000));  // 49 left
  (void)t.update({app("a", {kA1}, 1, 3)}, 1000);
  EXPECT_EQ(a->bucket.rate(), 1);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(a->bucket.tryTake(1000)) << i;
  EXPECT_FALSE(a->bucket.tryTake(1000));
  EXPECT_TRUE(a->bucket.tryTake(2000));  // refills at the new rate
  // Raised again: no fresh burst, only refill.
  (void)t.update({app("a", {kA1}, 100, 50)}, 2000);
  EXPECT_FALSE(a->bucket.tryTake(2000));
  EXPECT_TRUE(a->bucket.tryTake(2010));
}

TEST(AppTableTest, AKeyClaimedByTwoAppsStaysWithTheAppThatHadIt) {
  AppTable t;
  (void)t.update({app("b", {kB1})}, 1000);
  // "a" (before "b" in name order) now also lists b's key: b keeps it.
  auto c = t.update({app("a", {kA1, kB1}), app("b", {kB1})}, 1000);
  ASSERT_EQ(c.dropped_keys.size(), 1u);
  EXPECT_EQ(c.dropped_keys[0], "a: key 2");
  EXPECT_EQ(t.findByKey(kB1)->config.name, "b");
  EXPECT_EQ(t.findByKey(kA1)->config.name, "a");
  // b gives it up: a gets it on the next update.
  c = t.update({app("a", {kA1, kB1}), app("b", {})}, 1000);
  EXPECT_TRUE(c.dropped_keys.empty());
  EXPECT_EQ(t.findByKey(kB1)->config.name, "a");
}

TEST(AppTableTest, AnUpdateThatChangesNothingReportsNothing) {
  AppTable t;
  (void)t.update({app("a", {kA1})}, 1000);
  auto c = t.update({app("a", {kA1})}, 1000);
  EXPECT_FALSE(c.any());
  CenterOptions::App edited = app("a", {kA1});
  edited.offline_ttl_s = 60;
  c = t.update({edited}, 1000);
  EXPECT_EQ(c.changed, std::vector<size_t>{0});
  EXPECT_EQ(t.find("a")->config.offline_ttl_s, 60u);
}

TEST(AppTableTest, AppFromRecordDividesTheLimitsByTheWorkers) {
  discovery::AppRecord r;
  r.name = "demo";
  r.api_keys = {kA1};
  r.push_rate_per_s = 100;
  r.push_burst = 200;
  r.broadcast_rate_per_s = 10;
  r.broadcast_burst = 1;
  r.offline_ttl_s = 3600;
  auto a = CenterOptions::appFromRecord(r, 4);
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->name, "demo");
  EXPECT_EQ(a->api_keys, r.api_keys);
  EXPECT_EQ(a->rate_per_s, 25);
  EXPECT_EQ(a->burst, 50);
  EXPECT_EQ(a->broadcast_rate_per_s, 2.5);
  EXPECT_EQ(a->broadcast_burst, 1);  // at least one
  EXPECT_EQ(a->offline_ttl_s, 3600u);
  r.name = std::string("bad\x01name");
  EXPECT_FALSE(CenterOptions::appFromRecord(r, 1).isOk());
}

}  // namespace
}  // namespace push::center
