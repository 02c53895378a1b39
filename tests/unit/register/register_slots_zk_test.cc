// Register slots from ZooKeeper (`slots: "auto"`, issue 17): registers on the test's loop,
// registered in a real ZooKeeper (the ctest run's shared one, else one per binary; skipped
// without java or the zookeeper jar). The first owns every slot; a second one joining takes its
// share (both compute the same split from the instance list); the one that stays takes every
// slot back when the other stops, and pulls the room it knows again for them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "services/register/register_server.h"
#include "services/register/slot_assignment.h"
#include "tests/support/zookeeper_server.h"
#include "tests/unit/register/register_test_util.h"

namespace push::reg {
namespace {

using namespace std::chrono_literals;
using push::testing::ZooKeeperServer;

class RegisterSlotsZkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { hosts_ = ZooKeeperServer::sharedOrStart(&own_); }
  static void TearDownTestSuite() {
    own_.reset();
    hosts_.clear();
  }

  void SetUp() override {
    if (!ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    ASSERT_FALSE(hosts_.empty()) << "ZooKeeper did not start";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = "/push/reg_slots." + std::string(info->name()) + "." + std::to_string(::getpid());
  }

  void TearDown() override {
    for (auto& r : registers_) {
      if (!r) continue;
      bool stopped = false;
      r->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
    }
    registers_.clear();
    room_servers_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RegisterServer* startRegister() {
    RegisterServer::Options o;
    o.slots_from_discovery = true;
    o.discovery.zk.hosts = hosts_;
    o.discovery.zk.root = root_;
    o.discovery.zk.session_timeout = 2s;
    o.discovery.refresh = 500ms;
    o.service.room_timeout = 60s;  // the test room heartbeats once
    auto created = RegisterServer::create(loop_, std::move(o));
    EXPECT_TRUE(created.isOk()) << created.status();
    if (!created.isOk()) return nullptr;
    Status st = (*created)->start();
    EXPECT_TRUE(st.isOk()) << st;
    registers_.push_back(std::move(created).value());
    return registers_.back().get();
  }

  // The instance id a register put in /status.
  static std::string instanceOf(const RegisterServer& r) {
    const std::string json = r.statusJson();
    const std::string key = "\"instance\":\"";
    const size_t at = json.find(key);
    if (at == std::string::npos) return "";
    const size_t from = at + key.size();
    return json.substr(from, json.find('"', from) - from);
  }

  // A fake room on its own RPC server; sets `address`.
  testing::FakeRoom* startRoom(std::string* address) {
    rooms_.push_back(std::make_unique<testing::FakeRoom>());
    rpc::ServerPtr server = rpc::Server::create(loop_, {});
    EXPECT_TRUE(server->addService(rooms_.back().get()).isOk());
    EXPECT_TRUE(server->start().isOk());
    *address = server->address().toString();
    room_servers_.push_back(std::move(server));
    return rooms_.back().get();
  }

  static inline std::unique_ptr<ZooKeeperServer> own_;
  static inline std::string hosts_;
  net::EventLoop loop_;
  std::string root_;
  std::vector<std::unique_ptr<testing::FakeRoom>> rooms_;
  std::vector<rpc::ServerPtr> room_servers_;  // after rooms_: closed before them
  std::vector<std::unique_ptr<RegisterServer>> registers_;
};

TEST_F(RegisterSlotsZkTest, SlotsFollowTheRegistersInZooKeeper) {
  RegisterServer* a = startRegister();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->service().slots().count(), 0u) << "owned slots before it was in ZooKeeper";
  ASSERT_TRUE(loop_.runUntil([&] { return a->service().slots().count() == kSlotCount; }, 10s))
      << "the only register did not take every slot: " << a->statusJson();
  EXPECT_NE(a->statusJson().find("\"slots_from\":\"zookeeper\""), std::string::npos);

  // A room that A knows and has pulled: it holds a user of every slot range.
  std::string address;
  testing::FakeRoom* room = startRoom(&address);
  for (uint64_t i = 0; i < 64; ++i) {
    room->sessions.push_back(
        testing::makeSession("app", "u" + std::to_string(i), "d", "r1", address, i + 1));
  }
  RoomHeartbeatRequest hb;
  hb.set_room_id("r1");
  hb.set_room_address(address);
  RoomHeartbeatResponse hb_response;
  rpc::Controller controller;
  a->service().RoomHeartbeat(&controller, &hb, &hb_response, rpc::newCallback([] {}));
  ASSERT_TRUE(loop_.runUntil([&] { return a->service().table().sessionCount() == 64; }, 5s));
  const int pulls_before = room->list_calls;

  RegisterServer* b = startRegister();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return a->service().slots().count() + b->service().slots().count() == kSlotCount &&
               b->service().slots().count() > 0 && a->service().slots().count() < kSlotCount;
      },
      10s))
      << a->statusJson() << "\n"
      << b->statusJson();
  const std::vector<std::string> ids{instanceOf(*a), instanceOf(*b)};
  EXPECT_EQ(a->service().slots(), slotsOf(ids, ids[0]));
  EXPECT_EQ(b->service().slots(), slotsOf(ids, ids[1]));
  for (uint32_t s = 0; s < kSlotCount; ++s) {
    ASSERT_NE(a->service().slots().contains(s), b->service().slots().contains(s)) << s;
  }
  // A gave up B's share: only the sessions of its own slots stay.
  size_t still_a = 0;
  for (const Session& s : room->sessions)
    still_a += a->service().slots().contains(slotOf(s.app(), s.user()));
  EXPECT_EQ(a->service().table().sessionCount(), still_a);
  EXPECT_EQ(room->list_calls, pulls_before) << "giving slots up should not pull";

  // B stops: its node goes, A owns every slot again and pulls the room for them.
  bool stopped = false;
  b->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
  registers_.back().reset();
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return a->service().slots().count() == kSlotCount &&
               a->service().table().sessionCount() == 64;
      },
      10s))
      << "slots or sessions not taken back: " << a->statusJson();
  EXPECT_GT(room->list_calls, pulls_before);
}

}  // namespace
}  // namespace push::reg
