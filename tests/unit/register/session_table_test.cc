#include "services/register/session_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace push::reg {
namespace {

Session makeSession(const std::string& user, const std::string& device, const std::string& room,
                    uint64_t conn, int64_t since_ms = 1000, const std::string& app = "app",
                    const std::string& address = "") {
  Session s;
  s.set_app(app);
  s.set_user(user);
  s.set_device(device);
  s.set_room_id(room);
  s.set_room_address(address.empty() ? room + ":7000" : address);
  s.set_conn_id(conn);
  s.set_since_ms(since_ms);
  return s;
}

std::vector<Session> lookup(const SessionTable& t, const std::string& user,
                            const std::string& app = "app") {
  std::vector<Session> out;
  t.lookup(app, user, &out);
  return out;
}

TEST(SessionTableTest, AddsAndLooksUpWithEveryField) {
  SessionTable t;
  EXPECT_TRUE(t.add(makeSession("alice", "phone", "r1", 7, 1234, "app", "10.0.0.1:7000")));
  auto found = lookup(t, "alice");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].app(), "app");
  EXPECT_EQ(found[0].user(), "alice");
  EXPECT_EQ(found[0].device(), "phone");
  EXPECT_EQ(found[0].room_id(), "r1");
  EXPECT_EQ(found[0].room_address(), "10.0.0.1:7000");
  EXPECT_EQ(found[0].conn_id(), 7u);
  EXPECT_EQ(found[0].since_ms(), 1234);
  EXPECT_TRUE(lookup(t, "bob").empty());
  EXPECT_TRUE(lookup(t, "alice", "other-app").empty());  // (app, user) is the key
  EXPECT_EQ(t.sessionCount(), 1u);
  EXPECT_EQ(t.userCount(), 1u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 1u);
  EXPECT_EQ(t.sessionsOfRoom("nope"), 0u);
}

TEST(SessionTableTest, LookupAppendsToTheOutput) {
  SessionTable t;
  t.add(makeSession("alice", "phone", "r1", 1));
  t.add(makeSession("bob", "phone", "r1", 2));
  std::vector<Session> out;
  t.lookup("app", "alice", &out);
  t.lookup("app", "bob", &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].user(), "alice");
  EXPECT_EQ(out[1].user(), "bob");
}

TEST(SessionTableTest, SameRoomAndConnectionReplaces) {
  SessionTable t;
  EXPECT_TRUE(t.add(makeSession("alice", "phone", "r1", 7, 100)));
  EXPECT_FALSE(t.add(makeSession("alice", "tablet", "r1", 7, 200)));  // refresh
  auto found = lookup(t, "alice");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].device(), "tablet");
  EXPECT_EQ(found[0].since_ms(), 200);
  EXPECT_EQ(t.sessionCount(), 1u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 1u);
  // The same conn id in another room is another session.
  EXPECT_TRUE(t.add(makeSession("alice", "phone", "r2", 7, 300)));
  EXPECT_EQ(lookup(t, "alice").size(), 2u);
  EXPECT_EQ(t.sessionCount(), 2u);
}

TEST(SessionTableTest, KeepsSeveralDevicesOfOneUser) {
  SessionTable t;
  t.add(makeSession("alice", "phone", "r1", 1));
  t.add(makeSession("alice", "laptop", "r2", 2));
  t.add(makeSession("alice", "tablet", "r1", 3));
  auto found = lookup(t, "alice");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].device(), "phone");
  EXPECT_EQ(found[1].device(), "laptop");
  EXPECT_EQ(found[1].room_id(), "r2");
  EXPECT_EQ(found[2].device(), "tablet");
  EXPECT_EQ(t.userCount(), 1u);
  EXPECT_EQ(t.sessionCount(), 3u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 2u);
  EXPECT_EQ(t.sessionsOfRoom("r2"), 1u);
}

TEST(SessionTableTest, DropsTheOldestBeyondTheLimit) {
  SessionTable t(/*max_sessions_per_user=*/3);
  t.add(makeSession("alice", "a", "r1", 1, 300));
  t.add(makeSession("alice", "b", "r2", 2, 100));  // the oldest, though not the first added
  t.add(makeSession("alice", "c", "r1", 3, 200));
  EXPECT_TRUE(t.add(makeSession("alice", "d", "r1", 4, 400)));
  auto found = lookup(t, "alice");
  ASSERT_EQ(found.size(), 3u);
  std::vector<std::string> devices;
  for (auto& s : found)
    devices.push_back(s.device());
  EXPECT_EQ(devices, (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(t.sessionCount(), 3u);
  EXPECT_EQ(t.sessionsOfRoom("r2"), 0u);  // the dropped session's room count went down
  EXPECT_EQ(t.sessionsOfRoom("r1"), 3u);
  // Other users are not affected by alice's limit.
  t.add(makeSession("bob", "a", "r2", 9, 50));
  EXPECT_EQ(lookup(t, "bob").size(), 1u);
  EXPECT_EQ(lookup(t, "alice").size(), 3u);
  EXPECT_EQ(t.sessionCount(), 4u);
}

TEST(SessionTableTest, RemovesOneSession) {
  SessionTable t;
  t.add(makeSession("alice", "phone", "r1", 1));
  t.add(makeSession("alice", "laptop", "r1", 2));
  EXPECT_FALSE(t.remove("app", "alice", "r1", 99));   // unknown conn
  EXPECT_FALSE(t.remove("app", "alice", "r9", 1));    // unknown room
  EXPECT_FALSE(t.remove("app", "bob", "r1", 1));      // unknown user
  EXPECT_FALSE(t.remove("other", "alice", "r1", 1));  // other app
  EXPECT_TRUE(t.remove("app", "alice", "r1", 1));
  EXPECT_FALSE(t.remove("app", "alice", "r1", 1));  // only once
  auto found = lookup(t, "alice");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].device(), "laptop");
  EXPECT_EQ(t.sessionCount(), 1u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 1u);
  EXPECT_TRUE(t.remove("app", "alice", "r1", 2));
  EXPECT_EQ(t.userCount(), 0u);  // no empty user entries are left behind
  EXPECT_EQ(t.sessionCount(), 0u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 0u);
}

TEST(SessionTableTest, DropRoomRemovesOnlyThatRoomsSessions) {
  SessionTable t;
  t.add(makeSession("alice", "phone", "r1", 1));
  t.add(makeSession("alice", "laptop", "r2", 2));
  t.add(makeSession("bob", "phone", "r1", 3));
  t.add(makeSession("carol", "phone", "r2", 4));
  EXPECT_EQ(t.dropRoom("r1"), 2u);
  EXPECT_EQ(t.dropRoom("r1"), 0u);
  EXPECT_EQ(t.dropRoom("unknown"), 0u);
  EXPECT_EQ(t.sessionCount(), 2u);
  EXPECT_EQ(t.userCount(), 2u);  // bob is gone entirely
  EXPECT_TRUE(lookup(t, "bob").empty());
  auto alice = lookup(t, "alice");
  ASSERT_EQ(alice.size(), 1u);
  EXPECT_EQ(alice[0].room_id(), "r2");
  EXPECT_EQ(t.sessionsOfRoom("r1"), 0u);
  EXPECT_EQ(t.sessionsOfRoom("r2"), 2u);
}

TEST(SessionTableTest, DropOtherRoomsAtKeepsTheNamedRoomAndOtherAddresses) {
  SessionTable t;
  t.add(makeSession("alice", "a", "old", 1, 1, "app", "10.0.0.1:7000"));
  t.add(makeSession("bob", "a", "old", 2, 1, "app", "10.0.0.1:7000"));
  t.add(makeSession("alice", "b", "new", 3, 1, "app", "10.0.0.1:7000"));
  t.add(makeSession("carol", "a", "elsewhere", 4, 1, "app", "10.0.0.2:7000"));
  EXPECT_EQ(t.dropOtherRoomsAt("10.0.0.1:7000", "new"), 2u);
  EXPECT_EQ(t.dropOtherRoomsAt("10.0.0.1:7000", "new"), 0u);
  EXPECT_EQ(t.dropOtherRoomsAt("10.0.0.9:7000", "new"), 0u);
  EXPECT_EQ(t.sessionCount(), 2u);
  EXPECT_EQ(t.sessionsOfRoom("old"), 0u);
  EXPECT_EQ(t.sessionsOfRoom("new"), 1u);
  EXPECT_EQ(t.sessionsOfRoom("elsewhere"), 1u);
  EXPECT_TRUE(lookup(t, "bob").empty());
}

TEST(SessionTableTest, ReusesTheSlotOfAnEmptyRoomWithoutMixingRooms) {
  SessionTable t;
  t.add(makeSession("alice", "a", "r1", 1, 1, "app", "10.0.0.1:7000"));
  t.add(makeSession("bob", "a", "r2", 2, 1, "app", "10.0.0.2:7000"));
  ASSERT_EQ(t.dropRoom("r1"), 1u);
  // r3 takes r1's empty slot: r1 must not alias it.
  t.add(makeSession("carol", "a", "r3", 3, 1, "app", "10.0.0.3:7000"));
  EXPECT_EQ(t.sessionsOfRoom("r1"), 0u);
  EXPECT_EQ(t.sessionsOfRoom("r3"), 1u);
  EXPECT_EQ(t.dropRoom("r1"), 0u);  // must not drop r3's session through a stale index
  EXPECT_EQ(t.sessionsOfRoom("r3"), 1u);
  auto carol = lookup(t, "carol");
  ASSERT_EQ(carol.size(), 1u);
  EXPECT_EQ(carol[0].room_id(), "r3");
  EXPECT_EQ(carol[0].room_address(), "10.0.0.3:7000");
  // r1 coming back gets a slot of its own again.
  t.add(makeSession("alice", "a", "r1", 5, 1, "app", "10.0.0.1:7000"));
  EXPECT_EQ(t.sessionsOfRoom("r1"), 1u);
  EXPECT_EQ(t.sessionsOfRoom("r3"), 1u);
  EXPECT_EQ(lookup(t, "alice")[0].room_address(), "10.0.0.1:7000");
  EXPECT_EQ(lookup(t, "carol")[0].room_id(), "r3");
  // A room emptied by remove() is reusable too.
  ASSERT_TRUE(t.remove("app", "bob", "r2", 2));
  t.add(makeSession("dave", "a", "r4", 6, 1, "app", "10.0.0.4:7000"));
  EXPECT_EQ(t.sessionsOfRoom("r2"), 0u);
  EXPECT_EQ(t.sessionsOfRoom("r4"), 1u);
  EXPECT_FALSE(t.remove("app", "dave", "r2", 6));
  EXPECT_EQ(lookup(t, "dave")[0].room_id(), "r4");
  EXPECT_EQ(t.sessionCount(), 3u);
}

TEST(SessionTableTest, RestartsAtOneAddressDoNotGrowOrConfuseTheTable) {
  // A room restarting many times at one address: each instance's sessions are found under
  // its own id, and dropping the previous instance leaves the current one intact.
  SessionTable t;
  for (int gen = 0; gen < 50; ++gen) {
    std::string id = "room-" + std::to_string(gen);
    t.add(makeSession("user" + std::to_string(gen), "d", id, static_cast<uint64_t>(gen), 1, "app",
                      "10.0.0.1:7000"));
    EXPECT_EQ(t.dropOtherRoomsAt("10.0.0.1:7000", id), gen == 0 ? 0u : 1u);
    EXPECT_EQ(t.sessionCount(), 1u);
    EXPECT_EQ(t.sessionsOfRoom(id), 1u);
  }
}

TEST(SessionTableTest, KeepOnlySlotsDropsTheUsersOfOtherSlotsAndKeepsCountsRight) {
  auto half = SlotSet::parse("0-511");
  ASSERT_TRUE(half.isOk());
  SessionTable t;
  std::vector<std::string> kept, dropped;
  for (int i = 0; kept.size() < 3 || dropped.size() < 3; ++i) {
    const std::string user = "u" + std::to_string(i);
    auto& into = half->contains(slotOf("app", user)) ? kept : dropped;
    if (into.size() < 3) into.push_back(user);
  }
  uint64_t conn = 1;
  for (const auto& u : kept) {
    t.add(makeSession(u, "phone", "r1", conn++));
    t.add(makeSession(u, "pad", "r2", conn++));
  }
  for (const auto& u : dropped)
    t.add(makeSession(u, "phone", "r1", conn++));
  ASSERT_EQ(t.sessionCount(), 9u);

  EXPECT_EQ(t.keepOnlySlots(*half), 3u);
  EXPECT_EQ(t.sessionCount(), 6u);
  EXPECT_EQ(t.userCount(), 3u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 3u);
  EXPECT_EQ(t.sessionsOfRoom("r2"), 3u);
  for (const auto& u : kept)
    EXPECT_EQ(lookup(t, u).size(), 2u) << u;
  for (const auto& u : dropped)
    EXPECT_TRUE(lookup(t, u).empty()) << u;

  // Nothing owned: everything goes; a room's count can reach 0 and its index is reused.
  EXPECT_EQ(t.keepOnlySlots(SlotSet()), 6u);
  EXPECT_EQ(t.sessionCount(), 0u);
  EXPECT_EQ(t.sessionsOfRoom("r1"), 0u);
  EXPECT_EQ(t.keepOnlySlots(SlotSet::all()), 0u);
}

}  // namespace
}  // namespace push::reg
