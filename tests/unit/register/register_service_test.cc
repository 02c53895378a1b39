// RegisterService on a real loop, served by an rpc::Server and called through an rpc::Channel
// on 127.0.0.1; rooms are FakeRoom services on their own rpc::Servers.
#include "services/register/register_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "tests/unit/register/register_test_util.h"

namespace push::reg {
namespace {

using namespace std::chrono_literals;
using testing::callSync;
using testing::FakeRoom;
using testing::makeSession;
using testing::offlineOf;
using testing::userKey;

uint64_t counterValue(std::string_view name) {
  return metrics::Registry::global().counter(name, "").value();
}

// push_register_pulls{state="running"|"waiting"} (one RegisterService per test process).
int64_t pullsGauge(const std::string& state) {
  return metrics::Registry::global()
      .gauge("push_register_pulls", "", "state=\"" + state + "\"")
      .value();
}

class RegisterServiceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& room : rooms_) {
      if (room->holding()) room->release();
    }
    stub_.reset();
    channel_.reset();
    server_.reset();
    room_servers_.clear();  // closes them
    if (service_) service_->close();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  void start(RegisterService::Options options = {}) {
    service_ = std::make_unique<RegisterService>(loop_, std::move(options));
    server_ = rpc::Server::create(loop_, {});
    ASSERT_TRUE(server_->addService(service_.get()).isOk());
    ASSERT_TRUE(server_->start().isOk());
    auto ch = rpc::Channel::create(loop_, {});
    ASSERT_TRUE(ch.isOk());
    channel_ = std::move(ch).value();
    ASSERT_TRUE(
        channel_->setEndpoints(std::vector<std::string>{server_->address().toString()}).isOk());
    stub_ = std::make_unique<Register_Stub>(channel_.get());
  }

  // A fake room on its own RPC server; returns it and sets `address`.
  FakeRoom* startRoom(std::string* address) {
    rooms_.push_back(std::make_unique<FakeRoom>());
    rpc::ServerPtr server = rpc::Server::create(loop_, {});
    EXPECT_TRUE(server->addService(rooms_.back().get()).isOk());
    EXPECT_TRUE(server->start().isOk());
    *address = server->address().toString();
    room_servers_.push_back(std::move(server));
    return rooms_.back().get();
  }

  OnlineResponse online(const std::vector<Session>& sessions) {
    OnlineRequest req;
    for (auto& s : sessions)
      *req.add_sessions() = s;
    OnlineResponse resp;
    Status st = callSync(loop_, *stub_, &Register_Stub::Online, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return resp;
  }

  OfflineResponse offline(const std::vector<Session>& sessions) {
    OfflineRequest req;
    for (auto& s : sessions)
      *req.add_sessions() = offlineOf(s);
    OfflineResponse resp;
    Status st = callSync(loop_, *stub_, &Register_Stub::Offline, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return resp;
  }

  // Sessions of each user of `app`, in request order.
  std::vector<std::vector<Session>> lookup(const std::vector<std::string>& users,
                                           const std::string& app = "app") {
    LookupRequest req;
    for (auto& u : users)
      *req.add_users() = userKey(app, u);
    LookupResponse resp;
    Status st = callSync(loop_, *stub_, &Register_Stub::Lookup, req, &resp);
    EXPECT_TRUE(st.isOk()) << st.toString();
    std::vector<std::vector<Session>> out;
    for (auto& u : resp.users())
      out.emplace_back(u.sessions().begin(), u.sessions().end());
    return out;
  }

  RoomHeartbeatResponse heartbeat(const std::string& room_id, const std::string& address,
                                  bool resync = false, Status* status = nullptr) {
    RoomHeartbeatRequest req;
    req.set_room_id(room_id);
    req.set_room_address(address);
    req.set_resync(resync);
    RoomHeartbeatResponse resp;
    Status st = callSync(loop_, *stub_, &Register_Stub::RoomHeartbeat, req, &resp);
    if (status) {
      *status = st;
    } else {
      EXPECT_TRUE(st.isOk()) << st.toString();
    }
    return resp;
  }

  // Runs the loop until register has pulled every page of `room_id`.
  // The service with pages of one session (pulls a test can hold between sessions) and a room.
  FakeRoom* startWithOnePagePerSession(std::string* address) {
    RegisterService::Options options;
    options.pull_page = 1;
    start(options);
    return startRoom(address);
  }
  bool waitSynced(const std::string& room_id) {
    return loop_.runUntil([&] { return synced(room_id); }, 5s);
  }
  bool synced(const std::string& room_id) {
    const std::string json = service_->statusJson();
    size_t at = json.find("\"id\":\"" + room_id + "\"");
    if (at == std::string::npos) return false;
    size_t end = json.find('}', at);
    return json.substr(at, end - at).find("\"synced\":true") != std::string::npos;
  }

  net::EventLoop loop_;
  std::unique_ptr<RegisterService> service_;
  rpc::ServerPtr server_;  // after service_: closed before it
  rpc::ChannelPtr channel_;
  std::unique_ptr<Register_Stub> stub_;
  std::vector<std::unique_ptr<FakeRoom>> rooms_;
  std::vector<rpc::ServerPtr> room_servers_;  // after rooms_: closed before them
};

TEST_F(RegisterServiceTest, OnlineOfflineAndLookup) {
  start();
  Session a1 = makeSession("app", "alice", "phone", "r1", "10.0.0.1:7000", 1);
  Session a2 = makeSession("app", "alice", "laptop", "r2", "10.0.0.2:7000", 2);
  Session b1 = makeSession("app", "bob", "phone", "r1", "10.0.0.1:7000", 3);
  OnlineResponse on = online({a1, a2, b1});
  EXPECT_EQ(on.accepted(), 3u);
  EXPECT_EQ(on.wrong_slot(), 0u);
  EXPECT_EQ(service_->table().sessionCount(), 3u);
  EXPECT_EQ(service_->roomCount(), 2u);  // rooms learned from sessions

  auto found = lookup({"bob", "nobody", "alice"});
  ASSERT_EQ(found.size(), 3u);  // one entry per user, in request order
  ASSERT_EQ(found[0].size(), 1u);
  EXPECT_EQ(found[0][0].device(), "phone");
  EXPECT_EQ(found[0][0].room_address(), "10.0.0.1:7000");
  EXPECT_TRUE(found[1].empty());
  ASSERT_EQ(found[2].size(), 2u);
  EXPECT_EQ(found[2][1].conn_id(), 2u);

  OfflineResponse off = offline({a1, a1, makeSession("app", "x", "d", "r1", "", 99)});
  EXPECT_EQ(off.removed(), 1u);
  found = lookup({"alice"});
  ASSERT_EQ(found[0].size(), 1u);
  EXPECT_EQ(found[0][0].device(), "laptop");
  EXPECT_TRUE(lookup({"alice"}, "other-app")[0].empty());
}

TEST_F(RegisterServiceTest, CountsSessionsOfSlotsItDoesNotOwnAsWrongSlot) {
  RegisterService::Options options;
  auto slots = SlotSet::parse("0-511");
  ASSERT_TRUE(slots.isOk());
  options.slots = *slots;
  start(options);
  auto mine = testing::usersInSlots("app", *slots, 3, "mine");
  auto theirs = testing::usersInSlots("app", *slots, 2, "theirs", /*inside=*/false);
  std::vector<Session> sessions;
  uint64_t conn = 1;
  for (auto& u : mine)
    sessions.push_back(makeSession("app", u, "d", "r1", "10.0.0.1:7000", conn++));
  for (auto& u : theirs)
    sessions.push_back(makeSession("app", u, "d", "r1", "10.0.0.1:7000", conn++));
  const uint64_t wrong_before = counterValue("push_register_wrong_slot_total");
  OnlineResponse on = online(sessions);
  EXPECT_EQ(on.accepted(), 3u);
  EXPECT_EQ(on.wrong_slot(), 2u);
  EXPECT_EQ(counterValue("push_register_wrong_slot_total") - wrong_before, 2u);
  EXPECT_EQ(service_->table().sessionCount(), 3u);
  auto found = lookup({mine[0], theirs[0]});
  EXPECT_EQ(found[0].size(), 1u);
  EXPECT_TRUE(found[1].empty());
}

TEST_F(RegisterServiceTest, LookupCountsUsers) {
  start();
  const uint64_t before = counterValue("push_register_lookups_total");
  lookup({"a", "b", "c"});
  EXPECT_EQ(counterValue("push_register_lookups_total") - before, 3u);
}

TEST_F(RegisterServiceTest, HeartbeatWithoutIdOrAddressIsInvalid) {
  start();
  Status st;
  heartbeat("", "10.0.0.1:7000", false, &st);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT) << st.toString();
  heartbeat("r1", "", false, &st);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT) << st.toString();
  EXPECT_EQ(service_->roomCount(), 0u);
}

TEST_F(RegisterServiceTest, UnknownRoomIsPulledPageByPageAndOfflineDuringThePullSticks) {
  RegisterService::Options options;
  options.pull_page = 2;
  start(options);
  std::string address;
  FakeRoom* room = startRoom(&address);
  std::vector<Session> s;
  for (uint64_t i = 0; i < 5; ++i) {
    s.push_back(makeSession("app", "u" + std::to_string(i), "d", "r1", address, 100 + i));
  }
  room->sessions = s;
  room->hold_cursor = 2;  // the second page waits

  RoomHeartbeatResponse hb = heartbeat("r1", address);
  EXPECT_TRUE(hb.resync());  // unknown room: register pulls it
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  EXPECT_EQ(room->last_request.limit(), 2u);
  EXPECT_EQ(room->last_request.slots_size(), 0);    // owns every slot: no filter
  EXPECT_EQ(service_->table().sessionCount(), 2u);  // the first page is in

  // While page 2 (u2, u3) is in flight: u3 and u0 (already pulled) go offline, and a new
  // session comes online.
  EXPECT_EQ(offline({s[3], s[0]}).removed(), 1u);
  Session fresh = makeSession("app", "u9", "d", "r1", address, 200);
  online({fresh});
  room->release();
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(room->list_calls, 3);  // pages at cursors 0, 2, 4

  auto found = lookup({"u0", "u1", "u2", "u3", "u4", "u9"});
  EXPECT_TRUE(found[0].empty());
  EXPECT_EQ(found[1].size(), 1u);
  EXPECT_EQ(found[2].size(), 1u);
  EXPECT_TRUE(found[3].empty()) << "a session that went offline during the pull came back";
  EXPECT_EQ(found[4].size(), 1u);
  EXPECT_EQ(found[5].size(), 1u);
  EXPECT_EQ(service_->table().sessionCount(), 4u);
  EXPECT_EQ(service_->table().sessionsOfRoom("r1"), 4u);

  // Synced: the next heartbeat does not pull again.
  EXPECT_FALSE(heartbeat("r1", address).resync());
  EXPECT_EQ(room->list_calls, 3);
}

TEST_F(RegisterServiceTest, OfflineOfOneAppDuringAPullKeepsTheConnectionsOtherApps) {
  // One connection (conn 7) carries two apps; the client unbinds app "a" while register
  // pulls the room. The session of app "b" is still online and must survive the pull.
  start();
  std::string address;
  FakeRoom* room = startRoom(&address);
  Session a = makeSession("a", "alice", "phone", "r1", address, 7);
  Session b = makeSession("b", "alice", "phone", "r1", address, 7);
  room->sessions = {a, b};
  room->hold_cursor = 0;
  heartbeat("r1", address);
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  offline({a});  // unbind of app "a" while the page with both sessions is on its way
  room->release();
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_TRUE(lookup({"alice"}, "a")[0].empty());
  EXPECT_EQ(lookup({"alice"}, "b")[0].size(), 1u)
      << "gone_during_sync is keyed by conn id only: app b's session was dropped with app a's";
}

TEST_F(RegisterServiceTest, PullAsksOnlyForOwnedSlotsAndKeepsOnlyThose) {
  RegisterService::Options options;
  auto slots = SlotSet::parse("0-511");
  ASSERT_TRUE(slots.isOk());
  options.slots = *slots;
  start(options);
  std::string address;
  FakeRoom* room = startRoom(&address);
  auto mine = testing::usersInSlots("app", *slots, 2, "mine");
  auto theirs = testing::usersInSlots("app", *slots, 2, "theirs", false);
  room->sessions = {makeSession("app", mine[0], "d", "r1", address, 1),
                    makeSession("app", theirs[0], "d", "r1", address, 2),
                    makeSession("app", mine[1], "d", "r1", address, 3),
                    makeSession("app", theirs[1], "d", "r1", address, 4)};
  heartbeat("r1", address);
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(room->last_request.slots_size(), 512);
  EXPECT_EQ(service_->table().sessionCount(), 2u);
  EXPECT_EQ(lookup({mine[0]})[0].size(), 1u);
  EXPECT_TRUE(lookup({theirs[0]})[0].empty());
}

TEST_F(RegisterServiceTest, SlotsGivenUpAreDroppedAndSlotsTakenOverArePulledFromEveryRoom) {
  auto low = SlotSet::parse("0-511");
  auto high = SlotSet::parse("512-1023");
  ASSERT_TRUE(low.isOk() && high.isOk());
  RegisterService::Options options;
  options.slots = *low;
  start(options);
  std::string address;
  FakeRoom* room = startRoom(&address);
  auto mine = testing::usersInSlots("app", *low, 1, "low");
  auto theirs = testing::usersInSlots("app", *high, 1, "high");
  room->sessions = {makeSession("app", mine[0], "d", "r1", address, 1),
                    makeSession("app", theirs[0], "d", "r1", address, 2)};
  heartbeat("r1", address);
  ASSERT_TRUE(waitSynced("r1"));
  ASSERT_EQ(room->list_calls, 1);
  ASSERT_EQ(lookup({mine[0]})[0].size(), 1u);
  ASSERT_TRUE(lookup({theirs[0]})[0].empty());

  // Another instance took the low half; this one owns the high half now.
  const uint64_t dropped_before = counterValue("push_register_slot_sessions_dropped_total");
  service_->setSlots(*high);
  EXPECT_EQ(counterValue("push_register_slot_sessions_dropped_total") - dropped_before, 1u);
  EXPECT_TRUE(lookup({mine[0]})[0].empty()) << "a session of a slot given up stayed";
  ASSERT_TRUE(loop_.runUntil([&] { return room->list_calls == 2 && synced("r1"); }, 5s))
      << "slots taken over did not pull the room again";
  EXPECT_EQ(room->last_request.slots_size(), 512);
  EXPECT_EQ(room->last_request.slots(0), 512u);
  EXPECT_EQ(lookup({theirs[0]})[0].size(), 1u);
  EXPECT_EQ(service_->table().sessionCount(), 1u);
  EXPECT_NE(service_->statusJson().find("\"slots\":\"512-1023\""), std::string::npos);

  // The same slots again: nothing happens.
  service_->setSlots(*high);
  EXPECT_FALSE(heartbeat("r1", address).resync());
  EXPECT_EQ(room->list_calls, 2);
  // Only slots given up: dropped, no pull.
  auto quarter = SlotSet::parse("768-1023");
  ASSERT_TRUE(quarter.isOk());
  service_->setSlots(*quarter);
  EXPECT_FALSE(heartbeat("r1", address).resync());
  EXPECT_EQ(room->list_calls, 2);
}

TEST_F(RegisterServiceTest, APullRunningWhenSlotsAreTakenOverStartsOverWithTheNewSlots) {
  auto low = SlotSet::parse("0-511");
  ASSERT_TRUE(low.isOk());
  RegisterService::Options options;
  options.slots = *low;
  start(options);
  std::string address;
  FakeRoom* room = startRoom(&address);
  auto theirs = testing::usersInSlots("app", *low, 1, "high", false);
  room->sessions = {makeSession("app", theirs[0], "d", "r1", address, 1)};
  room->hold_cursor = 0;  // the first page waits
  heartbeat("r1", address);
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  EXPECT_EQ(room->last_request.slots_size(), 512);

  service_->setSlots(SlotSet::all());
  EXPECT_EQ(room->list_calls, 1) << "a second pull ran beside the first";
  room->release();
  ASSERT_TRUE(loop_.runUntil([&] { return room->list_calls == 2 && synced("r1"); }, 5s))
      << "the pull that asked for the old slots was taken as complete";
  EXPECT_EQ(room->last_request.slots_size(), 0);  // every slot: no filter
  EXPECT_EQ(lookup({theirs[0]})[0].size(), 1u);
}

TEST_F(RegisterServiceTest, WithNoSlotsARoomIsSyncedWithoutAPull) {
  RegisterService::Options options;
  options.slots = SlotSet();
  start(options);
  std::string address;
  FakeRoom* room = startRoom(&address);
  room->sessions = {makeSession("app", "alice", "d", "r1", address, 1)};
  heartbeat("r1", address);
  EXPECT_TRUE(synced("r1"));
  EXPECT_EQ(room->list_calls, 0);
  service_->setSlots(SlotSet::all());
  ASSERT_TRUE(loop_.runUntil([&] { return room->list_calls == 1 && synced("r1"); }, 5s));
  EXPECT_EQ(lookup({"alice"})[0].size(), 1u);
}

TEST_F(RegisterServiceTest, ResyncTriggersANewPull) {
  start();
  std::string address;
  FakeRoom* room = startRoom(&address);
  room->sessions = {makeSession("app", "alice", "d", "r1", address, 1)};
  heartbeat("r1", address);
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(room->list_calls, 1);
  EXPECT_FALSE(heartbeat("r1", address).resync());
  EXPECT_EQ(room->list_calls, 1);

  // The room lost a batch: it asks for a resync; the new pull brings bob in.
  room->sessions.push_back(makeSession("app", "bob", "d", "r1", address, 2));
  EXPECT_TRUE(heartbeat("r1", address, /*resync=*/true).resync());
  ASSERT_TRUE(loop_.runUntil([&] { return room->list_calls == 2; }, 5s));
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(lookup({"bob"})[0].size(), 1u);
  EXPECT_EQ(service_->table().sessionCount(), 2u);  // alice was refreshed, not duplicated
}

// A full pull reconciles: a session the room no longer lists goes (its Offline went elsewhere,
// e.g. to the slot's previous owner while the map was changing); one that came online during
// the pull stays even though the pages missed it.
TEST_F(RegisterServiceTest, AResyncPullDropsSessionsTheRoomNoLongerHas) {
  std::string address;
  FakeRoom* room = startWithOnePagePerSession(&address);
  const Session alice = makeSession("app", "alice", "d", "r1", address, 1);
  const Session bob = makeSession("app", "bob", "d", "r1", address, 2);
  room->sessions = {alice, bob};
  heartbeat("r1", address);
  ASSERT_TRUE(waitSynced("r1"));
  // Another room's session is not this pull's business.
  online({makeSession("app", "dan", "d", "r2", "127.0.0.1:1", 9)});
  EXPECT_EQ(service_->table().sessionCount(), 3u);

  room->sessions = {alice};  // bob left; register never heard his Offline
  room->hold_cursor = 0;
  EXPECT_TRUE(heartbeat("r1", address, /*resync=*/true).resync());
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  online({makeSession("app", "carol", "d", "r1", address, 3)});  // not on any page
  room->release();
  ASSERT_TRUE(waitSynced("r1"));  // the resync heartbeat unset it

  auto found = lookup({"alice", "bob", "carol", "dan"});
  EXPECT_EQ(found[0].size(), 1u);
  EXPECT_TRUE(found[1].empty()) << "a session the room no longer has survived its full pull";
  EXPECT_EQ(found[2].size(), 1u);
  EXPECT_EQ(found[3].size(), 1u);
  EXPECT_EQ(service_->table().sessionsOfRoom("r1"), 2u);
  EXPECT_EQ(service_->table().sessionCount(), 3u);
}

// A resync asked for while a pull runs (the room's map moved, a batch failed) is not answered by
// that pull, whose earlier pages may list a session that has left since: it starts over.
TEST_F(RegisterServiceTest, AResyncDuringAPullMakesItStartOver) {
  std::string address;
  FakeRoom* room = startWithOnePagePerSession(&address);
  const Session alice = makeSession("app", "alice", "d", "r1", address, 1);
  const Session bob = makeSession("app", "bob", "d", "r1", address, 2);
  const Session carol = makeSession("app", "carol", "d", "r1", address, 3);
  room->sessions = {alice, bob, carol};
  room->hold_cursor = 1;  // alice's page is in, the next waits
  heartbeat("r1", address);
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  EXPECT_EQ(lookup({"alice"})[0].size(), 1u);

  room->sessions = {bob, carol};  // alice left; her Offline went to another register
  EXPECT_TRUE(heartbeat("r1", address, /*resync=*/true).resync());
  room->release();
  ASSERT_TRUE(waitSynced("r1"));
  auto found = lookup({"alice", "bob", "carol"});
  EXPECT_TRUE(found[0].empty()) << "the pull running at the resync was taken as the resync";
  EXPECT_EQ(found[1].size(), 1u);
  EXPECT_EQ(found[2].size(), 1u);
}

// A pull of a room that went away (ZooKeeper) and came back with a pull of its own is ignored:
// its late pages would bring back sessions that left after the newer pull.
TEST_F(RegisterServiceTest, APullOfARoomThatWentAndCameBackIsIgnored) {
  start();
  std::string address;
  FakeRoom* room = startRoom(&address);
  const Session alice = makeSession("app", "alice", "d", "r1", address, 1);
  room->sessions = {alice};
  room->hold_cursor = 0;
  heartbeat("r1", address);
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  service_->roomsInDiscovery({"r1"});
  service_->roomsInDiscovery({});  // its node went: the room is forgotten
  heartbeat("r1", address);        // back: a new pull, answered at once
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(lookup({"alice"})[0].size(), 1u);
  EXPECT_EQ(offline({alice}).removed(), 1u);

  room->release();  // the first pull's page, listing alice as she was
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_TRUE(lookup({"alice"})[0].empty()) << "a superseded pull brought a session back";
  EXPECT_TRUE(synced("r1"));
}

TEST_F(RegisterServiceTest, FailedPullIsRetriedOnTheNextHeartbeat) {
  start();
  std::string address;
  FakeRoom* room = startRoom(&address);
  room->sessions = {makeSession("app", "alice", "d", "r1", address, 1)};
  room->fail_calls = 1;
  EXPECT_TRUE(heartbeat("r1", address).resync());
  ASSERT_TRUE(loop_.runUntil([&] { return room->list_calls == 1; }, 5s));
  // The room heartbeats on; once register has seen the failure, a heartbeat pulls again.
  for (int i = 0; i < 100 && room->list_calls < 2; ++i) {
    EXPECT_TRUE(heartbeat("r1", address).resync());
    loop_.runUntil([&] { return room->list_calls >= 2; }, 20ms);
  }
  ASSERT_EQ(room->list_calls, 2);
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(lookup({"alice"})[0].size(), 1u);
}

// At most max_concurrent_pulls pulls run; other rooms wait their turn, first come first
// served, and start as running ones end, so rooms that come back together cannot pile their
// pulls on register. A room waiting is not queued twice by its next heartbeat.
TEST_F(RegisterServiceTest, PullsBeyondTheCapWaitTheirTurn) {
  RegisterService::Options options;
  options.pull_page = 1;
  options.max_concurrent_pulls = 1;
  start(options);
  std::string a1, a2, a3;
  FakeRoom* r1 = startRoom(&a1);
  FakeRoom* r2 = startRoom(&a2);
  FakeRoom* r3 = startRoom(&a3);
  r1->sessions = {makeSession("app", "u1", "d", "r1", a1, 1),
                  makeSession("app", "u2", "d", "r1", a1, 2)};
  r2->sessions = {makeSession("app", "u3", "d", "r2", a2, 3)};
  r3->sessions = {makeSession("app", "u4", "d", "r3", a3, 4)};
  r1->hold_cursor = 1;  // r1's second page waits
  EXPECT_TRUE(heartbeat("r1", a1).resync());
  ASSERT_TRUE(loop_.runUntil([&] { return r1->holding(); }, 5s));
  EXPECT_TRUE(heartbeat("r2", a2).resync());
  EXPECT_TRUE(heartbeat("r3", a3).resync());
  EXPECT_TRUE(heartbeat("r2", a2).resync());  // still waiting: in line once
  const std::string status = service_->statusJson();
  EXPECT_NE(status.find("\"pulls_running\":1,\"pulls_waiting\":2"), std::string::npos) << status;
  EXPECT_EQ(r2->list_calls, 0);
  EXPECT_EQ(r3->list_calls, 0);
  EXPECT_EQ(pullsGauge("running"), 1);
  EXPECT_EQ(pullsGauge("waiting"), 2);

  r1->release();
  ASSERT_TRUE(waitSynced("r1"));
  ASSERT_TRUE(waitSynced("r2"));
  ASSERT_TRUE(waitSynced("r3"));
  EXPECT_EQ(r2->list_calls, 1);
  EXPECT_EQ(r3->list_calls, 1);
  EXPECT_EQ(service_->table().sessionCount(), 4u);
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        return service_->statusJson().find("\"pulls_running\":0,\"pulls_waiting\":0") !=
               std::string::npos;
      },
      5s));
  EXPECT_EQ(pullsGauge("running"), 0);
  EXPECT_EQ(pullsGauge("waiting"), 0);
}

// A room dropped while its pull waits is skipped when its turn comes.
TEST_F(RegisterServiceTest, AWaitingPullOfARoomThatWentIsSkipped) {
  RegisterService::Options options;
  options.pull_page = 1;
  options.max_concurrent_pulls = 1;
  options.room_timeout = 300ms;
  start(options);
  std::string a1, a2;
  FakeRoom* r1 = startRoom(&a1);
  FakeRoom* r2 = startRoom(&a2);
  r1->sessions = {makeSession("app", "u1", "d", "r1", a1, 1),
                  makeSession("app", "u2", "d", "r1", a1, 2)};
  r2->sessions = {makeSession("app", "u3", "d", "r2", a2, 3)};
  r1->hold_cursor = 1;
  heartbeat("r1", a1);
  ASSERT_TRUE(loop_.runUntil([&] { return r1->holding(); }, 5s));
  heartbeat("r2", a2);
  // r2 falls silent and is dropped while it waits (r1 keeps beating).
  const auto r2_known = [&] {
    return service_->statusJson().find("\"id\":\"r2\"") != std::string::npos;
  };
  for (int i = 0; i < 100 && r2_known(); ++i) {
    heartbeat("r1", a1);
    loop_.runUntil([&] { return !r2_known(); }, 50ms);
  }
  ASSERT_FALSE(r2_known());
  EXPECT_NE(service_->statusJson().find("\"pulls_waiting\":0"), std::string::npos);
  EXPECT_EQ(pullsGauge("waiting"), 0);  // its place in line is no longer counted
  EXPECT_EQ(pullsGauge("running"), 1);
  r1->release();
  ASSERT_TRUE(waitSynced("r1"));
  EXPECT_EQ(r2->list_calls, 0);
  EXPECT_TRUE(loop_.runUntil([&] { return pullsGauge("running") == 0; }, 5s));
}

TEST_F(RegisterServiceTest, SilentRoomLosesItsSessions) {
  RegisterService::Options options;
  options.room_timeout = 500ms;
  start(options);
  std::string silent_address, alive_address;
  startRoom(&silent_address);
  startRoom(&alive_address);
  const int64_t before_last_beat = loop_.nowMs();
  heartbeat("silent", silent_address);
  heartbeat("alive", alive_address);
  ASSERT_TRUE(waitSynced("silent"));
  ASSERT_TRUE(waitSynced("alive"));
  online({makeSession("app", "alice", "d", "silent", silent_address, 1),
          makeSession("app", "bob", "d", "silent", silent_address, 2),
          makeSession("app", "carol", "d", "alive", alive_address, 3)});
  const uint64_t lost_before = counterValue("push_register_rooms_lost_total");

  // "alive" keeps heartbeating every 50 ms; "silent" says nothing more.
  struct Beat {
    rpc::Controller controller;
    RoomHeartbeatRequest request;
    RoomHeartbeatResponse response;
  };
  auto beats = std::make_shared<int>(0);  // outlives a failed test: calls complete at TearDown
  net::PeriodicTimerPtr keepalive(net::PeriodicTimer::create(loop_, [&] {
    auto beat = std::make_shared<Beat>();
    beat->request.set_room_id("alive");
    beat->request.set_room_address(alive_address);
    stub_->RoomHeartbeat(
        &beat->controller, &beat->request, &beat->response,
        rpc::newCallback([beat, beats] { *beats += beat->controller.status().isOk(); }));
  }));
  keepalive->start(50ms);
  ASSERT_TRUE(loop_.runUntil([&] { return service_->table().sessionsOfRoom("silent") == 0; }, 5s));
  EXPECT_GT(loop_.nowMs() - before_last_beat, 500) << "dropped before room_timeout";
  EXPECT_EQ(service_->table().sessionsOfRoom("alive"), 1u);
  EXPECT_EQ(service_->roomCount(), 1u);
  EXPECT_GT(*beats, 0);
  EXPECT_GE(counterValue("push_register_rooms_lost_total") - lost_before, 1u);
  EXPECT_TRUE(lookup({"alice"})[0].empty());
  EXPECT_EQ(lookup({"carol"})[0].size(), 1u);
  keepalive.reset();
  // Let heartbeats in flight finish before TearDown closes the channel.
  EXPECT_TRUE(loop_.runUntil([&] { return channel_->inflight() == 0; }, 5s));
}

TEST_F(RegisterServiceTest, NewRoomIdAtTheSameAddressDropsTheOldInstance) {
  start();
  std::string address, other_address;
  FakeRoom* room = startRoom(&address);
  startRoom(&other_address);
  heartbeat("room-old", address);
  heartbeat("elsewhere", other_address);
  ASSERT_TRUE(waitSynced("room-old"));
  ASSERT_TRUE(waitSynced("elsewhere"));
  online({makeSession("app", "alice", "d", "room-old", address, 1),
          makeSession("app", "bob", "d", "room-old", address, 2),
          makeSession("app", "carol", "d", "elsewhere", other_address, 3)});
  ASSERT_EQ(service_->table().sessionsOfRoom("room-old"), 2u);

  // The room restarted at the same address with a new id; its ListSessions knows only dave.
  room->sessions = {makeSession("app", "dave", "d", "room-new", address, 1)};
  EXPECT_TRUE(heartbeat("room-new", address).resync());
  EXPECT_EQ(service_->table().sessionsOfRoom("room-old"), 0u);  // at once, not after a timeout
  EXPECT_EQ(service_->table().sessionsOfRoom("elsewhere"), 1u);
  ASSERT_TRUE(waitSynced("room-new"));
  EXPECT_EQ(service_->roomCount(), 2u);
  auto found = lookup({"alice", "bob", "carol", "dave"});
  EXPECT_TRUE(found[0].empty());
  EXPECT_TRUE(found[1].empty());
  EXPECT_EQ(found[2].size(), 1u);
  ASSERT_EQ(found[3].size(), 1u);
  EXPECT_EQ(found[3][0].room_id(), "room-new");
}

TEST_F(RegisterServiceTest, PullAnsweredAfterTheServiceIsGoneIsIgnored) {
  start();
  std::string address;
  FakeRoom* room = startRoom(&address);
  room->sessions = {makeSession("app", "alice", "d", "r1", address, 1)};
  room->hold_cursor = 0;
  heartbeat("r1", address);
  ASSERT_TRUE(loop_.runUntil([&] { return room->holding(); }, 5s));
  // Take the service down completely (its server first: it must outlive it).
  bool server_gone = false;
  server_.release()->shutdown(0ms, [&] { server_gone = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return server_gone; }, 5s));
  service_->close();
  service_.reset();
  room->release();  // answers a pull whose service is gone (ASan watches)
  loop_.runUntil([] { return false; }, 100ms);
}

}  // namespace
}  // namespace push::reg
