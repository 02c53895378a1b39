// CenterServer with saver configured (issue 16, store then send), on a real loop: the API on
// 127.0.0.1 port 0 called by a blocking HTTP client on a helper thread; saver is the
// in-process FakeSaver (tests/support/fake_saver.h), register and room are small fakes on real
// rpc::Servers on loopback (Lookup answers the users the test put online, DeliverBatch counts
// one connection per online user), all on the test's loop. Broadcasts use a REAL push-queued
// and jobs a real redis-server too (those tests are skipped when either is missing).
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/net/event_loop.h"
#include "common/queue/client/consumer.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "proto/broadcast.pb.h"
#include "proto/config.pb.h"
#include "proto/register.pb.h"
#include "proto/room.pb.h"
#include "services/center/center_server.h"
#include "tests/support/fake_saver.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/redis_server.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;
using ::push::testing::FakeSaver;
using ::push::testing::HttpReply;
using ::push::testing::NsqDaemon;
using ::push::testing::RedisServer;

constexpr char kDemoKey[] = "demo-key-0123456789abcdef";

// The "key":"value" string value, or the number after "key": ("" when absent).
std::string jsonField(const std::string& body, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const size_t at = body.find(k);
  if (at == std::string::npos) return "";
  size_t begin = at + k.size();
  if (body[begin] == '"') {
    const size_t end = body.find('"', begin + 1);
    return body.substr(begin + 1, end - begin - 1);
  }
  size_t end = begin;
  while (end < body.size() && (std::isdigit(static_cast<unsigned char>(body[end])) != 0))
    ++end;
  return body.substr(begin, end - begin);
}

// The result object of `user` in a /v1/push answer ("" when absent).
std::string resultOf(const std::string& body, const std::string& user) {
  const size_t at = body.find("{\"user\":\"" + user + "\"");
  if (at == std::string::npos) return "";
  return body.substr(at, body.find('}', at) - at + 1);
}

// Register: Lookup answers a session in `room_address` for every user in `online`.
class FakeRegister final : public reg::Register {
 public:
  void Lookup(google::protobuf::RpcController*, const reg::LookupRequest* req,
              reg::LookupResponse* resp, google::protobuf::Closure* done) override {
    for (const auto& key : req->users()) {
      reg::UserSessions* u = resp->add_users();
      if (online.contains(key.user())) {
        Session* s = u->add_sessions();
        s->set_app(key.app());
        s->set_user(key.user());
        s->set_device("phone");
        s->set_room_id("room-1");
        s->set_room_address(room_address);
        s->set_conn_id(1);
      }
    }
    done->Run();
  }
  std::set<std::string> online;
  std::string room_address;
};

// Room: DeliverBatch reports one connection per target whose user is online, and logs it.
class FakeRoom final : public room::Room {
 public:
  explicit FakeRoom(std::vector<std::string>& events) : events_(events) {}
  void DeliverBatch(google::protobuf::RpcController*, const room::DeliverBatchRequest* req,
                    room::DeliverBatchResponse* resp, google::protobuf::Closure* done) override {
    for (const auto& item : req->items()) {
      room::DeliverResponse* r = resp->add_items();
      for (const auto& t : item.targets()) {
        const bool here = online != nullptr && online->contains(t.user());
        r->add_connections(here ? 1 : 0);
        if (here) delivered.push_back({item.message().id(), t.user()});
      }
      events_.push_back("deliver " + std::to_string(item.message().id()));
    }
    done->Run();
  }
  const std::set<std::string>* online = nullptr;
  std::vector<std::pair<uint64_t, std::string>> delivered;  // (message id, user)

 private:
  std::vector<std::string>& events_;
};

class CenterSaverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeSaver::start(loop_);
    ASSERT_TRUE(fake.isOk()) << fake.status().toString();
    saver_ = std::move(fake).value();
    saver_->onCall = [this](const std::string& method, const google::protobuf::Message& req) {
      if (method != "Store") return;
      for (const auto& item : static_cast<const saver::StoreRequest&>(req).items())
        events_.push_back("store " + std::to_string(item.message().id()));
    };
    room_server_ = startServer(&room_);
    register_server_ = startServer(&register_);
    register_.room_address = room_server_->address().toString();
    room_.online = &register_.online;
    register_.online = {"alice"};
  }
  void TearDown() override {
    consumer_.reset();
    if (center_) {
      bool done = false;
      center_->stop([&] { done = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return done; }, 10s));
      center_.reset();
    }
    saver_.reset();
    room_server_.reset();
    register_server_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  rpc::ServerPtr startServer(google::protobuf::Service* service) {
    rpc::ServerPtr server = rpc::Server::create(loop_, rpc::Server::Options{});
    EXPECT_TRUE(server->addService(service).isOk());
    EXPECT_TRUE(server->start().isOk());
    return server;
  }

  // Center options: register and room are the fakes; `extra` is more CenterConfig text.
  CenterOptions options(const std::string& extra, bool with_saver = true) {
    config::CenterConfig cfg;
    std::string text = R"(
        http { listen { address: "127.0.0.1:0" } }
        register { shards { address: ")" +
                       register_server_->address().toString() + R"(" slots: "0-1023" } }
        apps { name: "demo" api_keys: ")" +
                       kDemoKey + R"(" broadcast_rate_per_s: 1000 }
        queued_timeout_ms: 2000
        )" + extra;
    if (with_saver) {
      text += "saver { addresses: \"" + saver_->address() +
              "\" timeout_ms: 2000 "
              "channel { reconnect_max_ms: 200 } }\n";
    }
    auto file = ConfigFile::parse(text, "center.conf", &cfg);
    EXPECT_TRUE(file.isOk()) << file.status().toString();
    auto o = CenterOptions::fromConfig(cfg, file->get());
    EXPECT_TRUE(o.isOk()) << o.status().toString();
    o->stop_grace = 2s;
    return std::move(o).value();
  }

  void start(CenterOptions o) {
    auto created = CenterServer::create(loop_, std::move(o));
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    center_ = std::move(created).value();
    Status st = center_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
  }

  // One request on a helper thread while this thread runs the loop; `while_waiting` runs on
  // the loop thread once the request is in flight (before its answer is awaited).
  Result<HttpReply> call(const std::string& method, const std::string& path,
                         const std::string& body,
                         std::vector<std::pair<std::string, std::string>> headers = {},
                         const std::function<void()>& while_waiting = {}) {
    headers.emplace_back("Authorization", std::string("Bearer ") + kDemoKey);
    std::optional<Result<HttpReply>> reply;
    std::atomic<bool> finished{false};
    const std::string address = center_->address().toString();
    std::thread client([&] {
      reply.emplace(::push::testing::httpRequest(address, method, path, body, headers, 8s));
      finished = true;
      loop_.post([] {});  // wake the loop
    });
    if (while_waiting) while_waiting();
    const bool ok = loop_.runUntil([&] { return finished.load(); }, 10s);
    client.join();
    if (!ok) return Status(Code::TIMEOUT, "no HTTP reply");
    return std::move(*reply);
  }
  Result<HttpReply> push(const std::string& body, const std::function<void()>& while_waiting = {}) {
    return call("POST", "/v1/push", body, {}, while_waiting);
  }

  // A counter (name with its labels) in /metrics; 0 when absent.
  uint64_t metric(const std::string& name_and_labels) {
    auto m = call("GET", "/metrics", "");
    if (!m.isOk()) return 0;
    const std::string line = "\n" + name_and_labels + " ";
    const size_t at = m->body.find(line);
    return at == std::string::npos ? 0 : std::stoull(m->body.substr(at + line.size()));
  }

  void idle(std::chrono::milliseconds d) {
    loop_.runUntil([] { return false; }, d);
  }

  net::EventLoop loop_;
  std::vector<std::string> events_;
  std::unique_ptr<FakeSaver> saver_;
  FakeRegister register_;
  FakeRoom room_{events_};
  rpc::ServerPtr room_server_, register_server_;
  std::unique_ptr<CenterServer> center_;
  std::unique_ptr<queue::Consumer> consumer_;
};

const std::string kPush = R"({"app":"demo","users":["alice","bob"],"payload":"hi","ttl":600})";

TEST_F(CenterSaverTest, AQos1PushIsStoredBeforeTheRoomGetsItAndOfflineUsersAreStored) {
  start(options(""));
  // Saver holds the Store: the room must get nothing until saver has answered.
  saver_->hold(true);
  auto r = push(kPush, [&] {
    ASSERT_TRUE(loop_.runUntil([&] { return saver_->heldCalls() == 1; }, 5s));
    idle(100ms);
    EXPECT_TRUE(room_.delivered.empty()) << "delivered before the store was answered";
    ASSERT_EQ(events_.size(), 1u);  // the Store arrived, nothing else
    EXPECT_EQ(events_[0].rfind("store ", 0), 0u) << events_[0];
    saver_->hold(false);
  });
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = jsonField(r->body, "messageId");
  ASSERT_FALSE(id.empty()) << r->body;
  EXPECT_EQ(events_, (std::vector<std::string>{"store " + id, "deliver " + id}));
  EXPECT_NE(resultOf(r->body, "alice").find("\"status\":\"delivered\""), std::string::npos)
      << r->body;
  EXPECT_NE(resultOf(r->body, "bob").find("\"status\":\"stored\""), std::string::npos) << r->body;
  EXPECT_EQ(jsonField(r->body, "delivered"), "1") << r->body;
  EXPECT_EQ(jsonField(r->body, "stored"), "1") << r->body;
  EXPECT_EQ(jsonField(r->body, "offline"), "0") << r->body;
  // Both users' inboxes hold it (the online one until its client acks); one Store call with
  // the message as sent: ttl passes through.
  EXPECT_EQ(saver_->inbox("demo", "alice"), std::vector<uint64_t>{std::stoull(id)});
  EXPECT_EQ(saver_->inbox("demo", "bob"), std::vector<uint64_t>{std::stoull(id)});
  ASSERT_EQ(saver_->stores().size(), 1u);
  const Message& m = saver_->stores()[0].items(0).message();
  EXPECT_EQ(m.ttl_s(), 600u);
  EXPECT_EQ(m.qos(), 1u);
  EXPECT_EQ(m.payload(), "hi");
  EXPECT_EQ(m.app(), "demo");
  EXPECT_GT(m.created_ms(), 0);
  EXPECT_EQ(room_.delivered,
            (std::vector<std::pair<uint64_t, std::string>>{{std::stoull(id), "alice"}}));
  EXPECT_GE(metric(R"(push_center_saver_calls_total{method="Store",result="ok"})"), 1u);
  EXPECT_GE(metric(R"(push_center_target_results_total{status="stored"})"), 1u);
}

TEST_F(CenterSaverTest, DevicesOfOneUserAreStoredOnceForTheUser) {
  start(options(""));
  auto r =
      push(R"({"app":"demo","devices":[{"user":"bob","device":"a"},{"user":"bob","device":"b"}],)"
           R"("users":["bob"],"payload":"x"})");
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(saver_->stores().size(), 1u);
  ASSERT_EQ(saver_->stores()[0].items_size(), 1);
  EXPECT_EQ(saver_->stores()[0].items(0).users_size(), 1);
  EXPECT_EQ(jsonField(r->body, "stored"), "3") << r->body;
}

TEST_F(CenterSaverTest, SaverFailingAnswers503AndTheRoomGetsNothing) {
  start(options(""));
  const uint64_t failed_before =
      metric(R"(push_center_saver_calls_total{method="Store",result="failed"})");
  // Saver up but its Redis down: UNAVAILABLE.
  saver_->failWith(Status(Code::UNAVAILABLE, "redis is down"));
  auto r = push(kPush);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage unavailable"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("redis is down"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("messageId"), std::string::npos) << r->body;
  // Saver too slow: the call's deadline (2 s here).
  saver_->failWith(Status::ok());
  saver_->hold(true);
  r = push(kPush);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage unavailable"), std::string::npos) << r->body;
  saver_->hold(false);
  // No saver at all.
  saver_->stop();
  r = push(kPush);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage unavailable"), std::string::npos) << r->body;
  idle(100ms);
  EXPECT_TRUE(room_.delivered.empty());
  for (const auto& e : events_)
    EXPECT_EQ(e.rfind("deliver", 0), std::string::npos) << "the room got " << e;
  EXPECT_GE(metric(R"(push_center_saver_calls_total{method="Store",result="failed"})"),
            failed_before + 3);
  EXPECT_GE(metric("push_center_storage_failed_total"), 3u);
  // Saver back: pushes are stored and delivered again.
  ASSERT_TRUE(saver_->restart().isOk());
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    r = push(kPush);
    ASSERT_TRUE(r.isOk());
    status = r->status;
    if (status != 200) idle(100ms);
  }
  ASSERT_EQ(status, 200) << r->body;
  EXPECT_EQ(room_.delivered.size(), 1u);
}

TEST_F(CenterSaverTest, Qos0IsNeverStored) {
  start(options(""));
  auto r = push(R"({"app":"demo","users":["alice","bob"],"payload":"hi","qos":0})");
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(saver_->storeCalls(), 0u);
  EXPECT_NE(resultOf(r->body, "bob").find("\"status\":\"offline\""), std::string::npos) << r->body;
  EXPECT_EQ(jsonField(r->body, "offline"), "1") << r->body;
  EXPECT_EQ(r->body.find("\"stored\""), std::string::npos) << r->body;
  EXPECT_EQ(room_.delivered.size(), 1u);
  // Saver down does not matter to qos 0.
  saver_->stop();
  r = push(R"({"app":"demo","users":["alice"],"payload":"hi","qos":0})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(CenterSaverTest, WithoutSaverNothingIsStoredAndOfflineUsersAreOffline) {
  start(options("", /*with_saver=*/false));
  auto r = push(kPush);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(saver_->storeCalls(), 0u);
  EXPECT_NE(resultOf(r->body, "bob").find("\"status\":\"offline\""), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("\"stored\""), std::string::npos) << r->body;
}

// ---- broadcasts (real push-queued) ----

class CenterSaverBroadcastTest : public CenterSaverTest {
 protected:
  void SetUp() override {
    if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
    CenterSaverTest::SetUp();
    auto d = NsqDaemon::start("queued");
    ASSERT_TRUE(d.isOk()) << d.status().toString();
    queued_ = std::move(d).value();
  }
  std::string queuedLine() { return "queued: \"" + queued_->tcpAddress() + "\"\n"; }
  void subscribe() {
    queue::Consumer::Options o;
    o.topic = "bcast.demo";
    o.channel = "test";
    o.nsqd_tcp_addresses = {queued_->tcpAddress()};
    auto c = queue::Consumer::create(loop_, o, [this](queue::Message m) {
      broadcast::BroadcastMessage b;
      EXPECT_TRUE(b.ParseFromString(m.body()));
      received_.push_back(b);
      m.finish();
    });
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    consumer_ = std::move(c).value();
  }
  Result<HttpReply> broadcast(const std::string& body) {
    return call("POST", "/v1/broadcast", body);
  }

  std::unique_ptr<NsqDaemon> queued_;
  std::vector<broadcast::BroadcastMessage> received_;
};

TEST_F(CenterSaverBroadcastTest, Qos1GetsSaversSequenceQos0GetsZero) {
  start(options(queuedLine()));
  auto r1 = broadcast(R"({"app":"demo","payload":"one"})");
  ASSERT_TRUE(r1.isOk());
  ASSERT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(jsonField(r1->body, "sequence"), "1") << r1->body;
  auto r2 = broadcast(R"({"app":"demo","payload":"two","ttl":60})");
  ASSERT_TRUE(r2.isOk());
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(jsonField(r2->body, "sequence"), "2") << r2->body;
  auto r0 = broadcast(R"({"app":"demo","payload":"zero","qos":0})");
  ASSERT_TRUE(r0.isOk());
  ASSERT_EQ(r0->status, 200) << r0->body;
  EXPECT_EQ(jsonField(r0->body, "sequence"), "0") << r0->body;
  EXPECT_EQ(saver_->broadcastCalls(), 2u);  // qos 0 never reached saver
  // Saver's log has the two qos 1 broadcasts as published.
  ASSERT_EQ(saver_->broadcasts("demo").size(), 2u);
  EXPECT_EQ(saver_->broadcasts("demo")[1].message_id(),
            std::stoull(jsonField(r2->body, "messageId")));
  EXPECT_GT(saver_->broadcasts("demo")[1].expires_ms(), 0u);

  // On queued: each carries the sequence center answered.
  subscribe();
  ASSERT_TRUE(loop_.runUntil([&] { return received_.size() >= 3; }, 10s));
  idle(200ms);
  ASSERT_EQ(received_.size(), 3u);
  std::map<std::string, uint64_t> sequence_of;
  for (const auto& b : received_)
    sequence_of[b.payload()] = b.sequence();
  EXPECT_EQ(sequence_of["one"], 1u);
  EXPECT_EQ(sequence_of["two"], 2u);
  EXPECT_EQ(sequence_of["zero"], 0u);
  for (const auto& b : received_) {
    if (b.payload() == "two") {
      EXPECT_EQ(std::to_string(b.message_id()), jsonField(r2->body, "messageId"));
    }
  }
  EXPECT_GE(metric(R"(push_center_saver_calls_total{method="StoreBroadcast",result="ok"})"), 2u);
}

TEST_F(CenterSaverBroadcastTest, SaverFailingAnswers503AndPublishesNothing) {
  start(options(queuedLine()));
  saver_->failWith(Status(Code::UNAVAILABLE, "redis is down"));
  auto r = broadcast(R"({"app":"demo","payload":"lost"})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage unavailable"), std::string::npos) << r->body;
  saver_->stop();
  r = broadcast(R"({"app":"demo","payload":"lost too"})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage unavailable"), std::string::npos) << r->body;
  EXPECT_GE(metric(R"(push_center_broadcasts_failed_total{reason="storage"})"), 2u);
  // Saver back: the next broadcast is the first one on queued, with sequence 1.
  ASSERT_TRUE(saver_->restart().isOk());
  saver_->failWith(Status::ok());
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    r = broadcast(R"({"app":"demo","payload":"good"})");
    ASSERT_TRUE(r.isOk());
    status = r->status;
    if (status != 200) idle(100ms);
  }
  ASSERT_EQ(status, 200) << r->body;
  EXPECT_EQ(jsonField(r->body, "sequence"), "1") << r->body;
  subscribe();
  ASSERT_TRUE(loop_.runUntil([&] { return !received_.empty(); }, 10s));
  idle(300ms);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].payload(), "good");
  EXPECT_EQ(received_[0].sequence(), 1u);
}

// ---- job chunks (real push-queued and redis-server) ----

class CenterSaverJobTest : public CenterSaverBroadcastTest {
 protected:
  void SetUp() override {
    if (RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
    CenterSaverBroadcastTest::SetUp();
    if (IsSkipped()) return;
    auto r = RedisServer::start();
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    redis_ = std::move(r).value();
  }
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(CenterSaverJobTest, AChunkSaverRefusedIsRedeliveredAndCompletesOnceSaverIsBack) {
  CenterOptions o = options(queuedLine() + "redis: \"" + redis_->address() + "\"\n");
  o.jobs.requeue_delay = 100ms;
  o.jobs.max_attempts = 1000;  // the chunk keeps coming back while saver refuses
  start(std::move(o));
  saver_->failWith(Status(Code::UNAVAILABLE, "redis is down"));
  auto accepted = call("POST", "/v1/push/job",
                       "{\"app\":\"demo\",\"payload\":\"job\",\"ttl\":900}\nalice\nbob\ncarol\n",
                       {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(accepted.isOk()) << accepted.status().toString();
  ASSERT_EQ(accepted->status, 202) << accepted->body;
  const std::string job = jsonField(accepted->body, "jobId");
  const std::string id = jsonField(accepted->body, "messageId");
  // The chunk is tried, refused by saver, requeued, tried again: nothing delivered meanwhile.
  ASSERT_TRUE(loop_.runUntil([&] { return saver_->storeCalls() >= 3; }, 15s));
  EXPECT_TRUE(room_.delivered.empty());
  auto progress = call("GET", "/v1/jobs/" + job, "");
  ASSERT_TRUE(progress.isOk());
  EXPECT_EQ(jsonField(progress->body, "state"), "running") << progress->body;
  EXPECT_EQ(jsonField(progress->body, "chunksDone"), "0") << progress->body;
  EXPECT_GE(metric(R"(push_center_job_chunks_total{result="requeued"})"), 2u);

  saver_->failWith(Status::ok());
  std::string state;
  for (int i = 0; i < 100 && state != "done"; ++i) {
    progress = call("GET", "/v1/jobs/" + job, "");
    ASSERT_TRUE(progress.isOk());
    state = jsonField(progress->body, "state");
    if (state != "done") idle(100ms);
  }
  ASSERT_EQ(state, "done") << progress->body;
  EXPECT_EQ(jsonField(progress->body, "delivered"), "1") << progress->body;
  EXPECT_EQ(jsonField(progress->body, "stored"), "2") << progress->body;
  EXPECT_EQ(jsonField(progress->body, "offline"), "0") << progress->body;
  EXPECT_EQ(jsonField(progress->body, "failed"), "0") << progress->body;
  // Stored (with its ttl) before it was delivered, for every user of the chunk.
  for (const char* user : {"alice", "bob", "carol"})
    EXPECT_EQ(saver_->inbox("demo", user), std::vector<uint64_t>{std::stoull(id)}) << user;
  ASSERT_FALSE(saver_->stores().empty());
  EXPECT_EQ(saver_->stores()[0].items(0).message().ttl_s(), 900u);
  ASSERT_GE(events_.size(), 2u);
  EXPECT_EQ(events_.back(), "deliver " + id);
  EXPECT_EQ(room_.delivered,
            (std::vector<std::pair<uint64_t, std::string>>{{std::stoull(id), "alice"}}));
}

}  // namespace
}  // namespace push::center
