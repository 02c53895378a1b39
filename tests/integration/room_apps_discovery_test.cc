// A room without static apps takes them from a real ZooKeeper (apps/<app>) and follows them
// live, without a restart (issue 17): an app written after the room started authenticates
// within 2 s; a secret rotation (k1, then k1 + k2, then k2) keeps old tokens working until their
// secret is removed; a secret past its not_after_ms is refused; a deleted app is refused and its
// connections are closed; a malformed record keeps the previous one. The room is an in-process
// RoomServer on the test's loop (room_test_util.h's client); ZooKeeper is the run's shared
// server (tests/unit/discovery/zk_fixture.h), one root per test.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/discovery/app_record.h"
#include "proto/config.pb.h"
#include "services/room/room_options.h"
#include "services/room/room_server.h"
#include "tests/unit/discovery/zk_fixture.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;
using discovery::ZkClient;
using testing::FrameSocket;

const std::string kK1 = "k1-secret-0123456789abcdef";
const std::string kK2 = "k2-secret-0123456789abcdef";

std::string record(std::vector<discovery::AppSecret> secrets) {
  discovery::AppRecord r;
  r.secrets = std::move(secrets);
  return discovery::encodeAppRecord(r);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RoomAppsDiscoveryTest : public discovery::ZkTest {
 protected:
  void startRoom() {
    RoomOptions o;
    o.name = "apps-test";
    o.tcp_address = "127.0.0.1:0";
    o.rpc.address = "127.0.0.1:0";
    o.discovery.zk = options();  // this test's root; no static apps
    auto room = RoomServer::create(loop_, std::move(o));
    ASSERT_TRUE(room.isOk()) << room.status().toString();
    room_ = std::move(*room);
    Status st = room_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
    makeWriter();
  }
  void makeWriter() {
    if (!writer_) writer_ = connectedClient();  // an operator's session (pushctl)
    ASSERT_TRUE(writer_);
  }

  void destroyAll() override {
    clients_.clear();
    if (room_) {
      bool stopped = false;
      room_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
      room_.reset();
    }
    writer_.reset();
  }

  Status put(const std::string& app, const std::string& data) {
    Status st = wait([&](auto done) { writer_->set("/apps/" + app, data, -1, done); });
    if (st.code() != Code::NOT_FOUND) return st;
    return wait([&](auto done) {
      writer_->createRecursive("/apps/" + app, data, ZkClient::CreateMode::Persistent, done);
    });
  }
  Status remove(const std::string& app) {
    return wait([&](auto done) { writer_->remove("/apps/" + app, -1, done); });
  }

  FrameSocket& connect() {
    clients_.push_back(std::make_unique<FrameSocket>(room_->tcpAddress()));
    return *clients_.back();
  }
  // The next frame from `c` (a default Frame on timeout).
  client::Frame next(FrameSocket& c) {
    if (!loop_.runUntil([&] { return c.hasFrame(); }, 5s, testing::kPoll)) {
      ADD_FAILURE() << "no frame from the room";
      return client::Frame();
    }
    return c.pop();
  }

  // Authenticates a new connection with a token for `app` signed with `secret`: ERROR_NONE
  // and the connection when the room took it, else the Error frame's code.
  client::ErrorCode auth(const std::string& app, const std::string& secret,
                         FrameSocket** out = nullptr) {
    FrameSocket& c = connect();
    client::Frame f;
    f.mutable_auth()->set_token(auth::mintToken(
        secret,
        auth::TokenClaims{app, "u" + std::to_string(++users_), "phone", std::time(nullptr) + 600}));
    c.send(f);
    client::Frame reply = next(c);
    if (reply.has_auth_result()) {
      if (out) *out = &c;
      return client::ERROR_NONE;
    }
    EXPECT_TRUE(reply.has_error()) << reply.ShortDebugString();
    return reply.has_error() ? reply.error().code()
                             : client::ERROR_BAD_FRAME;  // none: failed above
  }

  // Tries auth every 20 ms until it answers `want` or `within` passed.
  bool authBecomes(const std::string& app, const std::string& secret, client::ErrorCode want,
                   std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      if (auth(app, secret) == want) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop_.runUntil([] { return false; }, 20ms);
    }
  }

  // discovery.apps.rejected in the room's /status ({"known":..,"updates":..,"rejected":N}).
  uint64_t rejectedRecords() {
    const std::string status = room_->statusJson();
    const size_t apps = status.find(R"("apps":{"known":)");
    if (apps == std::string::npos) return 0;
    const std::string key = R"("rejected":)";
    const size_t at = status.find(key, apps);
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + key.size(), nullptr, 10);
  }

  // Sends Ping: true when the Pong comes back (the connection is alive and served).
  bool alive(FrameSocket& c) {
    client::Frame ping;
    ping.mutable_ping();
    c.send(ping);
    return next(c).has_pong();
  }

  std::unique_ptr<RoomServer> room_;
  std::unique_ptr<ZkClient> writer_;
  std::vector<std::unique_ptr<FrameSocket>> clients_;
  // A new user per connection: the room's per-user and per-device caps would otherwise kick
  // the older connections the tests keep.
  int users_ = 0;
};

TEST_F(RoomAppsDiscoveryTest, AnAppWrittenAfterStartAuthenticatesWithinTwoSeconds) {
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(auth("chat", kK1), client::ERROR_UNKNOWN_APP);
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  const auto written = std::chrono::steady_clock::now();
  EXPECT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - written, 2s);
  const std::string status = room_->statusJson();
  EXPECT_NE(status.find(R"("apps":{"source":"zookeeper","served":1)"), std::string::npos) << status;
}

TEST_F(RoomAppsDiscoveryTest, AuthBeforeTheFirstListWaitsForIt) {
  makeWriter();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  // Sent before the room's session could have read apps/: held, then answered with the list.
  EXPECT_EQ(auth("chat", kK1), client::ERROR_NONE);
  EXPECT_EQ(auth("news", kK1), client::ERROR_UNKNOWN_APP);
}

TEST_F(RoomAppsDiscoveryTest, SecretRotationAppliesLiveAndOldTokensWorkUntilTheirSecretGoes) {
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE));
  FrameSocket* before = nullptr;  // authenticated with k1 before the rotation
  ASSERT_EQ(auth("chat", kK1, &before), client::ERROR_NONE);
  EXPECT_EQ(auth("chat", kK2), client::ERROR_BAD_TOKEN);

  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}, {"k2", kK2, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK2, client::ERROR_NONE));
  EXPECT_EQ(auth("chat", kK1), client::ERROR_NONE);  // both during the rotation

  ASSERT_TRUE(put("chat", record({{"k2", kK2, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK1, client::ERROR_BAD_TOKEN));
  EXPECT_EQ(auth("chat", kK2), client::ERROR_NONE);
  // An authenticated connection stays: the secret is checked at Auth and Bind only.
  EXPECT_TRUE(alive(*before));
}

TEST_F(RoomAppsDiscoveryTest, ASecretPastItsNotAfterIsRefused) {
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(put("chat", record({{"k1", kK1, nowMs() - 1000}, {"k2", kK2, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK2, client::ERROR_NONE));
  EXPECT_EQ(auth("chat", kK1), client::ERROR_BAD_TOKEN);
  // One that ends soon works until then (the room reads the clock at each check).
  ASSERT_TRUE(put("chat", record({{"k1", kK1, nowMs() + 60'000}})).isOk());
  EXPECT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE));
}

TEST_F(RoomAppsDiscoveryTest, ADeletedAppIsRefusedAndItsConnectionsClosed) {
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  ASSERT_TRUE(put("news", record({{"k1", kK2, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE));
  ASSERT_TRUE(authBecomes("news", kK2, client::ERROR_NONE));
  FrameSocket* chat = nullptr;
  FrameSocket* news = nullptr;
  ASSERT_EQ(auth("chat", kK1, &chat), client::ERROR_NONE);
  ASSERT_EQ(auth("news", kK2, &news), client::ERROR_NONE);

  ASSERT_TRUE(remove("chat").isOk());
  client::Frame f = next(*chat);
  ASSERT_TRUE(f.has_error()) << f.ShortDebugString();
  EXPECT_EQ(f.error().code(), client::ERROR_UNKNOWN_APP);
  EXPECT_TRUE(loop_.runUntil([&] { return chat->closed(); }, 10s, testing::kPoll));
  EXPECT_EQ(auth("chat", kK1), client::ERROR_UNKNOWN_APP);
  EXPECT_TRUE(alive(*news));  // the other app's connections stay

  // Back again: served again (with its old number).
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  EXPECT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE));
}

TEST_F(RoomAppsDiscoveryTest, AMalformedRecordKeepsThePreviousOne) {
  startRoom();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(put("chat", record({{"k1", kK1, 0}})).isOk());
  ASSERT_TRUE(authBecomes("chat", kK1, client::ERROR_NONE));
  ASSERT_TRUE(put("chat", "{\"secrets\":[{\"id\":\"k2\",\"secret\":\"short\"}]}").isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return rejectedRecords() == 1; }, 5s));
  EXPECT_EQ(auth("chat", kK1), client::ERROR_NONE);
  EXPECT_EQ(auth("chat", "short"), client::ERROR_BAD_TOKEN);
}

// The rule for every service: no static apps needs discovery.
TEST(RoomAppsOptionsTest, NoStaticAppsNeedsDiscovery) {
  config::RoomConfig c;
  auto refused = RoomOptions::fromConfig(c, nullptr);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("list apps, or configure discovery.zookeeper"),
            std::string::npos)
      << refused.status().toString();
  c.mutable_discovery()->set_zookeeper("127.0.0.1:2181");
  auto taken = RoomOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(taken.isOk()) << taken.status().toString();
  EXPECT_TRUE(taken->apps.empty());
  net::EventLoop loop;
  EXPECT_TRUE(RoomServer::create(loop, *taken).isOk());
  RoomOptions none;
  EXPECT_EQ(RoomServer::create(loop, none).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::room
