// RoomServer with a coordinator configured, against a real CoordinatorServer and a test webhook
// (an http::HttpServer standing in for the app's server), all on the test's loop: a client's
// Upstream reaches the webhook and the webhook's answer comes back as the UpstreamAck's reply;
// a failing, refusing or slow webhook and a coordinator that is down each give the client a
// clear code in bounded time; sessions opening and closing reach the app's events URL.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "services/coordinator/coordinator_server.h"
#include "services/room/upstream_forwarder.h"
#include "tests/unit/coordinator/test_webhook.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using coord::testing::TestWebhook;
using testing::FrameSocket;

class RoomUpstreamTest : public testing::RoomFixture {
 protected:
  void SetUp() override { webhook_ = std::make_unique<TestWebhook>(loop_); }

  void TearDown() override {
    clients_.clear();
    if (room_) {  // the room first: it talks to the coordinator until it has stopped
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
      room_.reset();
    }
    stopCoordinator();
    webhook_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void startCoordinator(const std::string& path, uint32_t max_concurrency = 32) {
    coord::CoordinatorOptions o;
    o.retry.max_attempts = 3;
    o.retry.min_backoff = 10ms;
    o.retry.max_backoff = 20ms;
    o.retry.deadline = 3s;
    o.event_batch_interval = 10ms;
    o.shutdown_grace = 100ms;
    coord::AppSettings a;
    a.name = "app1";
    a.upstream_url = webhook_->url(path);
    a.events_url = webhook_->url("/events");
    a.max_concurrency = max_concurrency;
    a.max_queued = 0;
    o.apps.push_back(a);
    auto c = coord::CoordinatorServer::create(loop_, std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status();
    coordinator_ = std::move(c).value();
    ASSERT_TRUE(coordinator_->start().isOk());
  }

  void stopCoordinator() {
    if (!coordinator_) return;
    bool down = false;
    coordinator_->stop([&] { down = true; });
    EXPECT_TRUE(loop_.runUntil([&] { return down; }, 5s));
    coordinator_.reset();
  }

  RoomOptions withCoordinator(const std::string& address) {
    RoomOptions o = defaultOptions();
    RoomOptions::Coordinator k;
    k.addresses = {address};
    k.channel.reconnect_min = 10ms;
    k.channel.reconnect_max = 100ms;
    k.channel.connect_timeout = 200ms;
    k.timeout = 1500ms;
    k.batch_interval = 2ms;
    k.max_pending_per_connection = 2;
    o.coordinator = k;
    return o;
  }

  static client::Frame upstream(uint64_t seq, const std::string& payload,
                                const std::string& app = "") {
    client::Frame f;
    f.mutable_upstream()->set_seq(seq);
    f.mutable_upstream()->set_app(app);
    f.mutable_upstream()->set_payload(payload);
    return f;
  }

  // Events bodies received so far, concatenated.
  std::string eventBodies() const {
    std::string all;
    for (const auto& r : webhook_->requests())
      if (r.path == "/events") all += r.body;
    return all;
  }

  std::unique_ptr<TestWebhook> webhook_;
  std::unique_ptr<coord::CoordinatorServer> coordinator_;
};

TEST_F(RoomUpstreamTest, UpstreamReachesTheWebhookAndItsAnswerReachesTheClient) {
  startCoordinator("/ok");
  startRoom(withCoordinator(coordinator_->address().toString()));
  FrameSocket& c = authed("app1", "alice", "phone");
  c.send(upstream(7, "hi there"));
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().seq(), 7u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_NONE) << ack.upstream_ack().message();
  ASSERT_EQ(webhook_->count("/ok"), 1u);
  const TestWebhook::Request* hook = nullptr;
  for (const auto& r : webhook_->requests())
    if (r.path == "/ok") hook = &r;
  ASSERT_NE(hook, nullptr);
  EXPECT_EQ(ack.upstream_ack().reply(), "reply-to:" + hook->request_id);
  EXPECT_NE(hook->body.find(R"("user":"alice","device":"phone","room":")" + room_->roomId()),
            std::string::npos)
      << hook->body;
  EXPECT_NE(hook->body.find(R"("seq":7)"), std::string::npos);
  EXPECT_NE(hook->body.find(R"("payload":"aGkgdGhlcmU=")"), std::string::npos) << hook->body;
  EXPECT_EQ(room_->upstreamForwarder()->stats().pending, 0u);
}

TEST_F(RoomUpstreamTest, AWebhookThatFailsIsRetriedThenTheClientGetsUnavailable) {
  startCoordinator("/down");
  startRoom(withCoordinator(coordinator_->address().toString()));
  FrameSocket& c = authed("app1", "alice", "phone");
  c.send(upstream(1, "x"));
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().seq(), 1u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(ack.upstream_ack().message().find("HTTP 503 after 3 attempts"), std::string::npos)
      << ack.upstream_ack().message();
  EXPECT_EQ(webhook_->count("/down"), 3u);
}

TEST_F(RoomUpstreamTest, AWebhookThatRefusesIsNotRetried) {
  startCoordinator("/bad");
  startRoom(withCoordinator(coordinator_->address().toString()));
  FrameSocket& c = authed("app1", "alice", "phone");
  c.send(upstream(1, "x"));
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_FORBIDDEN);
  EXPECT_NE(ack.upstream_ack().message().find("HTTP 400"), std::string::npos);
  EXPECT_EQ(webhook_->count("/bad"), 1u);
}

TEST_F(RoomUpstreamTest, ASlowWebhookOverTheAppsCapMakesTheClientBusy) {
  startCoordinator("/slow", /*max_concurrency=*/1);
  startRoom(withCoordinator(coordinator_->address().toString()));
  FrameSocket& a = authed("app1", "alice", "phone");
  FrameSocket& b = authed("app1", "bob", "phone");
  a.send(upstream(1, "x"));
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->held() == 1; }, 5s, testing::kPoll));
  b.send(upstream(2, "y"));
  client::Frame busy = expectFrame(b, client::Frame::kUpstreamAck);
  EXPECT_EQ(busy.upstream_ack().seq(), 2u);
  EXPECT_EQ(busy.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(busy.upstream_ack().message().find("app busy"), std::string::npos);
  webhook_->releaseSlow();
  client::Frame late = expectFrame(a, client::Frame::kUpstreamAck);
  EXPECT_EQ(late.upstream_ack().code(), client::ERROR_NONE);
  EXPECT_EQ(late.upstream_ack().reply(), "late");
}

TEST_F(RoomUpstreamTest, OverThePerConnectionCapTheRoomAnswersAtOnce) {
  startCoordinator("/slow");
  startRoom(withCoordinator(coordinator_->address().toString()));  // 2 per connection
  FrameSocket& c = authed("app1", "alice", "phone");
  c.send(upstream(1, "a"));
  c.send(upstream(2, "b"));
  c.send(upstream(3, "c"));
  client::Frame refused = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(refused.upstream_ack().seq(), 3u);
  EXPECT_EQ(refused.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(refused.upstream_ack().message().find("this connection"), std::string::npos);
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->held() == 2; }, 5s, testing::kPoll));
  webhook_->releaseSlow();
  EXPECT_EQ(expectFrame(c, client::Frame::kUpstreamAck).upstream_ack().code(), client::ERROR_NONE);
  EXPECT_EQ(expectFrame(c, client::Frame::kUpstreamAck).upstream_ack().code(), client::ERROR_NONE);
  EXPECT_EQ(room_->upstreamForwarder()->stats().refused, 1u);
}

TEST_F(RoomUpstreamTest, OnlineAndOfflineCallbacksArriveWithTheUserAndDevice) {
  startCoordinator("/ok");
  startRoom(withCoordinator(coordinator_->address().toString()));
  FrameSocket& c = authed("app1", "alice", "phone");
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return eventBodies().find(
                   R"("event":"online","app":"app1","user":"alice","device":"phone")") !=
               std::string::npos;
      },
      5s, testing::kPoll))
      << eventBodies();
  EXPECT_NE(eventBodies().find(R"("room":")" + room_->roomId()), std::string::npos);
  c.close();
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return eventBodies().find(
                   R"("event":"offline","app":"app1","user":"alice","device":"phone")") !=
               std::string::npos;
      },
      5s, testing::kPoll))
      << eventBodies();
}

TEST_F(RoomUpstreamTest, ACoordinatorThatIsDownGivesUnavailableInBoundedTime) {
  startCoordinator("/ok");
  const std::string address = coordinator_->address().toString();
  stopCoordinator();  // nothing listens there now
  startRoom(withCoordinator(address));
  FrameSocket& c = authed("app1", "alice", "phone");
  const auto t0 = std::chrono::steady_clock::now();
  c.send(upstream(4, "x"));
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);  // the call's timeout is 1.5 s
  EXPECT_EQ(ack.upstream_ack().seq(), 4u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(ack.upstream_ack().message().find("coordinator unavailable"), std::string::npos)
      << ack.upstream_ack().message();
  // The client path is not held: a Ping is still answered.
  roundTrip(c);
}

TEST_F(RoomUpstreamTest, WithoutACoordinatorUpstreamIsNotEnabled) {
  startRoom();
  FrameSocket& c = authed("app1", "alice", "phone");
  c.send(upstream(1, "x"));
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(ack.upstream_ack().message().find("not enabled"), std::string::npos);
  c.send(upstream(2, "x", "app2"));  // not bound
  EXPECT_EQ(expectFrame(c, client::Frame::kUpstreamAck).upstream_ack().code(),
            client::ERROR_NOT_BOUND);
}

}  // namespace
}  // namespace push::room
