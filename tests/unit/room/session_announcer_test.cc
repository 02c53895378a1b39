// SessionAnnouncer against real RegisterService shards on 127.0.0.1 (behind a wrapper that
// records each RoomHeartbeat's resync flag and can fail heartbeats): which failures make the
// room ask register to pull its sessions again.
#include "services/room/session_announcer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "services/register/register_service.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
namespace pb = google::protobuf;

class RecordingRegister final : public reg::Register {
 public:
  explicit RecordingRegister(reg::Register& inner) : inner_(inner) {}
  std::vector<bool> resyncs;  // of every heartbeat received, failed ones too
  int fail_heartbeats = 0;    // the next this many fail with UNAVAILABLE

  void RoomHeartbeat(pb::RpcController* c, const reg::RoomHeartbeatRequest* req,
                     reg::RoomHeartbeatResponse* resp, pb::Closure* done) override {
    resyncs.push_back(req->resync());
    if (fail_heartbeats > 0) {
      --fail_heartbeats;
      static_cast<rpc::Controller*>(c)->setStatus(unavailable("test: failing"));
      done->Run();
      return;
    }
    inner_.RoomHeartbeat(c, req, resp, done);
  }
  void Online(pb::RpcController* c, const reg::OnlineRequest* req, reg::OnlineResponse* resp,
              pb::Closure* done) override {
    inner_.Online(c, req, resp, done);
  }
  void Offline(pb::RpcController* c, const reg::OfflineRequest* req, reg::OfflineResponse* resp,
               pb::Closure* done) override {
    inner_.Offline(c, req, resp, done);
  }
  void Lookup(pb::RpcController* c, const reg::LookupRequest* req, reg::LookupResponse* resp,
              pb::Closure* done) override {
    inner_.Lookup(c, req, resp, done);
  }

 private:
  reg::Register& inner_;
};

class SessionAnnouncerTest : public ::testing::Test {
 protected:
  struct Shard {
    std::unique_ptr<reg::RegisterService> service;
    std::unique_ptr<RecordingRegister> recording;
    rpc::ServerPtr server;  // closed before the service it serves
    std::string address;
  };

  void SetUp() override {
    for (Shard& s : shards_) {
      reg::RegisterService::Options options;
      options.slots = reg::SlotSet::all();
      s.service = std::make_unique<reg::RegisterService>(loop_, options);
      s.recording = std::make_unique<RecordingRegister>(*s.service);
      s.server = rpc::Server::create(loop_, {});
      ASSERT_TRUE(s.server->addService(s.recording.get()).isOk());
      ASSERT_TRUE(s.server->start().isOk());
      s.address = s.server->address().toString();
    }
    SessionAnnouncer::Options options;
    options.register_client.shards = {{shards_[0].address, reg::SlotSet::all()}};
    options.heartbeat = std::chrono::hours(1);  // only the heartbeats the test sends
    options.room_id = "room-1";
    options.room_address = "127.0.0.1:1";
    auto announcer = SessionAnnouncer::create(loop_, options, [] { return size_t{0}; });
    ASSERT_TRUE(announcer.isOk()) << announcer.status().toString();
    announcer_ = std::move(*announcer);
  }

  void TearDown() override {
    announcer_.reset();
    for (Shard& s : shards_) {
      s.server.reset();
      if (s.service) s.service->close();
    }
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // Sends a heartbeat and waits until every shard has answered it (or failed it).
  void heartbeat() {
    const uint64_t expected = announcer_->heartbeatReplies() + announcer_->shardCount();
    announcer_->heartbeat(loop_.nowMs());
    ASSERT_TRUE(loop_.runUntil([&] { return announcer_->heartbeatReplies() >= expected; }, 5s));
  }

  net::EventLoop loop_;
  Shard shards_[2];
  std::unique_ptr<SessionAnnouncer> announcer_;
};

// A heartbeat carries no session: when it fails, register's table is as it was, and asking
// for a full pull of the room next time would only add work to a register that is already
// late (before, every late heartbeat did).
TEST_F(SessionAnnouncerTest, AFailedHeartbeatAsksForNoResync) {
  RecordingRegister& reg = *shards_[0].recording;
  reg.fail_heartbeats = 1;
  heartbeat();  // fails
  heartbeat();
  ASSERT_EQ(reg.resyncs.size(), 2u);
  EXPECT_FALSE(reg.resyncs[0]);
  EXPECT_FALSE(reg.resyncs[1]) << "a failed heartbeat made the room ask for a full pull";
}

// A heartbeat that carried a resync (slots moved to another register) and failed asks again,
// until one gets through; then no more.
TEST_F(SessionAnnouncerTest, AResyncThatFailedIsAskedAgainUntilItGetsThrough) {
  RecordingRegister& first = *shards_[0].recording;
  RecordingRegister& second = *shards_[1].recording;
  first.fail_heartbeats = 2;
  second.fail_heartbeats = 2;
  // Slots 512-1023 move to the second register: the announcer heartbeats at once with resync.
  auto half = [](const char* text) { return *reg::SlotSet::parse(text); };
  ASSERT_TRUE(
      announcer_
          ->setShards({{shards_[0].address, half("0-511")}, {shards_[1].address, half("512-1023")}},
                      loop_.nowMs())
          .isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return announcer_->heartbeatReplies() == 2; }, 5s));
  heartbeat();  // fails again: asked again
  heartbeat();  // gets through
  heartbeat();
  ASSERT_EQ(second.resyncs.size(), 4u);
  EXPECT_TRUE(second.resyncs[0]);
  EXPECT_TRUE(second.resyncs[1]);
  EXPECT_TRUE(second.resyncs[2]);
  EXPECT_FALSE(second.resyncs[3]) << "still asking after a resync got through";
}

}  // namespace
}  // namespace push::room
