// RoomServer with a real RegisterService (in-process, on the test's loop, over real RPC):
// what register learns from the room, and when.
#include <gtest/gtest.h>

#include <memory>

#include "common/rpc/server.h"
#include "services/register/register_service.h"
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
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  RoomOptions withRegister() {
    RoomOptions o = defaultOptions();
    reg::RegisterClient::Options rc;
    rc.shards.push_back({server_->address().toString(), reg::SlotSet::all()});
    o.register_client = rc;
    return o;
  }

  std::unique_ptr<reg::RegisterService> service_;
  rpc::ServerPtr server_;
};

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
