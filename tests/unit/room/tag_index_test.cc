#include "services/room/tag_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace push::room {
namespace {

using Tags = std::vector<std::string_view>;

std::set<net::ConnId> connsOf(const TagIndex& index, uint16_t app, std::string_view tag) {
  std::set<net::ConnId> out;
  index.forEach(app, tag, [&](net::ConnId id) { EXPECT_TRUE(out.insert(id).second) << id; });
  EXPECT_EQ(out.size(), index.count(app, tag));
  return out;
}

TEST(TagIndexTest, TagNamesAreOneTo64BytesOfTheAllowedSet) {
  EXPECT_TRUE(TagIndex::validTag("a"));
  EXPECT_TRUE(TagIndex::validTag("news.sport:eu-west_1"));
  EXPECT_TRUE(TagIndex::validTag(std::string(64, 'x')));
  EXPECT_FALSE(TagIndex::validTag(""));
  EXPECT_FALSE(TagIndex::validTag(std::string(65, 'x')));
  const std::vector<std::string_view> bad_names = {"a b", "a/b", "a\nb",
                                                   "é",   "a*",  std::string_view("a\0b", 3)};
  for (std::string_view bad : bad_names) {
    EXPECT_FALSE(TagIndex::validTag(bad)) << bad;
  }
}

TEST(TagIndexTest, SubscribeIsIdempotentAndPerApp) {
  TagIndex index(64);
  EXPECT_EQ(index.subscribe(1, 0, Tags{"a", "b", "a"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(1, 0, Tags{"b"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(2, 0, Tags{"a"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(2, 1, Tags{"a"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.tagsOf(1, 0), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(index.tagsOf(1, 1).empty());
  EXPECT_EQ(connsOf(index, 0, "a"), (std::set<net::ConnId>{1, 2}));
  EXPECT_EQ(connsOf(index, 0, "b"), (std::set<net::ConnId>{1}));
  EXPECT_EQ(connsOf(index, 1, "a"), (std::set<net::ConnId>{2}));
  EXPECT_EQ(index.count(1, "b"), 0u);
  EXPECT_EQ(index.entries(), 3u);
  EXPECT_EQ(index.subscriptions(), 4u);
  EXPECT_EQ(index.connections(), 2u);
}

TEST(TagIndexTest, TheLimitIsPerConnectionPerAppAndARefusalChangesNothing) {
  TagIndex index(3);
  EXPECT_EQ(index.subscribe(1, 0, Tags{"a", "b"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(1, 0, Tags{"c", "d"}), TagIndex::Outcome::TooMany);
  EXPECT_EQ(index.tagsOf(1, 0), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(index.count(0, "c"), 0u);
  // Tags already held do not count again; another app has its own budget.
  EXPECT_EQ(index.subscribe(1, 0, Tags{"a", "b", "c"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(1, 1, Tags{"x", "y", "z"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscribe(1, 0, Tags{"d"}), TagIndex::Outcome::TooMany);
  index.unsubscribe(1, 0, Tags{"a"});
  EXPECT_EQ(index.subscribe(1, 0, Tags{"d"}), TagIndex::Outcome::Ok);
  EXPECT_EQ(index.subscriptions(), 6u);
}

TEST(TagIndexTest, UnsubscribeRemoveAppAndRemoveConnectionLeaveNothingBehind) {
  TagIndex index(64);
  index.subscribe(1, 0, Tags{"a", "b"});
  index.subscribe(1, 1, Tags{"a"});
  index.subscribe(2, 0, Tags{"a"});
  index.unsubscribe(1, 0, Tags{"b", "never"});
  EXPECT_EQ(index.count(0, "b"), 0u);
  EXPECT_EQ(index.entries(), 2u);
  index.unsubscribe(3, 0, Tags{"a"});  // a connection without tags: nothing happens
  index.removeApp(1, 0);
  EXPECT_EQ(connsOf(index, 0, "a"), (std::set<net::ConnId>{2}));
  EXPECT_EQ(connsOf(index, 1, "a"), (std::set<net::ConnId>{1}));
  index.removeConnection(1);
  index.removeConnection(1);  // idempotent
  index.removeConnection(2);
  EXPECT_EQ(index.entries(), 0u);
  EXPECT_EQ(index.subscriptions(), 0u);
  EXPECT_EQ(index.connections(), 0u);
  index.forEach(0, "a", [](net::ConnId) { ADD_FAILURE() << "nobody is subscribed"; });
}

// Many connections on one tag, removed in an order that moves survivors around inside the
// tag's vector: every survivor must stay findable and removable.
TEST(TagIndexTest, ManyConnectionsSurviveRemovalsInAnyOrder) {
  TagIndex index(64);
  constexpr net::ConnId kConns = 20'000;
  for (net::ConnId id = 1; id <= kConns; ++id) {
    ASSERT_EQ(index.subscribe(id, 0, Tags{"all", id % 2 ? "odd" : "even"}), TagIndex::Outcome::Ok);
  }
  EXPECT_EQ(index.count(0, "all"), kConns);
  EXPECT_EQ(index.count(0, "odd"), kConns / 2);
  // Drop every third connection, from the front (each removal swaps the last one in).
  for (net::ConnId id = 1; id <= kConns; id += 3)
    index.removeConnection(id);
  std::set<net::ConnId> expected;
  for (net::ConnId id = 1; id <= kConns; ++id) {
    if ((id - 1) % 3 != 0) expected.insert(id);
  }
  EXPECT_EQ(connsOf(index, 0, "all"), expected);
  for (net::ConnId id = 2; id <= kConns; id += 3)
    index.unsubscribe(id, 0, Tags{"all"});
  for (net::ConnId id = kConns; id >= 1; --id)
    index.removeApp(id, 0);
  EXPECT_EQ(index.entries(), 0u);
  EXPECT_EQ(index.subscriptions(), 0u);
  EXPECT_EQ(index.connections(), 0u);
}

}  // namespace
}  // namespace push::room
