// CenterServer on a real loop: the API on 127.0.0.1 port 0, called by a blocking HTTP client
// on a helper thread while the test thread runs the loop. No register or room runs: these
// tests cover what center answers before it needs them (keys, the per-address failure limit,
// body errors) and stop() with nothing in flight.
#include "services/center/center_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "proto/config.pb.h"
#include "tests/support/http_client.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;
using ::push::testing::HttpReply;

constexpr char kDemoKey[] = "demo-key-0123456789abcdef";
constexpr char kOtherKey[] = "other-key-0123456789abcde";  // same length as kDemoKey
constexpr char kWrongKey[] = "demo-key-0123456789abcdeX";  // same length, last byte differs

CenterOptions testOptions() {
  config::CenterConfig cfg;
  auto file = ConfigFile::parse(std::string(R"(
      http { listen { address: "127.0.0.1:0" } }
      register { shards { address: "127.0.0.1:1" slots: "0-1023" } }
      apps { name: "demo" api_keys: ")") +
                                    kDemoKey + R"(" }
      apps { name: "other" api_keys: ")" +
                                    kOtherKey + R"(" })",
                                "center.conf", &cfg);
  EXPECT_TRUE(file.isOk()) << file.status().toString();
  auto o = CenterOptions::fromConfig(cfg, file->get());
  EXPECT_TRUE(o.isOk()) << o.status().toString();
  o->auth_failures.burst = 100;  // tests below fail many checks on purpose
  o->stop_grace = 2s;
  return std::move(o).value();
}

class CenterServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (center_ && !stopped_) stop();
    center_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  void start(CenterOptions o = testOptions()) {
    auto created = CenterServer::create(loop_, std::move(o));
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    center_ = std::move(created).value();
    Status st = center_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
  }

  void stop() {
    bool done = false;
    center_->stop([&] { done = true; });
    EXPECT_TRUE(loop_.runUntil([&] { return done; }, 10s));
    stopped_ = true;
  }

  // One request on a helper thread while this thread runs the loop.
  Result<HttpReply> call(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& key) {
    return callAt(center_->address().toString(), method, path, body, key);
  }
  Result<HttpReply> callAt(const std::string& address, const std::string& method,
                           const std::string& path, const std::string& body,
                           const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    std::optional<Result<HttpReply>> reply;
    std::atomic<bool> finished{false};
    std::thread client([&] {
      reply.emplace(::push::testing::httpRequest(address, method, path, body, headers, 5s));
      finished = true;
      loop_.post([] {});  // wake the loop
    });
    const bool ok = loop_.runUntil([&] { return finished.load(); }, 10s);
    client.join();
    if (!ok) return Status(Code::TIMEOUT, "no HTTP reply");
    return std::move(*reply);
  }

  // The value of an unlabelled counter in /metrics (0 when absent).
  uint64_t metric(const std::string& name) {
    auto m = call("GET", "/metrics", "", "");
    if (!m.isOk()) return 0;
    const std::string line = "\n" + name + " ";
    const size_t at = m->body.find(line);
    return at == std::string::npos ? 0 : std::stoull(m->body.substr(at + line.size()));
  }

  net::EventLoop loop_;
  std::unique_ptr<CenterServer> center_;
  bool stopped_ = false;
};

const std::string kPushDemo = R"({"app":"demo","users":["alice"],"payload":"hi"})";

TEST_F(CenterServerTest, EveryFailedKeyCheckGetsTheSame401) {
  start();
  struct Case {
    const char* what;
    std::string method, path, body, key;
  };
  const std::vector<Case> cases = {
      {"no key", "POST", "/v1/push", kPushDemo, ""},
      {"wrong key of the same length", "POST", "/v1/push", kPushDemo, kWrongKey},
      {"a key of another app", "POST", "/v1/push", kPushDemo, kOtherKey},
      {"an unknown app", "POST", "/v1/push",
       R"({"app":"nosuchapp","users":["alice"],"payload":"hi"})", kDemoKey},
      {"users: no key", "GET", "/v1/apps/demo/users/alice", "", ""},
      {"users: wrong key", "GET", "/v1/apps/demo/users/alice", "", kWrongKey},
      {"users: another app's key", "GET", "/v1/apps/demo/users/alice", "", kOtherKey},
      {"users: unknown app", "GET", "/v1/apps/nosuchapp/users/alice", "", kDemoKey},
      {"kick: another app's key", "POST", "/v1/apps/demo/users/alice/kick", "", kOtherKey},
      {"kick: unknown app", "POST", "/v1/apps/nosuchapp/users/alice/kick", "", kDemoKey},
  };
  const uint64_t failures_before = metric("push_center_auth_failures_total");
  std::optional<std::string> first_body;
  for (const Case& c : cases) {
    auto r = call(c.method, c.path, c.body, c.key);
    ASSERT_TRUE(r.isOk()) << c.what << ": " << r.status().toString();
    EXPECT_EQ(r->status, 401) << c.what << ": " << r->body;
    EXPECT_EQ(r->header("WWW-Authenticate"), "Bearer") << c.what;
    if (!first_body) first_body = r->body;
    EXPECT_EQ(r->body, *first_body) << c.what;
  }
  EXPECT_EQ(metric("push_center_auth_failures_total"), failures_before + cases.size());
}

TEST_F(CenterServerTest, TheKeyIsCheckedBeforeTheBody) {
  start();
  auto r = call("POST", "/v1/push", "{not json", "");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 401) << r->body;
  r = call("POST", "/v1/push", "{not json", kWrongKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 401) << r->body;
  // The right key: now the body is read, and its errors are 400s that name the rule.
  r = call("POST", "/v1/push", "{not json", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  r = call("POST", "/v1/push", R"({"app":"demo","users":["a"],"qos":3})", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("qos"), std::string::npos) << r->body;
  r = call("GET", "/v1/apps/demo/users/a%09b", "", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  r = call("POST", "/v1/apps/demo/users/alice/kick",
           R"({"reason":")" + std::string(257, 'r') + "\"}", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("reason"), std::string::npos) << r->body;
}

TEST_F(CenterServerTest, FailedChecksFromOneAddressAreThrottledBeforeTheKeyIsLookedAt) {
  CenterOptions o = testOptions();
  o.auth_failures.burst = 3;
  o.auth_failures.rate_per_s = 0.01;  // one failure forgiven per 100 s
  start(std::move(o));
  const uint64_t throttled_before = metric("push_center_auth_throttled_total");
  for (int i = 0; i < 3; ++i) {
    auto r = call("POST", "/v1/push", kPushDemo, kWrongKey);
    ASSERT_TRUE(r.isOk());
    EXPECT_EQ(r->status, 401) << i << ": " << r->body;
  }
  // Over the limit: 429 with Retry-After, whatever the key (the right one included).
  for (const char* key : {kWrongKey, "", kDemoKey}) {
    auto r = call("POST", "/v1/push", "{not json", key);
    ASSERT_TRUE(r.isOk());
    EXPECT_EQ(r->status, 429) << r->body;
    EXPECT_GE(std::atoi(r->header("Retry-After").c_str()), 1) << r->body;
  }
  auto r = call("GET", "/v1/apps/demo/users/alice", "", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(metric("push_center_auth_throttled_total"), throttled_before + 4);
  // The admin endpoints on the API port take no key and are not throttled.
  auto health = call("GET", "/healthz", "", "");
  ASSERT_TRUE(health.isOk());
  EXPECT_EQ(health->status, 200);
}

TEST_F(CenterServerTest, AppRateLimitAnswers429WithRetryAfter) {
  CenterOptions o = testOptions();
  o.apps[0].rate_per_s = 0.01;
  o.apps[0].burst = 1;
  start(std::move(o));
  auto r = call("POST", "/v1/push", R"({"app":"demo","users":["a"],"qos":3})", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;  // took the one token
  r = call("POST", "/v1/push", kPushDemo, kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_GE(std::atoi(r->header("Retry-After").c_str()), 1);
}

TEST_F(CenterServerTest, StopWithNothingInFlightEndsPromptlyAndClosesThePort) {
  start();
  auto health = call("GET", "/healthz", "", "");
  ASSERT_TRUE(health.isOk());
  EXPECT_EQ(health->status, 200);
  const auto started = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms) << "waited for stop_grace";
  EXPECT_TRUE(center_->stopping());
  EXPECT_EQ(center_->pendingRequests(), 0u);
}

// A load balancer polling /healthz on a kept-alive connection: stop() must not wait for it
// (only /v1 traffic keeps a stopping center open); its connection is closed at the end.
TEST_F(CenterServerTest, HealthChecksOnAKeptAliveConnectionDoNotHoldStopOpen) {
  CenterOptions o = testOptions();
  o.stop_grace = 8s;
  start(std::move(o));
  auto addr = net::InetAddress::parse(center_->address().toString());
  ASSERT_TRUE(addr.isOk());
  const int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::connect(fd, addr->sockaddrPtr(), addr->length()), 0);
  std::atomic<bool> quit{false}, closed_by_server{false};
  std::atomic<int> answers{0};
  std::thread poller([&] {
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    while (!quit) {
      if (::send(fd, get.data(), get.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(get.size())) {
        closed_by_server = true;
        return;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      char buf[4096];
      if (::recv(fd, buf, sizeof buf, 0) <= 0) {
        closed_by_server = true;
        return;
      }
      ++answers;
      std::this_thread::sleep_for(10ms);
    }
  });
  ASSERT_TRUE(loop_.runUntil([&] { return answers.load() >= 2; }, 5s, 10ms));
  const auto started = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "stop waited for the poller";
  poller.join();
  quit = true;
  ::close(fd);
  EXPECT_TRUE(closed_by_server.load());
}

// A request waiting for register (which accepts connections and never answers) holds stop()
// open; meanwhile /healthz says "stopping"; at stop_grace the request is answered 503.
TEST_F(CenterServerTest, StopAnswersWhatStillWaitsAtTheGraceDeadlineWith503) {
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  auto any = net::InetAddress::parse("127.0.0.1:0");
  ASSERT_TRUE(any.isOk());
  ASSERT_EQ(::bind(silent, any->sockaddrPtr(), any->length()), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  const std::string silent_address =
      net::InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss)).toString();

  CenterOptions o = testOptions();
  o.register_client.shards[0].address = silent_address;
  o.register_client.channel.timeout = 30s;
  o.stop_grace = 500ms;
  o.admin.address = "127.0.0.1:0";
  start(std::move(o));

  std::optional<Result<HttpReply>> waiting;
  std::atomic<bool> answered{false};
  const std::string address = center_->address().toString();
  std::thread client([&] {
    waiting.emplace(
        ::push::testing::httpRequest(address, "GET", "/v1/apps/demo/users/alice", "",
                                     {{"Authorization", std::string("Bearer ") + kDemoKey}}, 10s));
    answered = true;
    loop_.post([] {});
  });
  ASSERT_TRUE(loop_.runUntil([&] { return center_->pendingRequests() == 1; }, 5s, 10ms));
  bool done = false;
  center_->stop([&] { done = true; });
  // The API port takes no new connection (they go to the other workers); the admin port
  // still answers, and says so.
  auto refused = call("GET", "/healthz", "", "");
  EXPECT_FALSE(refused.isOk()) << "a new API connection was accepted while stopping";
  auto health = callAt(center_->adminAddress().toString(), "GET", "/healthz", "", "");
  ASSERT_TRUE(health.isOk()) << health.status().toString();
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("stopping"), std::string::npos) << health->body;
  EXPECT_FALSE(answered.load());
  EXPECT_EQ(center_->pendingRequests(), 1u);
  EXPECT_TRUE(loop_.runUntil([&] { return done && answered.load(); }, 5s));
  stopped_ = true;
  client.join();
  ::close(silent);
  ASSERT_TRUE(waiting && waiting->isOk()) << (waiting ? waiting->status().toString() : "");
  EXPECT_EQ((*waiting)->status, 503);
  EXPECT_NE((*waiting)->body.find("stopping"), std::string::npos) << (*waiting)->body;
}

TEST_F(CenterServerTest, BatchChecksKeyBodyAndRateLimitBeforeSendingAnything) {
  CenterOptions o = testOptions();
  o.apps[0].rate_per_s = 0.01;  // no refill within the test
  o.apps[0].burst = 8;
  o.register_client.channel.timeout = 1s;  // no register at 127.0.0.1:1: lookups fail fast
  start(std::move(o));
  const std::string one = R"({"users":["alice"],"payload":"hi"})";
  const std::string three = R"({"app":"demo","pushes":[)" + one + "," + one + "," + one + "]}";
  for (const char* key : {"", kWrongKey, kOtherKey}) {
    auto r = call("POST", "/v1/push/batch", three, key);
    ASSERT_TRUE(r.isOk());
    EXPECT_EQ(r->status, 401) << r->body;
  }
  // From here each request takes a token before its body is read (8 in the bucket).
  auto r = call("POST", "/v1/push/batch", R"({"app":"other","pushes":[)" + one + "]}", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 401) << "the body's app is not the key's: " << r->body;
  r = call("POST", "/v1/push/batch",
           R"({"app":"demo","pushes":[)" + one + R"(,{"users":["a\u0001"]}]})", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("pushes[1]"), std::string::npos) << r->body;
  // More pushes than the app's burst can ever take: 400, not a 429 that never clears.
  std::string nine = R"({"app":"demo","pushes":[)" + one;
  for (int i = 0; i < 8; ++i)
    nine += "," + one;
  r = call("POST", "/v1/push/batch", nine + "]}", kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("burst"), std::string::npos) << r->body;

  // 5 tokens left; three taken; the lookups fail (no register): 200 with each push's error.
  const uint64_t pushes_before = metric("push_center_pushes_total");
  r = call("POST", "/v1/push/batch", three, kDemoKey);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"failed\":3"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("session lookup failed"), std::string::npos) << r->body;
  EXPECT_EQ(metric("push_center_pushes_total"), pushes_before + 3);
  // Two tokens left: one taken before the body, then a batch of three is refused whole.
  r = call("POST", "/v1/push/batch", three, kDemoKey);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_GE(std::atoi(r->header("Retry-After").c_str()), 1);
  EXPECT_EQ(metric("push_center_pushes_total"), pushes_before + 3);
}

}  // namespace
}  // namespace push::center
