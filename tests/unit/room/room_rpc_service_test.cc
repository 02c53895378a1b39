// The Room RPC service over a real rpc::Channel to a RoomServer on the test's loop.
#include "services/room/room_rpc_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using testing::FrameSocket;
using testing::token;
using Frame = client::Frame;

class RoomRpcServiceTest : public testing::RoomFixture {
 protected:
  void startAll(RoomOptions options = defaultOptions()) {
    startRoom(std::move(options));
    auto ch = rpc::Channel::create(loop_, {});
    ASSERT_TRUE(ch.isOk());
    channel_ = std::move(ch).value();
    ASSERT_TRUE(
        channel_->setEndpoints(std::vector<std::string>{room_->rpcAddress().toString()}).isOk());
    stub_ = std::make_unique<Room_Stub>(channel_.get());
  }
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    RoomFixture::TearDown();
  }

  template <typename Req, typename Resp>
  Status call(void (Room_Stub::*method)(google::protobuf::RpcController*, const Req*, Resp*,
                                        google::protobuf::Closure*),
              const Req& request, Resp* response) {
    rpc::Controller controller;
    bool done = false;
    ((*stub_).*method)(&controller, &request, response, rpc::newCallback([&] { done = true; }));
    if (!loop_.runUntil([&] { return done; }, 5s)) return Status(Code::TIMEOUT, "no reply");
    return controller.status();
  }

  static DeliverRequest deliverRequest(const std::string& app, const std::string& user, uint64_t id,
                                       const std::string& payload) {
    DeliverRequest req;
    req.mutable_message()->set_id(id);
    req.mutable_message()->set_app(app);
    req.mutable_message()->set_payload(payload);
    req.add_targets()->set_user(user);
    return req;
  }

  rpc::ChannelPtr channel_;
  std::unique_ptr<Room_Stub> stub_;
};

TEST_F(RoomRpcServiceTest, DeliverReachesTheClient) {
  startAll();
  FrameSocket& c = authed("app1", "alice", "phone");
  DeliverResponse resp;
  ASSERT_TRUE(call(&Room_Stub::Deliver, deliverRequest("app1", "alice", 3, "rpc"), &resp).isOk());
  ASSERT_EQ(resp.connections_size(), 1);
  EXPECT_EQ(resp.connections(0), 1u);
  EXPECT_EQ(expectFrame(c, Frame::kPush).push().payload(), "rpc");
}

TEST_F(RoomRpcServiceTest, DeliverWithoutAnAppIsInvalid) {
  startAll();
  DeliverResponse resp;
  EXPECT_EQ(call(&Room_Stub::Deliver, deliverRequest("", "alice", 3, "x"), &resp).code(),
            Code::INVALID_ARGUMENT);
}

TEST_F(RoomRpcServiceTest, DeliverBatchAnswersItemByItemInOrder) {
  startAll();
  FrameSocket& alice = authed("app1", "alice", "phone");
  FrameSocket& bob = authed("app2", "bob", "phone");
  DeliverBatchRequest req;
  *req.add_items() = deliverRequest("app1", "alice", 1, "one");
  *req.add_items() = deliverRequest("app2", "nobody", 2, "two");
  *req.add_items() = deliverRequest("app2", "bob", 3, "three");
  DeliverBatchResponse resp;
  ASSERT_TRUE(call(&Room_Stub::DeliverBatch, req, &resp).isOk());
  ASSERT_EQ(resp.items_size(), 3);
  EXPECT_EQ(resp.items(0).connections(0), 1u);
  EXPECT_EQ(resp.items(1).connections(0), 0u);
  EXPECT_EQ(resp.items(2).connections(0), 1u);
  EXPECT_EQ(expectFrame(alice, Frame::kPush).push().payload(), "one");
  EXPECT_EQ(expectFrame(bob, Frame::kPush).push().payload(), "three");
}

TEST_F(RoomRpcServiceTest, DeliverBatchWithABadItemDeliversNothing) {
  startAll();
  FrameSocket& alice = authed("app1", "alice", "phone");
  DeliverBatchRequest req;
  *req.add_items() = deliverRequest("app1", "alice", 1, "one");
  *req.add_items() = deliverRequest("", "alice", 2, "two");
  DeliverBatchResponse resp;
  EXPECT_EQ(call(&Room_Stub::DeliverBatch, req, &resp).code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(roundTrip(alice).empty());  // not even the valid first item
}

TEST_F(RoomRpcServiceTest, KickNeedsAppAndUser) {
  startAll();
  FrameSocket& alice = authed("app1", "alice", "phone");
  KickRequest req;
  req.set_app("app1");
  KickResponse resp;
  EXPECT_EQ(call(&Room_Stub::Kick, req, &resp).code(), Code::INVALID_ARGUMENT);
  req.set_user("alice");
  req.set_reason("rpc kick");
  ASSERT_TRUE(call(&Room_Stub::Kick, req, &resp).isOk());
  EXPECT_EQ(resp.kicked(), 1u);
  EXPECT_EQ(expectFrame(alice, Frame::kKick).kick().reason(), "rpc kick");
  EXPECT_TRUE(waitClosed(alice));
}

TEST_F(RoomRpcServiceTest, KickReasonIsBounded) {
  // The reason is shown to the user: a caller cannot make the room write kilobytes of it.
  startAll();
  FrameSocket& alice = authed("app1", "alice", "phone");
  KickRequest req;
  req.set_app("app1");
  req.set_user("alice");
  req.set_reason(std::string(RoomRpcService::kMaxKickReasonBytes + 1, 'x'));
  KickResponse resp;
  Status st = call(&Room_Stub::Kick, req, &resp);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT) << st.toString();
  EXPECT_NE(st.message().find("256"), std::string::npos) << st.message();
  EXPECT_TRUE(roundTrip(alice).empty());  // not kicked
  req.set_reason(std::string(RoomRpcService::kMaxKickReasonBytes, 'x'));
  ASSERT_TRUE(call(&Room_Stub::Kick, req, &resp).isOk());
  EXPECT_EQ(expectFrame(alice, Frame::kKick).kick().reason().size(), 256u);
}

TEST_F(RoomRpcServiceTest, ListSessionsRefusesSlotsOutOfRange) {
  startAll();
  authed("app1", "alice", "phone");
  ListSessionsRequest req;
  ListSessionsResponse resp;
  ASSERT_TRUE(call(&Room_Stub::ListSessions, req, &resp).isOk());
  ASSERT_EQ(resp.sessions_size(), 1);
  EXPECT_EQ(resp.sessions(0).user(), "alice");
  EXPECT_TRUE(resp.done());
  req.add_slots(5000);
  resp.Clear();
  EXPECT_EQ(call(&Room_Stub::ListSessions, req, &resp).code(), Code::INVALID_ARGUMENT);
}

TEST_F(RoomRpcServiceTest, DrainUsesTheRoomDefaultsAndRunsOnDrained) {
  startAll();
  FrameSocket& alice = authed("app1", "alice", "phone");
  FrameSocket& bob = authed("app1", "bob", "phone");
  auto drained = std::make_shared<bool>(false);  // outlives a failed test: the room posts it
  room_->setOnDrained([drained] { *drained = true; });
  DrainRequest req;
  req.set_window_ms(2000);
  DrainResponse resp;
  ASSERT_TRUE(call(&Room_Stub::Drain, req, &resp).isOk());
  EXPECT_EQ(resp.sessions(), 2u);
  EXPECT_TRUE(room_->draining());
  uint32_t max_delay = 0;
  for (FrameSocket* c : {&alice, &bob}) {
    max_delay = std::max(max_delay, expectFrame(*c, Frame::kReconnect).reconnect().delay_ms());
  }
  EXPECT_EQ(max_delay, 1000u);  // two clients over 2 s: 0 and 1000
  alice.close();
  bob.close();
  ASSERT_TRUE(loop_.runUntil([&] { return *drained; }, 5s));
}

}  // namespace
}  // namespace push::room
