// Broadcast end to end with real processes: push-queued, and two LocalClusters sharing it —
// A with register, center and a room of two workers, B with register and a room of two
// workers (no center). POST /v1/broadcast on A's center goes to queued topic bcast.<app>; every
// room instance (four) consumes it on its own channel and writes it to its connections of
// that app. Raw frame clients count exactly what arrives; the queued-restart case uses the
// SDK (push-cli) so that duplicates are counted at the app's callback.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proto/broadcast.pb.h"
#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/subprocess.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;
using client::Frame;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A number from a flat JSON text: the first `"key":<n>` after `after` (or from the start).
int64_t jsonNumber(const std::string& json, const std::string& key, const std::string& after = "") {
  size_t from = after.empty() ? 0 : json.find(after);
  if (from == std::string::npos) return -1;
  const std::string needle = "\"" + key + "\":";
  size_t at = json.find(needle, from);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
}

class BroadcastE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
    auto d = NsqDaemon::start("queued");
    ASSERT_TRUE(d.isOk()) << d.status().toString();
    queued_ = std::move(d).value();
  }

  LocalCluster::Options clusterOptions(bool with_center, const std::string& extra_room = "") {
    LocalCluster::Options o;
    LocalCluster::App other;
    other.name = "other";
    other.secret = "other-secret-0123456789";
    other.api_key = "other-key-0123456789abcdef";
    o.apps.push_back(other);
    o.room_workers = 2;
    o.start_center = with_center;
    o.websocket = false;
    o.room_config = "queued: \"" + queued_->tcpAddress() + "\"\n" + extra_room;
    o.center_config = "queued: \"" + queued_->tcpAddress() + "\"\n";
    return o;
  }
  std::unique_ptr<LocalCluster> startCluster(bool with_center, const std::string& extra = "") {
    auto c = LocalCluster::start(clusterOptions(with_center, extra));
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    if (!c.isOk()) return nullptr;
    auto cluster = std::move(c).value();
    // Every instance subscribed to both apps' topics before the test broadcasts.
    for (const auto& room : cluster->rooms()) {
      EXPECT_TRUE(eventually([&] {
        return jsonNumber(status(room.admin), "queued_connections", "\"broadcast\"") == 2;
      })) << status(room.admin);
    }
    return cluster;
  }

  static std::string status(const std::string& admin) {
    auto reply = httpRequest(admin, "GET", "/status");
    return reply.isOk() ? reply->body : "";
  }

  // POST /v1/broadcast on A's center; returns the message id (0 on failure).
  uint64_t broadcast(const std::string& json, int app = 0) {
    auto reply = httpRequest(
        a_->centerAddress(), "POST", "/v1/broadcast", json,
        {{"Authorization", "Bearer " + a_->apiKey(app)}, {"Content-Type", "application/json"}});
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    if (!reply.isOk()) return 0;
    EXPECT_EQ(reply->status, 200) << reply->body;
    const std::string key = "\"messageId\":\"";
    size_t at = reply->body.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(reply->body.c_str() + at + key.size(), nullptr, 10);
  }

  // An authenticated raw client of `cluster`'s room for app index `app`.
  std::unique_ptr<FrameClient> client(LocalCluster& cluster, const std::string& user, int app = 0) {
    auto c = FrameClient::connect(cluster.roomTcp());
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    if (!c.isOk()) return nullptr;
    auto auth = (*c)->auth(cluster.token(user, "phone", 3600s, app));
    EXPECT_TRUE(auth.isOk()) << auth.status().toString();
    return std::move(c).value();
  }

  // The next Push on `c` (skipping other frames), or a default Frame on timeout.
  static Frame nextPush(FrameClient& c, std::chrono::milliseconds timeout = 10s) {
    auto f = c.readUntil(Frame::kPush, timeout);
    return f.isOk() ? *f : Frame();
  }

  std::unique_ptr<NsqDaemon> queued_;
  std::unique_ptr<LocalCluster> a_, b_;
};

TEST_F(BroadcastE2eTest, ReachesEveryConnectionOfTheAppOnTwoRoomsOfTwoWorkersAndNoOtherApp) {
  a_ = startCluster(true);
  b_ = startCluster(false);
  ASSERT_TRUE(a_ && b_);
  // 16 clients per room process: SO_REUSEPORT spreads them over both workers.
  std::vector<std::unique_ptr<FrameClient>> demo, other;
  for (int i = 0; i < 16; ++i) {
    demo.push_back(client(*a_, "a" + std::to_string(i)));
    demo.push_back(client(*b_, "b" + std::to_string(i)));
  }
  for (int i = 0; i < 3; ++i) {
    other.push_back(client(*a_, "oa" + std::to_string(i), 1));
    other.push_back(client(*b_, "ob" + std::to_string(i), 1));
  }
  const uint64_t id = broadcast(R"({"app":"demo","payload":"to all of demo","qos":0})");
  ASSERT_NE(id, 0u);
  for (auto& c : demo) {
    ASSERT_TRUE(c);
    Frame f = nextPush(*c);
    EXPECT_EQ(f.push().message_id(), id);
    EXPECT_EQ(f.push().payload(), "to all of demo");
    EXPECT_NE(f.push().broadcast_seq(), 0u);
  }
  // All four instances took part: each wrote to its own connections.
  for (LocalCluster* cluster : {a_.get(), b_.get()}) {
    for (const auto& room : cluster->rooms()) {
      const std::string s = status(room.admin);
      EXPECT_GT(jsonNumber(s, "connections"), 0) << s;
      EXPECT_TRUE(eventually([&] {
        return jsonNumber(status(room.admin), "delivered", "\"broadcast\"") == 1;
      })) << status(room.admin);
    }
  }
  // The other app's clients got nothing of it: the first push they see is their own app's.
  const uint64_t other_id = broadcast(R"({"app":"other","payload":"to other"})", 1);
  for (auto& c : other)
    EXPECT_EQ(nextPush(*c).push().message_id(), other_id);
  // And demo's clients nothing of that.
  for (auto& c : demo)
    EXPECT_FALSE(c->read(200ms).isOk());
}

TEST_F(BroadcastE2eTest, ATagBroadcastReachesExactlyTheSubscribers) {
  a_ = startCluster(true);
  ASSERT_TRUE(a_);
  std::vector<std::unique_ptr<FrameClient>> subscribers, others;
  for (int i = 0; i < 6; ++i) {
    auto c = client(*a_, "u" + std::to_string(i));
    ASSERT_TRUE(c);
    if (i % 2 == 0) {
      Frame sub;
      sub.mutable_subscribe()->set_seq(1);
      sub.mutable_subscribe()->set_app("demo");
      sub.mutable_subscribe()->add_tags("news");
      ASSERT_TRUE(c->send(sub).isOk());
      auto r = c->readUntil(Frame::kSubscribeResult);
      ASSERT_TRUE(r.isOk()) << r.status().toString();
      ASSERT_EQ(r->subscribe_result().code(), client::ERROR_NONE);
      subscribers.push_back(std::move(c));
    } else {
      others.push_back(std::move(c));
    }
  }
  const uint64_t id = broadcast(R"({"app":"demo","payload":"news!","tag":"news"})");
  for (auto& c : subscribers) {
    Frame f = nextPush(*c);
    EXPECT_EQ(f.push().message_id(), id);
    EXPECT_EQ(f.push().tag(), "news");
  }
  for (auto& c : others)
    EXPECT_FALSE(c->read(300ms).isOk());
}

TEST_F(BroadcastE2eTest, ARoomThatJoinsLaterGetsLaterBroadcasts) {
  a_ = startCluster(true);
  ASSERT_TRUE(a_);
  auto early = client(*a_, "early");
  ASSERT_TRUE(early);
  const uint64_t first = broadcast(R"({"app":"demo","payload":"first"})");
  EXPECT_EQ(nextPush(*early).push().message_id(), first);

  b_ = startCluster(false);  // waits until its instances are subscribed
  ASSERT_TRUE(b_);
  auto late = client(*b_, "late");
  ASSERT_TRUE(late);
  const uint64_t second = broadcast(R"({"app":"demo","payload":"second"})");
  // The late room's client gets the second (and never saw the first: it was not there).
  Frame f = nextPush(*late);
  EXPECT_EQ(f.push().message_id(), second);
  EXPECT_EQ(f.push().payload(), "second");
  EXPECT_EQ(nextPush(*early).push().message_id(), second);
}

TEST_F(BroadcastE2eTest, QueuedRestartedMidBroadcastLosesNothingAndTheAppSeesNoDuplicate) {
  // One broadcast in flight per app and room: most of a burst waits in the room's channel in
  // queued when queued restarts.
  a_ = startCluster(true, "broadcast_max_in_flight: 1\n");
  ASSERT_TRUE(a_);
  std::vector<std::unique_ptr<Subprocess>> apps;
  for (int i = 0; i < 3; ++i) {
    auto cli = Subprocess::start({binPath("push-cli"), "connect", "--server", a_->roomTcp(),
                                  "--token", a_->token("sdk" + std::to_string(i), "phone")});
    ASSERT_TRUE(cli.isOk()) << cli.status().toString();
    ASSERT_TRUE((*cli)->waitForLine("STATE online").isOk());
    apps.push_back(std::move(cli).value());
  }
  // The burst goes straight to queued (center's per-app broadcast limit would pace it): one
  // binary MPUB of BroadcastMessages as center writes them.
  constexpr uint32_t kCount = 1000;
  std::string mpub;
  auto be32 = [&mpub](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      mpub.push_back(static_cast<char>(v >> shift));
  };
  be32(kCount);
  for (uint32_t i = 1; i <= kCount; ++i) {
    broadcast::BroadcastMessage m;
    m.set_message_id(1'000'000 + i);
    m.set_app("demo");
    m.set_sequence(1'000'000 + i);
    m.set_payload("b" + std::to_string(i));
    m.set_qos(1);
    const std::string body = m.SerializeAsString();
    be32(static_cast<uint32_t>(body.size()));
    mpub += body;
  }
  auto reply =
      httpRequest(queued_->httpAddress(), "POST", "/mpub?topic=bcast.demo&binary=true", mpub);
  ASSERT_TRUE(reply.isOk()) << reply.status().toString();
  ASSERT_EQ(reply->status, 200) << reply->body;
  ASSERT_TRUE(queued_->restart().isOk());  // SIGTERM: what it holds goes to disk

  for (auto& cli : apps) {
    auto lines = cli->waitForLines("PUSH", kCount, 60s);
    ASSERT_TRUE(lines.isOk()) << lines.status().toString();
    std::map<uint64_t, int> seen;
    for (const std::string& line : *lines) {
      const size_t at = line.find("id=");
      ASSERT_NE(at, std::string::npos) << line;
      ++seen[std::strtoull(line.c_str() + at + 3, nullptr, 10)];
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(kCount));
    for (const auto& [id, n] : seen) {
      EXPECT_GT(id, 1'000'000u);
      EXPECT_LE(id, 1'000'000u + kCount);
      EXPECT_EQ(n, 1) << "message " << id << " reached the app's callback " << n << " times";
    }
    // Nothing more comes (no duplicate after the last one either).
    EXPECT_FALSE(cli->waitForLines("PUSH", kCount + 1, 500ms).isOk());
  }
  // The restart happened mid-way: the room's consumer connected to queued again.
  for (const auto& room : a_->rooms()) {
    EXPECT_TRUE(eventually([&] {
      return jsonNumber(status(room.admin), "queued_connections", "\"broadcast\"") == 2;
    }));
  }
}

}  // namespace
}  // namespace push::testing
