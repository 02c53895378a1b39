// The SDK against the real services, in one process: a DispatcherServer (static room list), a
// RoomServer with a CoordinatorServer behind it, and a test webhook for the app, all on the
// test's loop; the SDK client on its own thread. The client connects through the dispatcher's
// route and moves past an unreachable first entry; a network change asks the dispatcher
// again; a dispatcher that is down leaves the configured servers; an upstream of type "chat"
// reaches the app's webhook for that type and the webhook's answer reaches the SDK callback.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sdk/client.h"
#include "services/coordinator/coordinator_server.h"
#include "services/dispatcher/dispatcher_server.h"
#include "services/dispatcher/route_query.h"
#include "tests/unit/coordinator/test_webhook.h"
#include "tests/unit/room/room_test_util.h"
#include "tests/unit/sdk/sdk_test_util.h"

namespace push {
namespace {

using namespace std::chrono_literals;
using coord::testing::TestWebhook;
using sdk::Client;
using sdk::ClientOptions;
using sdk::Network;
using sdk::State;
using sdk::testing::deadAddress;
using sdk::testing::Recorder;

class SdkRouteE2eTest : public room::testing::RoomFixture {
 protected:
  void SetUp() override {
    webhook_ = std::make_unique<TestWebhook>(loop_);
    dead_ = deadAddress();
    startCoordinator();
    room::RoomOptions o = defaultOptions();
    room::RoomOptions::Coordinator k;
    k.addresses = {coordinator_->address().toString()};
    k.batch_interval = 2ms;
    o.coordinator = k;
    startRoom(std::move(o));
    room_address_ = room_->tcpAddress().toString();
  }

  void TearDown() override {
    closeClient();
    if (dispatcher_) dispatcher_->stop();
    dispatcher_.reset();
    if (room_) {  // the room before the coordinator it talks to
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
      room_.reset();
    }
    if (coordinator_) {
      bool down = false;
      coordinator_->stop([&] { down = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return down; }, 5s));
      coordinator_.reset();
    }
    webhook_.reset();
    RoomFixture::TearDown();
  }

  void startCoordinator() {
    coord::CoordinatorOptions o;
    o.retry.max_attempts = 2;
    o.retry.min_backoff = 10ms;
    o.retry.max_backoff = 20ms;
    o.retry.deadline = 3s;
    o.shutdown_grace = 100ms;
    coord::AppSettings a;
    a.name = "app1";
    a.upstream_urls["chat"] = webhook_->url("/ok");  // no default webhook: only "chat" goes
    a.max_concurrency = 8;
    o.apps.push_back(a);
    auto c = coord::CoordinatorServer::create(loop_, std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status();
    coordinator_ = std::move(c).value();
    ASSERT_TRUE(coordinator_->start().isOk());
  }

  // The room as the dispatcher lists it: an unreachable endpoint and the real one.
  void startDispatcher() {
    discovery::ServiceInstance in;
    in.id = room_->roomId();
    in.region = "east";
    in.endpoints["tcp"] = dead_;
    in.endpoints["tcp.1"] = room_address_;
    dispatcher::DispatcherOptions o;
    o.static_rooms = {in};
    o.http.address = "127.0.0.1:0";
    auto d = dispatcher::DispatcherServer::create(loop_, std::move(o));
    ASSERT_TRUE(d.isOk()) << d.status();
    dispatcher_ = std::move(d).value();
    ASSERT_TRUE(dispatcher_->start().isOk());
  }

  // A user whose route starts with the unreachable endpoint (the rotation within a room is a
  // hash of the user: try users until one starts there).
  std::string userStartingOnTheDeadEndpoint() {
    for (int i = 0; i < 200; ++i) {
      const std::string user = "user" + std::to_string(i);
      dispatcher::RouteQuery q;
      q.app = "app1";
      q.user = user;
      q.net = dispatcher::Network::Wifi;
      std::string body;
      if (dispatcher_->answer(q, &body) != 200) continue;
      if (body.find("\"tcp\":[\"" + dead_ + "\"") != std::string::npos) return user;
    }
    ADD_FAILURE() << "no user routed to the dead endpoint first";
    return "user0";
  }

  uint64_t dispatcherRequests() {
    const std::string status = dispatcher_->statusJson();
    const size_t at = status.find("\"requests\":");
    if (at == std::string::npos) return 0;
    return std::stoull(status.substr(at + 11));
  }

  ClientOptions options(const std::string& user) {
    ClientOptions o;
    o.token = room::testing::token("app1", user, "phone");
    o.network = Network::Wifi;
    o.connect_timeout = 2s;
    o.backoff_initial = 10ms;
    o.backoff_max = 100ms;
    if (dispatcher_) o.dispatcher = "http://" + dispatcher_->address().toString();
    return o;
  }

  void startClient(ClientOptions o) {
    auto c = Client::create(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status();
    client_ = std::move(c).value();
    ASSERT_TRUE(client_->setCallbacks(rec_.callbacks()).isOk());
    ASSERT_TRUE(client_->connect().isOk());
  }

  bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    return loop_.runUntil(done, timeout, 5ms);
  }
  size_t onlineCount() const { return rec_.stateCount(State::Online); }

  // close() waits for the room to answer the graceful close: this thread drives the loop.
  void closeClient() {
    if (!client_) return;
    std::atomic<bool> done{false};
    std::thread closer([&] {
      client_->close();
      done = true;
    });
    EXPECT_TRUE(until([&] { return done.load(); }));
    closer.join();
    client_.reset();
  }

  std::unique_ptr<TestWebhook> webhook_;
  std::unique_ptr<coord::CoordinatorServer> coordinator_;
  std::unique_ptr<dispatcher::DispatcherServer> dispatcher_;
  std::string dead_;
  std::string room_address_;
  Recorder rec_;
  std::unique_ptr<Client> client_;
};

TEST_F(SdkRouteE2eTest, ConnectsThroughTheDispatcherPastAnUnreachableFirstEntry) {
  startDispatcher();
  const std::string user = userStartingOnTheDeadEndpoint();
  startClient(options(user));  // no servers list: the dispatcher is the only way
  ASSERT_TRUE(until([&] { return onlineCount() == 1; }));
  EXPECT_EQ(dispatcherRequests(), 1u);
  std::vector<std::string> tried;
  for (const auto& [state, detail] : rec_.states())
    if (state == State::Connecting && detail.rfind("server=", 0) == 0) tried.push_back(detail);
  ASSERT_EQ(tried.size(), 2u);
  EXPECT_EQ(tried[0], "server=" + dead_);
  EXPECT_EQ(tried[1], "server=" + room_address_);
  EXPECT_EQ(room_->connectionCount(), 1u);
}

TEST_F(SdkRouteE2eTest, ANetworkChangeAsksTheDispatcherAgain) {
  startDispatcher();
  startClient(options("alice"));
  ASSERT_TRUE(until([&] { return onlineCount() == 1; }));
  EXPECT_EQ(dispatcherRequests(), 1u);
  ASSERT_TRUE(client_->setNetworkType(Network::Cellular).isOk());
  ASSERT_TRUE(until([&] { return onlineCount() == 2; }));
  EXPECT_EQ(dispatcherRequests(), 2u);
  // The old connection closes once the new one is online.
  EXPECT_TRUE(until([&] { return room_->connectionCount() == 1; }));
}

TEST_F(SdkRouteE2eTest, TheDispatcherDownLeavesTheConfiguredServers) {
  ClientOptions o = options("alice");
  o.dispatcher = "http://" + deadAddress();
  o.servers = {room_address_};
  startClient(o);
  ASSERT_TRUE(until([&] { return onlineCount() == 1; }));
  EXPECT_EQ(rec_.errorCount(sdk::kErrorConnectFailed), 1u);  // the dispatcher, reported once
}

TEST_F(SdkRouteE2eTest, AChatUpstreamReachesItsWebhookAndTheReplyReachesTheCallback) {
  ClientOptions o = options("alice");
  o.servers = {room_address_};
  startClient(o);
  ASSERT_TRUE(until([&] { return onlineCount() == 1; }));
  auto chat = client_->sendUpstream("", "hello", "chat");
  ASSERT_TRUE(chat.isOk());
  auto untyped = client_->sendUpstream("", "no type");
  ASSERT_TRUE(untyped.isOk());
  ASSERT_TRUE(until([&] { return rec_.upstreamAcks().size() == 2; }));
  ASSERT_EQ(webhook_->count("/ok"), 1u);
  for (const auto& ack : rec_.upstreamAcks()) {
    if (ack.seq == *chat) {
      EXPECT_EQ(ack.code, 0) << ack.message;
      EXPECT_EQ(ack.reply, "reply-to:" + webhook_->requests()[0].request_id);
    } else {
      EXPECT_EQ(ack.seq, *untyped);
      EXPECT_EQ(ack.code, static_cast<int>(client::ERROR_UNKNOWN_APP)) << ack.message;
      EXPECT_TRUE(ack.reply.empty());
    }
  }
  EXPECT_NE(webhook_->requests()[0].body.find(R"("type":"chat")"), std::string::npos)
      << webhook_->requests()[0].body;
}

TEST_F(SdkRouteE2eTest, TheRoomRefusesABadUpstreamType) {
  room::testing::FrameSocket& c = authed("app1", "bob", "phone");
  client::Frame f;
  f.mutable_upstream()->set_seq(3);
  f.mutable_upstream()->set_type("no spaces");
  f.mutable_upstream()->set_payload("x");
  c.send(f);
  client::Frame ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().seq(), 3u);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_BAD_FRAME);
  f.mutable_upstream()->set_seq(4);
  f.mutable_upstream()->set_type(std::string(65, 'a'));
  c.send(f);
  ack = expectFrame(c, client::Frame::kUpstreamAck);
  EXPECT_EQ(ack.upstream_ack().code(), client::ERROR_BAD_FRAME);
  EXPECT_EQ(webhook_->requests().size(), 0u);
}

}  // namespace
}  // namespace push
