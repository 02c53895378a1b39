// End to end with real processes: push-register, push-room, push-center on loopback; clients
// speak the wire protocol over TCP and WebSocket; operators call center's HTTP API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/auth/token.h"
#include "common/base/clock.h"
#include "common/base/id_generator.h"
#include "common/net/inet_address.h"
#include "proto/center.pb.h"
#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/ws_client.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

// Polls `pred` (external state: HTTP, sockets) every 20 ms until true or `timeout`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class PushE2eTest : public ::testing::Test {
 protected:
  void start(LocalCluster::Options options = {}) {
    auto c = LocalCluster::start(std::move(options));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
  }

  Result<HttpReply> api(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    return httpRequest(cluster_->centerAddress(), method, path, body, headers);
  }

  center::PushResponse push(const std::string& body, int expect_status = 200) {
    auto reply = api("POST", "/v1/push", body, cluster_->apiKey());
    EXPECT_TRUE(reply.isOk()) << reply.status().toString();
    center::PushResponse out;
    if (!reply.isOk()) return out;
    EXPECT_EQ(reply->status, expect_status) << reply->body;
    if (reply->status == 200) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply->body, &out).ok())
          << reply->body;
    }
    return out;
  }

  std::unique_ptr<FrameClient> online(const std::string& user, const std::string& device) {
    auto c = FrameClient::connect(cluster_->roomTcp());
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    if (!c.isOk()) return nullptr;
    auto r = (*c)->auth(cluster_->token(user, device));
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return std::move(c).value();
  }

  bool userOnline(const std::string& user, size_t sessions) {
    auto reply = api("GET", "/v1/apps/demo/users/" + user, "", cluster_->apiKey());
    if (!reply.isOk() || reply->status != 200) return false;
    center::UserResponse u;
    if (!google::protobuf::util::JsonStringToMessage(reply->body, &u).ok()) return false;
    return static_cast<size_t>(u.sessions_size()) == sessions;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(PushE2eTest, UnicastReachesTcpClientWhichAcks) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto alice = online("alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return userOnline("alice", 1); }))
      << "session never reached register";
  auto res = push(R"({"app":"demo","users":["alice"],"payload":"hello alice"})");
  ASSERT_EQ(res.results_size(), 1);
  EXPECT_EQ(res.results(0).status(), "delivered");
  EXPECT_EQ(res.delivered(), 1u);
  EXPECT_NE(res.message_id(), 0u);
  auto frame = alice->readUntil(client::Frame::kPush);
  ASSERT_TRUE(frame.isOk()) << frame.status().toString();
  EXPECT_EQ(frame->push().payload(), "hello alice");
  EXPECT_EQ(frame->push().message_id(), res.message_id());
  EXPECT_EQ(frame->push().qos(), 1u);
  EXPECT_EQ(frame->push().app(), "demo");
  client::Frame ack;
  ack.mutable_ack()->add_message_ids(res.message_id());
  ASSERT_TRUE(alice->send(ack).isOk());
  // The room counts the ack against the message.
  const std::string key =
      "\"" + std::to_string(res.message_id()) + "\":{\"delivered\":1,\"acked\":1}";
  EXPECT_TRUE(eventually([&] {
    auto s = httpRequest(cluster_->rooms()[0].admin, "GET", "/status");
    return s.isOk() && s->body.find(key) != std::string::npos;
  })) << "ack not counted";
}

TEST_F(PushE2eTest, CenterWorkersShareThePortAndNumberIdsApart) {
  LocalCluster::Options options;
  options.center_workers = 2;
  options.center_config = "admin { listen { address: \"127.0.0.1:0\" } }\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto alice = online("alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return userOnline("alice", 1); }))
      << "session never reached register";
  // Each push is a new connection, so the kernel spreads them over both workers (all 24 on
  // one worker would happen with probability 2^-23).
  constexpr int kPushes = 24;
  std::set<uint64_t> ids;
  std::set<uint32_t> nodes;
  for (int i = 0; i < kPushes; ++i) {
    auto res = push(R"({"app":"demo","users":["alice"],"payload":"p)" + std::to_string(i) + "\"}");
    ASSERT_EQ(res.delivered(), 1u) << "push " << i;
    ids.insert(res.message_id());
    nodes.insert(IdGenerator::nodeOf(res.message_id()));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kPushes)) << "message ids repeated across workers";
  EXPECT_EQ(nodes, (std::set<uint32_t>{0, 1})) << "each worker numbers ids with its own node";
  std::set<uint64_t> received;
  for (int i = 0; i < kPushes; ++i) {
    auto frame = alice->readUntil(client::Frame::kPush);
    ASSERT_TRUE(frame.isOk()) << frame.status().toString();
    received.insert(frame->push().message_id());
  }
  EXPECT_EQ(received, ids);

  // Each worker's own admin port answers for that worker: node ids 0 and 1, and the pushes
  // each counted add up to all of them.
  auto admins = cluster_->centerProcess().waitForLines("ADMIN_ADDRESS", 2);
  ASSERT_TRUE(admins.isOk()) << admins.status().toString();
  std::set<std::string> status_nodes;
  uint64_t counted = 0;
  for (const std::string& admin : *admins) {
    auto status = httpRequest(admin, "GET", "/status");
    ASSERT_TRUE(status.isOk()) << status.status().toString();
    ASSERT_EQ(status->status, 200);
    const size_t at = status->body.find("\"node_id\":");
    ASSERT_NE(at, std::string::npos) << status->body;
    status_nodes.insert(status->body.substr(at + 10, 1));
    auto metrics = httpRequest(admin, "GET", "/metrics");
    ASSERT_TRUE(metrics.isOk()) << metrics.status().toString();
    const std::string name = "\npush_center_pushes_total ";
    const size_t m = metrics->body.find(name);
    ASSERT_NE(m, std::string::npos) << metrics->body;
    counted += std::stoull(metrics->body.substr(m + name.size()));
  }
  EXPECT_EQ(status_nodes, (std::set<std::string>{"0", "1"}));
  EXPECT_EQ(counted, static_cast<uint64_t>(kPushes));
}

TEST_F(PushE2eTest, BatchDeliversEachPushWithItsOwnIdAndAnswersPerPush) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto alice = online("alice", "phone");
  auto bob = online("bob", "tablet");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(eventually([&] { return userOnline("alice", 1) && userOnline("bob", 1); }));
  auto reply = api("POST", "/v1/push/batch",
                   R"({"app":"demo","pushes":[
                        {"users":["alice"],"payload":"one"},
                        {"users":["bob"],"payload":"two","qos":0},
                        {"app":"demo","users":["alice","carol"],"payload":"three"}]})",
                   cluster_->apiKey());
  ASSERT_TRUE(reply.isOk()) << reply.status().toString();
  ASSERT_EQ(reply->status, 200) << reply->body;
  center::PushBatchResponse res;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(reply->body, &res).ok()) << reply->body;
  ASSERT_EQ(res.results_size(), 3);
  EXPECT_EQ(res.delivered(), 3u);
  EXPECT_EQ(res.offline(), 1u);  // carol
  EXPECT_EQ(res.failed(), 0u);
  EXPECT_EQ(res.results(0).delivered(), 1u);
  EXPECT_EQ(res.results(2).results(1).user(), "carol");
  EXPECT_EQ(res.results(2).results(1).status(), "offline");
  EXPECT_NE(res.results(0).message_id(), res.results(1).message_id());
  EXPECT_NE(res.results(1).message_id(), res.results(2).message_id());
  // Alice gets "one" and "three", each with its own id; Bob gets "two" at QoS 0.
  std::vector<std::pair<std::string, uint64_t>> alice_got;
  for (int i = 0; i < 2; ++i) {
    auto frame = alice->readUntil(client::Frame::kPush);
    ASSERT_TRUE(frame.isOk()) << frame.status().toString();
    alice_got.emplace_back(frame->push().payload(), frame->push().message_id());
  }
  std::sort(alice_got.begin(), alice_got.end());
  EXPECT_EQ(alice_got[0], std::make_pair(std::string("one"), res.results(0).message_id()));
  EXPECT_EQ(alice_got[1], std::make_pair(std::string("three"), res.results(2).message_id()));
  auto frame = bob->readUntil(client::Frame::kPush);
  ASSERT_TRUE(frame.isOk()) << frame.status().toString();
  EXPECT_EQ(frame->push().payload(), "two");
  EXPECT_EQ(frame->push().qos(), 0u);
  EXPECT_EQ(frame->push().message_id(), res.results(1).message_id());
}

TEST_F(PushE2eTest, UnicastReachesWebSocketClient) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto ws = WsClient::connect(cluster_->roomWs());
  ASSERT_TRUE(ws.isOk()) << ws.status().toString();
  auto auth = (*ws)->auth(cluster_->token("wendy", "browser"));
  ASSERT_TRUE(auth.isOk()) << auth.status().toString();
  EXPECT_EQ(auth->user(), "wendy");
  ASSERT_TRUE(eventually([&] { return userOnline("wendy", 1); }));
  auto res = push(R"({"app":"demo","users":["wendy"],"payloadBase64":"AAEC/w=="})");
  EXPECT_EQ(res.delivered(), 1u);
  Result<client::Frame> frame = (*ws)->read();
  while (frame.isOk() && !frame->has_push())
    frame = (*ws)->read();
  ASSERT_TRUE(frame.isOk()) << frame.status().toString();
  EXPECT_EQ(frame->push().payload(), std::string("\x00\x01\x02\xff", 4));
}

TEST_F(PushE2eTest, EveryDeviceOfAUserGetsIt) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto phone = online("bob", "phone");
  auto tablet = online("bob", "tablet");
  auto ws = WsClient::connect(cluster_->roomWs());
  ASSERT_TRUE(ws.isOk());
  ASSERT_TRUE((*ws)->auth(cluster_->token("bob", "laptop")).isOk());
  auto other = online("carol", "phone");
  ASSERT_TRUE(eventually([&] { return userOnline("bob", 3); }));
  auto res = push(R"({"app":"demo","users":["bob"],"payload":"to all of bob"})");
  ASSERT_EQ(res.results_size(), 1);
  EXPECT_EQ(res.results(0).connections(), 3u);
  for (auto* c : {phone.get(), tablet.get()}) {
    auto f = c->readUntil(client::Frame::kPush);
    ASSERT_TRUE(f.isOk());
    EXPECT_EQ(f->push().payload(), "to all of bob");
  }
  auto f = (*ws)->read();
  while (f.isOk() && !f->has_push())
    f = (*ws)->read();
  ASSERT_TRUE(f.isOk());
  EXPECT_EQ(f->push().payload(), "to all of bob");
  EXPECT_EQ(other->readUntil(client::Frame::kPush, 300ms).status().code(), Code::TIMEOUT);
  // One device only.
  res = push(
      R"({"app":"demo","devices":[{"user":"bob","device":"tablet"}],"payload":"tablet only"})");
  EXPECT_EQ(res.results(0).connections(), 1u);
  auto t = tablet->readUntil(client::Frame::kPush);
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(t->push().payload(), "tablet only");
  EXPECT_EQ(phone->readUntil(client::Frame::kPush, 300ms).status().code(), Code::TIMEOUT);
  // Offline users are reported as such.
  res = push(R"({"app":"demo","users":["nobody"],"payload":"x"})");
  EXPECT_EQ(res.results(0).status(), "offline");
  EXPECT_EQ(res.offline(), 1u);
}

TEST_F(PushE2eTest, BadTokensGetAnErrorFrameAndAClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  struct Case {
    std::string token;
    client::ErrorCode code;
  };
  std::string good = cluster_->token("dave", "phone");
  std::string forged =
      good.substr(0, good.size() - 4) + (good.substr(good.size() - 4) == "0000" ? "1111" : "0000");
  LocalCluster::App other;
  std::vector<Case> cases = {
      {forged, client::ERROR_BAD_TOKEN},
      {cluster_->token("dave", "phone", -10s), client::ERROR_TOKEN_EXPIRED},
      {"", client::ERROR_BAD_TOKEN},
      {"not-a-token", client::ERROR_BAD_TOKEN},
  };
  for (const auto& c : cases) {
    auto client = FrameClient::connect(cluster_->roomTcp());
    ASSERT_TRUE(client.isOk());
    client::Frame auth;
    auth.mutable_auth()->set_token(c.token);
    ASSERT_TRUE((*client)->send(auth).isOk());
    auto reply = (*client)->read();
    ASSERT_TRUE(reply.isOk()) << reply.status().toString();
    ASSERT_TRUE(reply->has_error()) << reply->DebugString();
    EXPECT_EQ(reply->error().code(), c.code) << c.token << ": " << reply->error().message();
    EXPECT_TRUE((*client)->waitClosed()) << "connection stayed open after " << c.token;
  }
  // A frame other than Auth first.
  auto client = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(client.isOk());
  client::Frame ping;
  ping.mutable_ping();
  ASSERT_TRUE((*client)->send(ping).isOk());
  auto reply = (*client)->read();
  ASSERT_TRUE(reply.isOk());
  EXPECT_EQ(reply->error().code(), client::ERROR_AUTH_REQUIRED);
  EXPECT_TRUE((*client)->waitClosed());
}

TEST_F(PushE2eTest, UnknownAppTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto client = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(client.isOk());
  auth::TokenClaims claims{"nosuchapp", "eve", "phone", Clock::system().wallMillis() / 1000 + 3600};
  client::Frame auth;
  auth.mutable_auth()->set_token(auth::mintToken("some-secret-0123456789", claims));
  ASSERT_TRUE((*client)->send(auth).isOk());
  auto reply = (*client)->read();
  ASSERT_TRUE(reply.isOk());
  EXPECT_EQ(reply->error().code(), client::ERROR_UNKNOWN_APP) << reply->DebugString();
  EXPECT_TRUE((*client)->waitClosed());
}

TEST_F(PushE2eTest, SilentClientIsClosedAndLeavesRegister) {
  LocalCluster::Options options;
  options.room_config = "heartbeat { wifi_s: 1 min_s: 1 }\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto quiet = online("quiet", "phone");
  ASSERT_TRUE(quiet);
  ASSERT_TRUE(eventually([&] { return userOnline("quiet", 1); }));
  const auto since = std::chrono::steady_clock::now();
  EXPECT_TRUE(quiet->waitClosed(6s)) << "silent connection not closed";
  const auto after = std::chrono::steady_clock::now() - since;
  EXPECT_GE(after, 2000ms);  // 2.5 intervals of 1 s, minus what passed before `since`
  EXPECT_LE(after, 4000ms);
  EXPECT_TRUE(eventually([&] { return userOnline("quiet", 0); })) << "session still in register";

  // A client that pings stays.
  auto chatty = online("chatty", "phone");
  ASSERT_TRUE(chatty);
  for (int i = 0; i < 8; ++i) {
    client::Frame ping;
    ping.mutable_ping();
    ASSERT_TRUE(chatty->send(ping).isOk());
    auto pong = chatty->readUntil(client::Frame::kPong, 2s);
    ASSERT_TRUE(pong.isOk()) << "closed after " << i << " pings: " << pong.status().toString();
    std::this_thread::sleep_for(500ms);  // the client's own heartbeat cadence, not a sync
  }
}

TEST_F(PushE2eTest, AuthTimeoutClosesUnauthenticatedConnections) {
  LocalCluster::Options options;
  options.room_config = "auth_timeout_ms: 300\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto client = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(client.isOk());
  auto reply = (*client)->read(3s);
  ASSERT_TRUE(reply.isOk()) << reply.status().toString();
  EXPECT_EQ(reply->error().code(), client::ERROR_AUTH_TIMEOUT);
  EXPECT_TRUE((*client)->waitClosed());

  // Trickling a partial frame does not extend the deadline.
  auto slow = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(slow.isOk());
  const auto since = std::chrono::steady_clock::now();
  ASSERT_TRUE((*slow)->sendRaw(std::string("\x00\x00\x01", 3)).isOk());
  Result<client::Frame> got = Status(Code::TIMEOUT, "");
  for (int i = 0; i < 20 && !got.isOk(); ++i) {
    (void)(*slow)->sendRaw(std::string(1, '\0'));  // one more byte of a never-ending header
    got = (*slow)->read(100ms);
  }
  ASSERT_TRUE(got.isOk()) << got.status().toString();
  EXPECT_EQ(got->error().code(), client::ERROR_AUTH_TIMEOUT);
  EXPECT_LT(std::chrono::steady_clock::now() - since, 1500ms);
}

TEST_F(PushE2eTest, SdkCliReceivesAPushFromTheRealRoom) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto cli = Subprocess::start({binPath("push-cli"), "connect", "--server", cluster_->roomTcp(),
                                "--token", cluster_->token("kate", "phone"), "--exit-after", "1"});
  ASSERT_TRUE(cli.isOk()) << cli.status().toString();
  auto online = (*cli)->waitForLine("STATE online");
  ASSERT_TRUE(online.isOk()) << online.status().toString();
  ASSERT_TRUE(eventually([&] { return userOnline("kate", 1); }));
  auto res = push(R"({"app":"demo","users":["kate"],"payload":"hi from center"})");
  EXPECT_EQ(res.delivered(), 1u);
  auto line = (*cli)->waitForLine("PUSH");
  ASSERT_TRUE(line.isOk()) << line.status().toString();
  EXPECT_NE(line->find("payload=hi from center"), std::string::npos) << *line;
  EXPECT_NE(line->find("id=" + std::to_string(res.message_id())), std::string::npos) << *line;
  EXPECT_EQ((*cli)->wait(), 0);
  // The SDK acked after its callback returned.
  const std::string key =
      "\"" + std::to_string(res.message_id()) + "\":{\"delivered\":1,\"acked\":1}";
  EXPECT_TRUE(eventually([&] {
    auto st = httpRequest(cluster_->rooms()[0].admin, "GET", "/status");
    return st.isOk() && st->body.find(key) != std::string::npos;
  }));
}

TEST_F(PushE2eTest, KickClosesTheUsersSessions) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto phone = online("frank", "phone");
  auto tablet = online("frank", "tablet");
  ASSERT_TRUE(eventually([&] { return userOnline("frank", 2); }));
  auto reply = api("POST", "/v1/apps/demo/users/frank/kick",
                   R"({"device":"phone","reason":"abuse"})", cluster_->apiKey());
  ASSERT_TRUE(reply.isOk());
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_NE(reply->body.find("\"kicked\":1"), std::string::npos) << reply->body;
  auto kick = phone->readUntil(client::Frame::kKick);
  ASSERT_TRUE(kick.isOk()) << kick.status().toString();
  EXPECT_EQ(kick->kick().reason(), "abuse");
  EXPECT_TRUE(phone->waitClosed());
  EXPECT_TRUE(eventually([&] { return userOnline("frank", 1); }));
  reply = api("POST", "/v1/apps/demo/users/frank/kick", "", cluster_->apiKey());
  ASSERT_TRUE(reply.isOk());
  EXPECT_NE(reply->body.find("\"kicked\":1"), std::string::npos) << reply->body;
  EXPECT_TRUE(tablet->waitClosed());
}

TEST_F(PushE2eTest, OversizedAndGarbageFramesCloseOnlyThatConnection) {
  LocalCluster::Options options;
  options.room_config = "max_frame_bytes: 4096\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto good = online("gina", "phone");
  ASSERT_TRUE(eventually([&] { return userOnline("gina", 1); }));

  auto big = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(big.isOk());
  ASSERT_TRUE((*big)->sendRaw(std::string("\x00\x10\x00\x00", 4)).isOk());  // 1 MiB announced
  auto e1 = (*big)->read();
  ASSERT_TRUE(e1.isOk());
  EXPECT_EQ(e1->error().code(), client::ERROR_FRAME_TOO_LARGE);
  EXPECT_TRUE((*big)->waitClosed());

  auto junk = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(junk.isOk());
  ASSERT_TRUE((*junk)->sendRaw(std::string("\x00\x00\x00\x05\xff\xff\xff\xff\xff", 9)).isOk());
  auto e2 = (*junk)->read();
  ASSERT_TRUE(e2.isOk());
  EXPECT_EQ(e2->error().code(), client::ERROR_BAD_FRAME);
  EXPECT_TRUE((*junk)->waitClosed());

  auto ws = WsClient::connect(cluster_->roomWs());
  ASSERT_TRUE(ws.isOk());
  ASSERT_TRUE((*ws)->sendText("not binary").isOk());
  EXPECT_TRUE((*ws)->waitClosed());

  auto res = push(R"({"app":"demo","users":["gina"],"payload":"still here"})");
  EXPECT_EQ(res.delivered(), 1u);
  auto f = good->readUntil(client::Frame::kPush);
  ASSERT_TRUE(f.isOk());
  EXPECT_EQ(f->push().payload(), "still here");
}

TEST_F(PushE2eTest, CenterAnswersBadRequestsWithTheRightStatus) {
  LocalCluster::Options options;
  // Burst 4: the key is checked (and a token of the app's rate taken) before the body is
  // read, so the bad body and the unknown app below use two of them.
  options.apps[0].rate_per_s = 2;
  LocalCluster::App other;
  other.name = "other";
  other.secret = "other-secret-0123456789";
  other.api_key = "other-key-0123456789abcdef";
  options.apps.push_back(other);
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto r = api("POST", "/v1/push", "{not json", cluster_->apiKey());
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  // Every failed key check is the same 401, so nobody can tell apps apart (or find out
  // which exist): an unknown app, a wrong key, no key, another app's key.
  r = api("POST", "/v1/push", R"({"app":"nosuchapp","users":["a"],"payload":"x"})",
          cluster_->apiKey());
  EXPECT_EQ(r->status, 401) << r->body;
  const std::string unauthorized = r->body;
  r = api("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x"})",
          "wrong-key-0123456789");
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->body, unauthorized);
  r = api("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x"})", "");
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->header("WWW-Authenticate"), "Bearer");
  r = api("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x"})", other.api_key);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->body, unauthorized);
  r = api("GET", "/v1/apps/demo/users/a", "", "wrong-key-0123456789");
  EXPECT_EQ(r->status, 401) << r->body;
  r = api("DELETE", "/v1/push", "", cluster_->apiKey());
  EXPECT_EQ(r->status, 405) << r->body;
  // Field errors, once authorized (each takes a token of the app's burst of 4).
  r = api("POST", "/v1/push", R"({"app":"demo","payload":"x"})", cluster_->apiKey());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("users"), std::string::npos) << r->body;
  r = api("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x","qos":7})",
          cluster_->apiKey());
  EXPECT_EQ(r->status, 400) << r->body;
  // The burst is used up: the next is refused with Retry-After.
  r = api("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x"})", cluster_->apiKey());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_FALSE(r->header("Retry-After").empty());
  EXPECT_GE(std::atoi(r->header("Retry-After").c_str()), 1);
}

TEST_F(PushE2eTest, RegisterRebuildsFromRoomsAfterRestart) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto a = online("henry", "phone");
  auto b = online("irene", "phone");
  ASSERT_TRUE(eventually([&] { return userOnline("henry", 1) && userOnline("irene", 1); }));
  ASSERT_TRUE(cluster_->restartRegister().isOk());
  EXPECT_TRUE(eventually([&] { return userOnline("henry", 1) && userOnline("irene", 1); }, 10s))
      << "register did not rebuild its table from the room";
  auto res = push(R"({"app":"demo","users":["henry"],"payload":"after restart"})");
  EXPECT_EQ(res.delivered(), 1u);
  auto f = a->readUntil(client::Frame::kPush);
  ASSERT_TRUE(f.isOk());
  EXPECT_EQ(f->push().payload(), "after restart");
}

TEST_F(PushE2eTest, PerIpConnectionLimitAndDenyList) {
  LocalCluster::Options options;
  options.room_config = "max_connections_per_ip: 2\ndeny_cidrs: \"127.0.0.2/32\"\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto c1 = FrameClient::connect(cluster_->roomTcp());
  auto c2 = FrameClient::connect(cluster_->roomTcp());
  auto c3 = FrameClient::connect(cluster_->roomTcp());
  ASSERT_TRUE(c1.isOk() && c2.isOk() && c3.isOk());
  auto e = (*c3)->read();
  ASSERT_TRUE(e.isOk()) << e.status().toString();
  EXPECT_EQ(e->error().code(), client::ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_TRUE((*c3)->waitClosed());
  EXPECT_TRUE((*c1)->auth(cluster_->token("jack", "phone")).isOk());
  // From a denied source address.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = inet_addr("127.0.0.2");
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
  auto room = net::InetAddress::parse(cluster_->roomTcp());
  ASSERT_EQ(::connect(fd, room->sockaddrPtr(), room->length()), 0);
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // the Error frame, then EOF
  ASSERT_GT(n, 4);
  client::Frame err;
  ASSERT_TRUE(err.ParseFromArray(buf + 4, static_cast<int>(n - 4)));
  EXPECT_EQ(err.error().code(), client::ERROR_FORBIDDEN);
  ::close(fd);
}

}  // namespace
}  // namespace push::testing

namespace push::testing {
namespace {

// A client that follows the protocol's Reconnect rule in its own thread: on Reconnect it waits
// the delay, connects and authenticates a new connection, and only then closes the old one
// (make-before-break). It acks every push and remembers every message id it received.
class FollowingClient {
 public:
  FollowingClient(LocalCluster& cluster, std::string user)
      : cluster_(cluster), user_(std::move(user)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FollowingClient() {
    stop_ = true;
    thread_.join();
  }
  bool ready() const { return ready_; }
  std::set<uint64_t> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::string roomId() {
    std::lock_guard lock(mu_);
    return room_id_;
  }
  int reconnects() const { return reconnects_; }
  std::string error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::unique_ptr<FrameClient> connectAndAuth() {
    auto c = FrameClient::connect(cluster_.roomTcp());
    if (!c.isOk()) return nullptr;
    auto r = (*c)->auth(cluster_.token(user_, "phone"));
    if (!r.isOk()) return nullptr;
    std::lock_guard lock(mu_);
    room_id_ = r->room();
    return std::move(c).value();
  }
  void run() {
    auto conn = connectAndAuth();
    if (!conn) {
      std::lock_guard lock(mu_);
      error_ = "first connect failed";
      return;
    }
    ready_ = true;
    std::unique_ptr<FrameClient> old;
    auto old_close_at = std::chrono::steady_clock::now();
    while (!stop_) {
      if (old && std::chrono::steady_clock::now() >= old_close_at) old.reset();
      for (FrameClient* c : {old.get(), conn.get()}) {
        if (!c) continue;
        auto f = c->read(10ms);
        if (!f.isOk()) continue;
        if (f->has_push()) {
          {
            std::lock_guard lock(mu_);
            received_.insert(f->push().message_id());
          }
          client::Frame ack;
          ack.mutable_ack()->add_message_ids(f->push().message_id());
          (void)c->send(ack);
        } else if (f->has_reconnect() && c == conn.get()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(f->reconnect().delay_ms()));
          auto fresh = connectAndAuth();
          if (!fresh) {
            std::lock_guard lock(mu_);
            error_ = "reconnect failed";
            return;
          }
          ++reconnects_;
          old = std::move(conn);
          conn = std::move(fresh);
          old_close_at = std::chrono::steady_clock::now() + 300ms;  // overlap, then break
          break;
        }
      }
    }
  }

  LocalCluster& cluster_;
  std::string user_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::atomic<int> reconnects_{0};
  std::mutex mu_;
  std::set<uint64_t> received_;
  std::string room_id_;
  std::string error_;
};

TEST_F(PushE2eTest, DrainMovesEveryClientToTheOtherWorkerWithNoMessageLost) {
  LocalCluster::Options options;
  options.room_workers = 2;
  options.room_config = "drain_window_ms: 1000\ndrain_deadline_ms: 8000\n";
  ASSERT_NO_FATAL_FAILURE(start(options));
  ASSERT_EQ(cluster_->rooms().size(), 2u);
  constexpr int kClients = 20;
  std::vector<std::unique_ptr<FollowingClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<FollowingClient>(*cluster_, "u" + std::to_string(i)));
  }
  ASSERT_TRUE(eventually([&] {
    for (auto& c : clients) {
      if (!c->ready()) return false;
    }
    return true;
  }));
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(eventually([&] { return userOnline("u" + std::to_string(i), 1); }));
  }
  // Drain the worker that holds the most clients (SO_REUSEPORT spreads them).
  std::map<std::string, int> per_room;
  for (auto& c : clients)
    per_room[c->roomId()]++;
  const auto drained = std::max_element(per_room.begin(), per_room.end(), [](auto& a, auto& b) {
                         return a.second < b.second;
                       })->first;
  int drained_pid = 0;
  for (const auto& r : cluster_->rooms()) {
    if (r.id == drained) drained_pid = r.pid;
  }
  ASSERT_NE(drained_pid, 0);
  ASSERT_GT(per_room[drained], 0);
  std::string users;
  for (int i = 0; i < kClients; ++i)
    users += std::string(i ? "," : "") + "\"u" + std::to_string(i) + "\"";
  const std::string body = R"({"app":"demo","users":[)" + users + R"(],"payload":"during drain"})";

  ::kill(drained_pid, SIGTERM);
  // Push continuously while clients move.
  std::vector<uint64_t> sent;
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < until) {
    auto res = push(body);
    EXPECT_EQ(res.delivered(), static_cast<uint32_t>(kClients))
        << "a user was not reachable mid-drain";
    sent.push_back(res.message_id());
    std::this_thread::sleep_for(50ms);  // a steady push rate, not a synchronisation
  }
  ASSERT_FALSE(sent.empty());
  for (auto& c : clients) {
    EXPECT_TRUE(c->error().empty()) << c->error();
    EXPECT_TRUE(eventually([&] {
      auto got = c->received();
      return std::all_of(sent.begin(), sent.end(), [&](uint64_t id) { return got.count(id) > 0; });
    })) << "a message was lost";
    EXPECT_NE(c->roomId(), drained) << "client still on the drained worker";
  }
  int moved = 0;
  for (auto& c : clients)
    moved += c->reconnects();
  EXPECT_EQ(moved, per_room[drained]);
}

}  // namespace
}  // namespace push::testing
