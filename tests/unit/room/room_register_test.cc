// RoomServer with a real RegisterService (in-process, on the test's loop, over real RPC):
// what register learns from the room, and when.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "common/rpc/server.h"
#include "services/register/register_service.h"
#include "tests/support/room_fake_saver.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;

class RoomRegisterTest : public testing::RoomFixture {
 protected:
  void SetUp() override {
    reg::RegisterService::Options ro;
    ro.room_timeout = 60s;  // longer than the test: only the room's own Offline may clear it
    service_ = std::make_unique<reg::RegisterService>(loop_, ro);
    server_ = rpc::Server::create(loop_, rpc::Server::Options{});
    ASSERT_TRUE(server_->addService(service_.get()).isOk());
    ASSERT_TRUE(server_->start().isOk());
  }
  void TearDown() override {
    clients_.clear();
    if (room_) {  // the room first: it talks to register until it has stopped
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
      room_.reset();
    }
    bool down = false;
    server_.release()->shutdown(0ms, [&] { down = true; });  // deletes itself
    EXPECT_TRUE(loop_.runUntil([&] { return down; }, 5s));
    service_->close();
    service_.reset();
    if (saver_) {
      bool saver_down = false;
      saver_->stop([&] { saver_down = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return saver_down; }, 5s));
      saver_.reset();
    }
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RoomOptions withRegister() {
    RoomOptions o = defaultOptions();
    reg::RegisterClient::Options rc;
    rc.shards.push_back({server_->address().toString(), reg::SlotSet::all()});
    o.register_client = rc;
    return o;
  }

  // withRegister() and a fake saver (started here) whose replays time out after
  // `replay_timeout`.
  RoomOptions withRegisterAndSaver(std::chrono::milliseconds replay_timeout) {
    saver_ = std::make_unique<push::testing::RoomFakeSaver>(loop_);
    EXPECT_TRUE(saver_->start().isOk());
    RoomOptions o = withRegister();
    RoomOptions::Saver s;
    s.addresses = {saver_->address()};
    s.timeout = 1000ms;
    s.replay_timeout = replay_timeout;
    o.saver = s;
    return o;
  }

  // A QoS 1 message of app1 stored for `user` (a push center stored).
  void storeFor(const std::string& user, uint64_t id, const std::string& payload) {
    Message m;
    m.set_id(id);
    m.set_app("app1");
    m.set_payload(payload);
    m.set_qos(1);
    m.set_created_ms(Clock::system().wallMillis());
    saver_->storeMessage(user, m);
  }

  std::unique_ptr<reg::RegisterService> service_;
  rpc::ServerPtr server_;
  std::unique_ptr<push::testing::RoomFakeSaver> saver_;  // started by withRegisterAndSaver()
};

TEST_F(RoomRegisterTest, StoredMessagesAreLoadedOnlyOnceRegisterHasTheSession) {
  // Center stores a push, then looks its user up. Loaded at auth, before register knew the new
  // session, a push stored in between would reach only the user's old sessions (a room just
  // killed) and wait for the next reconnect; loaded once register has the session, it comes.
  RoomOptions o = withRegisterAndSaver(2000ms);  // the default replay timeout
  o.register_client->batch_interval = 1s;        // the session reaches register this late
  startRoom(o);
  // The room's first heartbeat makes register pull its sessions: past that, only the batch
  // brings a new one.
  authed("app1", "bob", "phone");
  ASSERT_TRUE(loop_.runUntil([&] { return service_->table().sessionCount() == 1; }, 5s));
  const auto loads_of_alice = [&] {
    return std::count_if(saver_->load_requests.begin(), saver_->load_requests.end(),
                         [](const saver::LoadRequest& r) { return r.user() == "alice"; });
  };
  testing::FrameSocket& alice = authed("app1", "alice", "phone");
  // 100 ms: an auth-time Load would have reached saver by now; the batch leaves at 1 s.
  loop_.runUntil([] { return false; }, 100ms);
  EXPECT_EQ(service_->table().sessionCount(), 1u);
  EXPECT_EQ(loads_of_alice(), 0) << "loaded before register had alice";
  storeFor("alice", 77, "stored meanwhile");
  ASSERT_TRUE(loop_.runUntil([&] { return service_->table().sessionCount() == 2; }, 5s));
  client::Frame push = expectFrame(alice, client::Frame::kPush);
  EXPECT_EQ(push.push().message_id(), 77u);
  EXPECT_EQ(push.push().payload(), "stored meanwhile");
  EXPECT_EQ(loads_of_alice(), 1);
}

TEST_F(RoomRegisterTest, AReplayWaitsForRegisterNoLongerThanItsTimeout) {
  // Register slower than the replay timeout: the stored messages are loaded at the timeout
  // (best effort) rather than left for the next connection.
  RoomOptions o = withRegisterAndSaver(300ms);
  o.register_client->batch_interval = 3s;
  startRoom(o);
  storeFor("carol", 78, "stored before");
  const auto begin = std::chrono::steady_clock::now();
  testing::FrameSocket& carol = authed("app1", "carol", "phone");
  client::Frame push = expectFrame(carol, client::Frame::kPush);
  EXPECT_EQ(push.push().message_id(), 78u);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s) << "waited for the 3 s batch";
}

TEST_F(RoomRegisterTest, ABindOfAnAppAlreadyBoundReplaysWithoutWaitingForRegister) {
  // Such a Bind opens no session (nothing is announced): its replay must not wait for an
  // answer that never comes.
  startRoom(withRegisterAndSaver(5s));
  testing::FrameSocket& dave = authed("app1", "dave", "phone");
  ASSERT_TRUE(loop_.runUntil([&] { return service_->table().sessionCount() == 1; }, 5s));
  roundTrip(dave);  // the auth's replay (empty) is over
  storeFor("dave", 79, "stored later");
  const auto begin = std::chrono::steady_clock::now();
  client::Frame bind;
  bind.mutable_bind()->set_token(testing::token("app1", "dave", "phone"));
  dave.send(bind);
  expectFrame(dave, client::Frame::kBindResult);
  client::Frame push = expectFrame(dave, client::Frame::kPush);
  EXPECT_EQ(push.push().message_id(), 79u);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s) << "the replay waited for its timeout";
}

TEST_F(RoomRegisterTest, StopTellsRegisterEverySessionLeftBeforeItIsDone) {
  // Without this, register routes pushes to a stopped room until its room timeout.
  startRoom(withRegister());
  authed("app1", "alice", "phone");
  authed("app1", "bob", "phone");
  ASSERT_TRUE(loop_.runUntil([&] { return service_->table().sessionCount() == 2; }, 5s));
  bool stopped = false;
  room_->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
  EXPECT_EQ(service_->table().sessionCount(), 0u)
      << "the room's last Offline batch did not reach register before stop() completed";
  room_.reset();
}

}  // namespace
}  // namespace push::room
