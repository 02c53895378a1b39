// POST /v1/broadcast against a REAL push-queued process (tests/support NsqDaemon): CenterServer
// runs on this thread's loop, the API is called by a blocking HTTP client on a helper thread,
// and what center published is read back from queued with a queue::Consumer on the same loop.
// Skipped when push-queued is not built ($PUSH_BIN_DIR).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/base/id_generator.h"
#include "common/net/event_loop.h"
#include "common/queue/client/consumer.h"
#include "proto/broadcast.pb.h"
#include "proto/config.pb.h"
#include "services/center/broadcast_api.h"
#include "services/center/center_server.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;
using ::push::testing::HttpReply;
using ::push::testing::NsqDaemon;

constexpr char kDemoKey[] = "demo-key-0123456789abcdef";
constexpr char kOtherKey[] = "other-key-0123456789abcde";

Result<CenterOptions> optionsWith(const std::string& queued_lines) {
  config::CenterConfig cfg;
  auto file = ConfigFile::parse(std::string(R"(
      http { listen { address: "127.0.0.1:0" } }
      register { shards { address: "127.0.0.1:1" slots: "0-1023" } }
      apps { name: "demo" api_keys: ")") +
                                    kDemoKey + R"(" broadcast_rate_per_s: 1000 }
      apps { name: "other" api_keys: ")" +
                                    kOtherKey + R"(" }
      queued_timeout_ms: 2000
      )" + queued_lines,
                                "center.conf", &cfg);
  if (!file.isOk()) return file.status();
  return CenterOptions::fromConfig(cfg, file->get());
}

// The "messageId"/"sequence" string values of a 200 answer ("" when absent).
std::string jsonString(const std::string& body, const std::string& key) {
  const std::string k = "\"" + key + "\":\"";
  const size_t at = body.find(k);
  if (at == std::string::npos) return "";
  const size_t end = body.find('"', at + k.size());
  return body.substr(at + k.size(), end - at - k.size());
}

class CenterBroadcastTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
    auto d = NsqDaemon::start("queued");
    ASSERT_TRUE(d.isOk()) << d.status().toString();
    queued_ = std::move(d).value();
  }
  void TearDown() override {
    consumer_.reset();
    if (center_) {
      bool done = false;
      center_->stop([&] { done = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return done; }, 10s));
      center_.reset();
    }
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  void start(Result<CenterOptions> o) {
    ASSERT_TRUE(o.isOk()) << o.status().toString();
    auto created = CenterServer::create(loop_, std::move(o).value());
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    center_ = std::move(created).value();
    Status st = center_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  void startWithQueued() { start(optionsWith("queued: \"" + queued_->tcpAddress() + "\"")); }

  Result<HttpReply> call(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    std::optional<Result<HttpReply>> reply;
    std::atomic<bool> finished{false};
    const std::string address = center_->address().toString();
    std::thread client([&] {
      reply.emplace(::push::testing::httpRequest(address, method, path, body, headers, 8s));
      finished = true;
      loop_.post([] {});  // wake the loop
    });
    const bool ok = loop_.runUntil([&] { return finished.load(); }, 10s);
    client.join();
    if (!ok) return Status(Code::TIMEOUT, "no HTTP reply");
    return std::move(*reply);
  }
  Result<HttpReply> broadcast(const std::string& body, const std::string& key = kDemoKey) {
    return call("POST", "/v1/broadcast", body, key);
  }

  // Subscribes to bcast.<app> on queued; messages land in received_.
  void subscribe(const std::string& app) {
    queue::Consumer::Options o;
    o.topic = "bcast." + app;
    o.channel = "test";
    o.nsqd_tcp_addresses = {queued_->tcpAddress()};
    auto c = queue::Consumer::create(loop_, o, [this](queue::Message m) {
      received_.push_back(m.body());
      m.finish();
    });
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    consumer_ = std::move(c).value();
  }

  // A counter with labels in /metrics (0 when absent).
  uint64_t metric(const std::string& name_and_labels) {
    auto m = call("GET", "/metrics", "", "");
    if (!m.isOk()) return 0;
    const std::string line = "\n" + name_and_labels + " ";
    const size_t at = m->body.find(line);
    return at == std::string::npos ? 0 : std::stoull(m->body.substr(at + line.size()));
  }

  net::EventLoop loop_;
  std::unique_ptr<NsqDaemon> queued_;
  std::unique_ptr<CenterServer> center_;
  std::unique_ptr<queue::Consumer> consumer_;
  std::vector<std::string> received_;
};

TEST_F(CenterBroadcastTest, PublishesOneBroadcastMessageToTheAppsTopic) {
  startWithQueued();
  const uint64_t accepted_before = metric(R"(push_center_broadcasts_total{result="accepted"})");
  const int64_t before_ms = Clock::system().wallMillis();
  auto r = broadcast(R"({"app":"demo","payloadBase64":"AAH/","qos":0,"ttl":60,"tag":"sports"})");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = jsonString(r->body, "messageId");
  const std::string seq = jsonString(r->body, "sequence");
  ASSERT_FALSE(id.empty()) << r->body;
  ASSERT_FALSE(seq.empty()) << r->body;
  // Today the sequence is the id (BroadcastApi::sequenceFor).
  EXPECT_EQ(seq, id);
  EXPECT_EQ(IdGenerator::nodeOf(std::stoull(id)), 0u);

  // It is in queued: the topic holds exactly this message, which decodes to the contract.
  subscribe("demo");
  ASSERT_TRUE(loop_.runUntil([&] { return !received_.empty(); }, 10s));
  broadcast::BroadcastMessage m;
  ASSERT_TRUE(m.ParseFromString(received_[0]));
  EXPECT_EQ(m.message_id(), std::stoull(id));
  EXPECT_EQ(m.app(), "demo");
  EXPECT_EQ(m.sequence(), std::stoull(seq));
  EXPECT_EQ(m.payload(), std::string("\x00\x01\xff", 3));
  EXPECT_EQ(m.qos(), 0u);
  EXPECT_GE(m.created_ms(), static_cast<uint64_t>(before_ms));
  EXPECT_LE(m.created_ms(), static_cast<uint64_t>(Clock::system().wallMillis()));
  EXPECT_EQ(m.expires_ms(), m.created_ms() + 60'000);
  EXPECT_EQ(m.tag(), "sports");

  // Defaults: qos 1, no ttl (never expires), no tag; a later broadcast has a larger sequence.
  r = broadcast(R"({"app":"demo","payload":"hello all"})");
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_GT(std::stoull(jsonString(r->body, "sequence")), std::stoull(seq));
  ASSERT_TRUE(loop_.runUntil([&] { return received_.size() >= 2; }, 10s));
  broadcast::BroadcastMessage m2;
  ASSERT_TRUE(m2.ParseFromString(received_[1]));
  EXPECT_EQ(m2.payload(), "hello all");
  EXPECT_EQ(m2.qos(), 1u);
  EXPECT_EQ(m2.expires_ms(), 0u);
  EXPECT_EQ(m2.tag(), "");
  EXPECT_EQ(metric(R"(push_center_broadcasts_total{result="accepted"})"), accepted_before + 2);
  // Nothing else was published (no duplicate).
  loop_.runUntil([] { return false; }, 300ms);
  EXPECT_EQ(received_.size(), 2u);
}

TEST_F(CenterBroadcastTest, BadInputGetsTheDocumented4xxAndPublishesNothing) {
  startWithQueued();
  struct Case {
    const char* what;
    std::string body, key;
    int status;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"no key", R"({"app":"demo","payload":"x"})", "", 401, "API key"},
      {"bad key", R"({"app":"demo","payload":"x"})", "demo-key-0123456789abcdeX", 401, "API key"},
      {"unknown app", R"({"app":"nosuchapp","payload":"x"})", kDemoKey, 401, "API key"},
      {"another app's key", R"({"app":"demo","payload":"x"})", kOtherKey, 401, "API key"},
      {"bad tag", R"({"app":"demo","payload":"x","tag":"a b"})", kDemoKey, 400, "tag"},
      {"long tag", R"({"app":"demo","payload":"x","tag":")" + std::string(65, 't') + "\"}",
       kDemoKey, 400, "tag"},
      {"payload too big", R"({"app":"demo","payload":")" + std::string(4097, 'x') + "\"}", kDemoKey,
       400, "payload over 4096"},
      {"bad base64", R"({"app":"demo","payloadBase64":"@@@@"})", kDemoKey, 400, "base64"},
      {"ttl out of range", R"({"app":"demo","payload":"x","ttl":2592001})", kDemoKey, 400, "ttl"},
      {"qos 2", R"({"app":"demo","payload":"x","qos":2})", kDemoKey, 400, "qos"},
      {"not json", "{", kDemoKey, 400, ""},
  };
  for (const Case& c : cases) {
    auto r = broadcast(c.body, c.key);
    ASSERT_TRUE(r.isOk()) << c.what << ": " << r.status().toString();
    EXPECT_EQ(r->status, c.status) << c.what << ": " << r->body;
    EXPECT_NE(r->body.find(c.mentions), std::string::npos) << c.what << ": " << r->body;
    if (c.status == 401) {
      EXPECT_EQ(r->header("WWW-Authenticate"), "Bearer") << c.what;
    }
  }
  EXPECT_GE(metric(R"(push_center_broadcasts_refused_total{reason="bad_request"})"), 7u);
  // Nothing reached queued: a good broadcast afterwards is the first message of the topic.
  auto ok = broadcast(R"({"app":"demo","payload":"good"})");
  ASSERT_TRUE(ok.isOk());
  ASSERT_EQ(ok->status, 200) << ok->body;
  subscribe("demo");
  ASSERT_TRUE(loop_.runUntil([&] { return !received_.empty(); }, 10s));
  loop_.runUntil([] { return false; }, 300ms);
  ASSERT_EQ(received_.size(), 1u);
  broadcast::BroadcastMessage m;
  ASSERT_TRUE(m.ParseFromString(received_[0]));
  EXPECT_EQ(m.payload(), "good");
}

TEST_F(CenterBroadcastTest, PerAppBroadcastRateLimitAnswers429SeparatelyFromPush) {
  auto o = optionsWith("queued: \"" + queued_->tcpAddress() + "\"");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  o->apps[0].broadcast_rate_per_s = 0.01;  // one token per 100 s
  o->apps[0].broadcast_burst = 2;
  start(std::move(o));
  const uint64_t limited_before =
      metric(R"(push_center_broadcasts_refused_total{reason="rate_limited"})");
  for (int i = 0; i < 2; ++i) {
    auto r = broadcast(R"({"app":"demo","payload":"x"})");
    ASSERT_TRUE(r.isOk());
    EXPECT_EQ(r->status, 200) << i << ": " << r->body;
  }
  auto r = broadcast(R"({"app":"demo","payload":"x"})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_GE(std::atoi(r->header("Retry-After").c_str()), 1) << r->body;
  EXPECT_NE(r->body.find("broadcast rate limit"), std::string::npos) << r->body;
  EXPECT_EQ(metric(R"(push_center_broadcasts_refused_total{reason="rate_limited"})"),
            limited_before + 1);
  // The unicast limiter is another bucket: a push is still admitted (it then fails at the
  // register lookup, as nothing runs there — anything but 429).
  auto p = call("POST", "/v1/push", R"({"app":"demo","users":["a"],"payload":"x"})", kDemoKey);
  ASSERT_TRUE(p.isOk());
  EXPECT_NE(p->status, 429) << p->body;
  // Another app's broadcast bucket is its own.
  auto other = broadcast(R"({"app":"other","payload":"x"})", kOtherKey);
  ASSERT_TRUE(other.isOk());
  EXPECT_EQ(other->status, 200) << other->body;
}

TEST_F(CenterBroadcastTest, WithoutQueuedBroadcastAnswers501) {
  start(optionsWith(""));
  auto r = broadcast(R"({"app":"demo","payload":"x"})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 501) << r->body;
  EXPECT_NE(r->body.find("not enabled"), std::string::npos) << r->body;
  // The key is still checked first.
  r = broadcast(R"({"app":"demo","payload":"x"})", "");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 401) << r->body;
}

TEST_F(CenterBroadcastTest, QueuedDownAnswers503AndCenterRecoversWhenItIsBack) {
  startWithQueued();
  auto r = broadcast(R"({"app":"demo","payload":"before"})");
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  queued_->stop();
  r = broadcast(R"({"app":"demo","payload":"while down"})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("queued"), std::string::npos) << r->body;
  EXPECT_GE(metric(R"(push_center_broadcasts_failed_total{reason="unavailable"})") +
                metric(R"(push_center_broadcasts_failed_total{reason="timeout"})"),
            1u);
  ASSERT_TRUE(queued_->resume().isOk());
  // The producer reconnects (backoff up to 2 s): within a few tries a broadcast is taken.
  int status = 0;
  const int64_t deadline = Clock::system().wallMillis() + 15'000;
  while (status != 200 && Clock::system().wallMillis() < deadline) {
    r = broadcast(R"({"app":"demo","payload":"after"})");
    ASSERT_TRUE(r.isOk());
    status = r->status;
    if (status != 200) {
      EXPECT_EQ(status, 503) << r->body;
      loop_.runUntil([] { return false; }, 200ms);
    }
  }
  ASSERT_EQ(status, 200) << r->body;
  // "before" (queued keeps it across the restart: SIGTERM writes memory to disk) and "after";
  // nothing of the 503 ("while down") was stored.
  subscribe("demo");
  ASSERT_TRUE(loop_.runUntil([&] { return received_.size() >= 2; }, 10s));
  std::vector<std::string> payloads;
  for (const auto& body : received_) {
    broadcast::BroadcastMessage m;
    ASSERT_TRUE(m.ParseFromString(body));
    payloads.push_back(m.payload());
  }
  // (In either order: queued hands out what it recovered from disk and what is new as it may.)
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ(payloads, (std::vector<std::string>{"after", "before"}));
}

TEST(CenterBroadcastOptionsTest, QueuedNeedsTopicSafeAppNamesAndGoodAddresses) {
  auto ok = optionsWith("queued: \"127.0.0.1:4150\" queued: \"127.0.0.1:4152\"");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->broadcast.queued.size(), 2u);
  EXPECT_EQ(ok->broadcast.producer.timeout, 2000ms);
  EXPECT_EQ(ok->apps[0].broadcast_rate_per_s, 1000);
  EXPECT_EQ(ok->apps[0].broadcast_burst, 2000);
  EXPECT_EQ(ok->apps[1].broadcast_rate_per_s, 10);  // the defaults
  EXPECT_EQ(ok->apps[1].broadcast_burst, 20);
  auto bad_address = optionsWith("queued: \"not an address\"");
  ASSERT_FALSE(bad_address.isOk());
  EXPECT_NE(bad_address.status().message().find("queued"), std::string::npos);
  CenterOptions o = *ok;
  o.apps[0].name = "has space";
  Status st = o.validateBroadcast();
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("has space"), std::string::npos) << st.message();
  o.apps[0].name = std::string(59, 'a');  // "bcast." + 59 = 65 > 64
  EXPECT_FALSE(o.validateBroadcast().isOk());
  o.apps[0].name = std::string(58, 'a');
  EXPECT_TRUE(o.validateBroadcast().isOk());
  o.broadcast.queued.clear();  // no queued: any app name is fine
  o.apps[0].name = "has space";
  EXPECT_TRUE(o.validateBroadcast().isOk());
  EXPECT_EQ(broadcastTopic("demo"), "bcast.demo");
}

}  // namespace
}  // namespace push::center
