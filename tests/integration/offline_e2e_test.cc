// Stored delivery end to end (issue 16): push-register, push-room (2 workers), push-center and
// push-saver as real processes, with a real redis-server and mariadbd (and push-queued for the
// broadcast case) on loopback. What an app's user sees: messages sent while offline arrive at
// connect, in order, once acked never again; a broadcast missed while away is replayed once; a
// room killed mid-delivery loses nothing; Redis down is a clear 503, never a false success.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/center.pb.h"
#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/nsq_daemon.h"

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

int64_t jsonNumber(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + needle.size(), nullptr, 10);
}

class OfflineE2eTest : public ::testing::Test {
 protected:
  void start(bool with_queued = false) {
    if (!RedisServer::binary().size()) GTEST_SKIP() << "no redis-server";
    if (!MariaDbServer::available()) GTEST_SKIP() << "no mariadbd";
    LocalCluster::Options o;
    o.room_workers = 2;
    o.websocket = false;
    o.saver = true;
    o.saver_mysql = true;
    if (with_queued) {
      auto d = NsqDaemon::start("queued");
      ASSERT_TRUE(d.isOk()) << d.status().toString();
      queued_ = std::move(d).value();
      o.room_config = "queued: \"" + queued_->tcpAddress() + "\"\n";
      o.center_config = "queued: \"" + queued_->tcpAddress() + "\"\n";
    }
    auto c = LocalCluster::start(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
    // The schema is applied before anything is stored (nothing waits for it otherwise).
    ASSERT_TRUE(eventually([&] { return jsonNumber(saverStatus(), "schema_version") >= 1; }))
        << saverStatus();
  }

  std::string saverStatus() {
    auto r = httpRequest(cluster_->saverAdmin(), "GET", "/status");
    return r.isOk() ? r->body : "";
  }

  Result<HttpReply> post(const std::string& path, const std::string& body) {
    return httpRequest(
        cluster_->centerAddress(), "POST", path, body,
        {{"Authorization", "Bearer " + cluster_->apiKey()}, {"Content-Type", "application/json"}});
  }

  // POST /v1/push of `payload` to `user` (qos 1); the message id, 0 on failure.
  uint64_t push(const std::string& user, const std::string& payload, const char* expect = nullptr) {
    auto reply = post("/v1/push", R"({"app":"demo","users":[")" + user + R"("],"payload":")" +
                                      payload + R"(","qos":1})");
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    if (!reply.isOk()) return 0;
    EXPECT_EQ(reply->status, 200) << reply->body;
    center::PushResponse out;
    google::protobuf::util::JsonParseOptions lenient;
    lenient.ignore_unknown_fields = true;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply->body, &out, lenient).ok())
        << reply->body;
    if (expect && out.results_size() == 1) {
      EXPECT_EQ(out.results(0).status(), expect) << reply->body;
    }
    return out.message_id();
  }

  // Connects and authenticates, reporting `last_broadcast_seq`.
  std::unique_ptr<FrameClient> connect(const std::string& user, const std::string& device,
                                       uint64_t last_broadcast_seq = 0,
                                       client::AuthResult* result = nullptr) {
    auto c = FrameClient::connect(cluster_->roomTcp());
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    if (!c.isOk()) return nullptr;
    Frame auth;
    auth.mutable_auth()->set_token(cluster_->token(user, device));
    auth.mutable_auth()->set_network(client::NETWORK_WIFI);
    auth.mutable_auth()->set_last_broadcast_seq(last_broadcast_seq);
    EXPECT_TRUE((*c)->send(auth).isOk());
    auto r = (*c)->readUntil(Frame::kAuthResult);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    if (r.isOk() && result) *result = r->auth_result();
    return std::move(c).value();
  }

  // Pushes read until `n` arrived or `timeout`.
  static std::vector<client::Push> readPushes(FrameClient& c, size_t n,
                                              std::chrono::milliseconds timeout = 10s) {
    std::vector<client::Push> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      auto f = c.readUntil(Frame::kPush, left);
      if (!f.isOk()) break;
      out.push_back(f->push());
    }
    return out;
  }

  static void ackAll(FrameClient& c, const std::vector<client::Push>& pushes) {
    Frame ack;
    for (const auto& p : pushes)
      ack.mutable_ack()->add_message_ids(p.message_id());
    ASSERT_TRUE(c.send(ack).isOk());
  }

  std::unique_ptr<NsqDaemon> queued_;
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(OfflineE2eTest, OfflineUserGetsEveryMessageInOrderAtConnectAndNoneAfterAcking) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<uint64_t> sent;
  for (int i = 0; i < 5; ++i)
    sent.push_back(push("olga", "m" + std::to_string(i), "stored"));
  ASSERT_EQ(sent.size(), 5u);

  auto c = connect("olga", "phone");
  ASSERT_TRUE(c);
  std::vector<client::Push> got = readPushes(*c, 5);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].message_id(), sent[i]) << i;
    EXPECT_EQ(got[i].payload(), "m" + std::to_string(i));
    EXPECT_EQ(got[i].qos(), 1u);
  }
  const int64_t acked_before = jsonNumber(saverStatus(), "acked");
  ackAll(*c, got);
  ASSERT_TRUE(eventually([&] { return jsonNumber(saverStatus(), "acked") >= acked_before + 5; }))
      << saverStatus();
  c.reset();

  // Online now: a live push arrives once; after the reconnect nothing is replayed.
  auto again = connect("olga", "phone");
  ASSERT_TRUE(again);
  EXPECT_TRUE(readPushes(*again, 1, 700ms).empty()) << "acked messages were sent again";
}

TEST_F(OfflineE2eTest, UnackedMessagesComeBackAfterTheRoomIsKilled) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto c = connect("kim", "phone");
  ASSERT_TRUE(c);
  ASSERT_TRUE(eventually([&] {
    auto r = httpRequest(cluster_->centerAddress(), "GET", "/v1/apps/demo/users/kim", "",
                         {{"Authorization", "Bearer " + cluster_->apiKey()}});
    return r.isOk() && r->body.find("\"sessions\":[{") != std::string::npos;
  }));
  std::vector<uint64_t> sent;
  for (int i = 0; i < 3; ++i)
    sent.push_back(push("kim", "live" + std::to_string(i), "delivered"));
  std::vector<client::Push> got = readPushes(*c, 3);
  ASSERT_EQ(got.size(), 3u);
  // Never acked: the room holding the connection dies.
  std::string room_admin;
  for (const auto& room : cluster_->rooms()) {
    auto s = httpRequest(room.admin, "GET", "/status");
    if (s.isOk() && jsonNumber(s->body, "connections") > 0) {
      ASSERT_EQ(::kill(room.pid, SIGKILL), 0);
      room_admin = room.admin;
    }
  }
  ASSERT_FALSE(room_admin.empty()) << "no room held the connection";
  ASSERT_TRUE(c->waitClosed(10s));

  // Reconnect as a client does: to the other worker or the restarted one, retrying while the
  // supervisor replaces the dead worker.
  std::unique_ptr<FrameClient> back;
  ASSERT_TRUE(eventually([&] {
    auto c2 = FrameClient::connect(cluster_->roomTcp());
    if (!c2.isOk() || !(*c2)->auth(cluster_->token("kim", "phone")).isOk()) return false;
    back = std::move(c2).value();
    return true;
  }));
  std::vector<client::Push> replayed = readPushes(*back, 3);
  ASSERT_EQ(replayed.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(replayed[i].message_id(), sent[i]);
}

TEST_F(OfflineE2eTest, RedisDownIsA503ForQos1AndNeverASuccess) {
  ASSERT_NO_FATAL_FAILURE(start());
  push("nina", "before", "stored");
  cluster_->redis().stop();
  auto reply = post("/v1/push", R"({"app":"demo","users":["nina"],"payload":"x","qos":1})");
  ASSERT_TRUE(reply.isOk());
  EXPECT_EQ(reply->status, 503) << reply->body;
  EXPECT_NE(reply->body.find("storage"), std::string::npos) << reply->body;
  // QoS 0 is never stored: it still goes (the user is offline: nothing to deliver).
  auto qos0 = post("/v1/push", R"({"app":"demo","users":["nina"],"payload":"x","qos":0})");
  ASSERT_TRUE(qos0.isOk());
  EXPECT_EQ(qos0->status, 200) << qos0->body;
}

TEST_F(OfflineE2eTest, RedisRestartedEmptyMessagesComeBackFromMySql) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<uint64_t> sent;
  for (int i = 0; i < 4; ++i)
    sent.push_back(push("rita", "r" + std::to_string(i), "stored"));
  ASSERT_TRUE(eventually([&] { return jsonNumber(saverStatus(), "write_behind_backlog") == 0; }));
  const int64_t recoveries = jsonNumber(saverStatus(), "recoveries");
  cluster_->redis().stop();
  ASSERT_TRUE(cluster_->redis().resume().isOk());
  ASSERT_TRUE(eventually([&] {
    std::string s = saverStatus();
    return jsonNumber(s, "recoveries") > recoveries && jsonNumber(s, "recovering") != 1 &&
           s.find("\"recovering\":false") != std::string::npos;
  })) << saverStatus();
  auto c = connect("rita", "phone");
  ASSERT_TRUE(c);
  std::vector<client::Push> got = readPushes(*c, 4);
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(got[i].message_id(), sent[i]);
}

TEST_F(OfflineE2eTest, ABroadcastSentWhileAwayIsReplayedOnce) {
  if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
  ASSERT_NO_FATAL_FAILURE(start(true));
  for (const auto& room : cluster_->rooms()) {
    ASSERT_TRUE(eventually([&] {
      auto s = httpRequest(room.admin, "GET", "/status");
      return s.isOk() && s->body.find("\"queued_connections\":1") != std::string::npos;
    }));
  }
  auto bcast = [&](const std::string& payload) {
    auto r = post("/v1/broadcast", R"({"app":"demo","payload":")" + payload + R"(","qos":1})");
    EXPECT_TRUE(r.isOk() && r->status == 200) << (r.isOk() ? r->body : r.status().toString());
  };
  // Online for the first broadcast: the client learns the sequence.
  auto c = connect("bea", "phone");
  ASSERT_TRUE(c);
  bcast("first");
  std::vector<client::Push> first = readPushes(*c, 1);
  ASSERT_EQ(first.size(), 1u);
  const uint64_t seen = first[0].broadcast_seq();
  ASSERT_GT(seen, 0u);
  c.reset();
  // Away for two more, until every room has written them (to nobody): a client connecting
  // while a broadcast is still on its way gets it live too (the SDK's dedup drops the copy).
  auto delivered = [&] {
    int64_t sum = 0;
    for (const auto& room : cluster_->rooms()) {
      auto st = httpRequest(room.admin, "GET", "/status");
      if (!st.isOk()) return int64_t{-1};
      const size_t at = st->body.find("\"broadcast\"");
      if (at == std::string::npos) return int64_t{-1};
      sum += jsonNumber(st->body.substr(at), "delivered");
    }
    return sum;
  };
  const int64_t before = delivered();
  bcast("second");
  bcast("third");
  ASSERT_TRUE(eventually([&] { return delivered() >= before + 2 * 2; })) << delivered();
  auto back = connect("bea", "phone", seen);
  ASSERT_TRUE(back);
  std::vector<client::Push> replayed = readPushes(*back, 3, 3s);
  std::string got;
  for (const auto& p : replayed)
    got += p.payload() + "#" + std::to_string(p.broadcast_seq()) + " ";
  ASSERT_EQ(replayed.size(), 2u) << "the missed broadcasts, once each: " << got;
  EXPECT_EQ(replayed[0].payload(), "second");
  EXPECT_EQ(replayed[0].broadcast_seq(), seen + 1);
  EXPECT_EQ(replayed[1].payload(), "third");
  EXPECT_EQ(replayed[1].broadcast_seq(), seen + 2);
}

}  // namespace
}  // namespace push::testing
