#include "services/coordinator/coordinator_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/config.pb.h"
#include "proto/coordinator.pb.h"
#include "proto/room.pb.h"
#include "services/coordinator/coordinator_service.h"
#include "services/coordinator/webhook_body.h"
#include "tests/support/config_test_util.h"
#include "tests/unit/coordinator/test_webhook.h"

namespace push::coord {
namespace {

using namespace std::chrono_literals;
using testing::TestWebhook;

// A CoordinatorServer, a test webhook and an RPC client, all on the test's loop.
class CoordinatorServerTest : public ::testing::Test {
 protected:
  void SetUp() override { webhook_ = std::make_unique<TestWebhook>(loop_); }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    if (server_) {
      bool stopped = false;
      server_->stop([&] { stopped = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return stopped; }, 10s));
      server_.reset();
    }
    webhook_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  AppSettings app(const std::string& name, const std::string& path) {
    AppSettings a;
    a.name = name;
    a.upstream_url = webhook_->url(path);
    return a;
  }

  CoordinatorOptions options() {
    CoordinatorOptions o;
    o.retry.max_attempts = 3;
    o.retry.min_backoff = 10ms;
    o.retry.max_backoff = 20ms;
    o.retry.deadline = 5s;
    o.event_batch_interval = 20ms;
    o.shutdown_grace = 100ms;
    return o;
  }

  void start(CoordinatorOptions o) {
    auto server = CoordinatorServer::create(loop_, std::move(o));
    ASSERT_TRUE(server.isOk()) << server.status();
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->start().isOk());
    auto channel = rpc::Channel::create(loop_, {});
    ASSERT_TRUE(channel.isOk());
    channel_ = std::move(channel).value();
    ASSERT_TRUE(
        channel_->setEndpoints(std::vector<std::string>{server_->address().toString()}).isOk());
    stub_ = std::make_unique<Coordinator_Stub>(channel_.get());
  }

  static UpstreamItem item(const std::string& app, uint64_t seq, const std::string& type = "") {
    UpstreamItem i;
    i.set_app(app);
    i.set_user("u1");
    i.set_device("d1");
    i.set_room("room-1");
    i.set_conn_id(77);
    i.set_seq(seq);
    i.set_type(type);
    i.set_payload("hello \x01\xff");
    return i;
  }

  // Calls Upstream and runs the loop until it answers (within `bound`).
  UpstreamBatchResponse upstream(std::vector<UpstreamItem> items,
                                 std::chrono::milliseconds bound = 5s) {
    rpc::Controller cntl;
    cntl.setTimeout(bound + 5s);
    UpstreamBatchRequest req;
    for (auto& i : items)
      *req.add_items() = i;
    UpstreamBatchResponse resp;
    bool done = false;
    stub_->Upstream(&cntl, &req, &resp, rpc::newCallback([&] { done = true; }));
    EXPECT_TRUE(loop_.runUntil([&] { return done; }, bound));
    EXPECT_TRUE(cntl.status().isOk()) << cntl.status().toString();
    EXPECT_EQ(resp.results_size(), static_cast<int>(items.size()));
    return resp;
  }

  net::EventLoop loop_;
  std::unique_ptr<TestWebhook> webhook_;
  std::unique_ptr<CoordinatorServer> server_;
  rpc::ChannelPtr channel_;
  std::unique_ptr<Coordinator_Stub> stub_;
};

TEST_F(CoordinatorServerTest, UpstreamReachesTheWebhookAndItsAnswerIsTheReply) {
  CoordinatorOptions o = options();
  o.apps.push_back(app("app1", "/ok"));
  start(std::move(o));
  UpstreamBatchResponse resp = upstream({item("app1", 5), item("app1", 6)});
  ASSERT_EQ(resp.results_size(), 2);
  ASSERT_EQ(webhook_->count("/ok"), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(resp.results(i).code(), client::ERROR_NONE) << resp.results(i).message();
    // The reply is the webhook's own body for this item (it names the request id it got).
    EXPECT_EQ(resp.results(i).reply(), "reply-to:" + webhook_->requests()[i].request_id);
  }
  const TestWebhook::Request& r = webhook_->requests()[0];
  EXPECT_EQ(r.app, "app1");
  EXPECT_FALSE(r.request_id.empty());
  EXPECT_NE(r.request_id, webhook_->requests()[1].request_id);
  EXPECT_NE(r.body.find(R"("app":"app1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("user":"u1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("device":"d1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("room":"room-1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("payload":")" + base64("hello \x01\xff") + "\""), std::string::npos)
      << r.body;
  EXPECT_TRUE(r.body.find(R"("seq":5)") != std::string::npos ||
              r.body.find(R"("seq":6)") != std::string::npos)
      << r.body;
}

TEST_F(CoordinatorServerTest, RoutesByUpstreamTypeWithTheDefaultForOthers) {
  CoordinatorOptions o = options();
  AppSettings a = app("app1", "/ok");
  a.upstream_urls["chat"] = webhook_->url("/bad");
  o.apps.push_back(a);
  AppSettings b;  // no default webhook, only one type
  b.name = "app2";
  b.upstream_urls["chat"] = webhook_->url("/ok");
  o.apps.push_back(b);
  start(std::move(o));
  UpstreamBatchResponse resp = upstream(
      {item("app1", 1, "chat"), item("app1", 2, "other"), item("app2", 3, "x"), item("nope", 4)});
  EXPECT_EQ(resp.results(0).code(), client::ERROR_FORBIDDEN);
  EXPECT_EQ(resp.results(1).code(), client::ERROR_NONE);
  EXPECT_EQ(resp.results(2).code(), client::ERROR_UNKNOWN_APP);
  EXPECT_NE(resp.results(2).message().find("no webhook"), std::string::npos);
  EXPECT_EQ(resp.results(3).code(), client::ERROR_UNKNOWN_APP);
  EXPECT_EQ(webhook_->count("/bad"), 1u);
  EXPECT_EQ(webhook_->count("/ok"), 1u);
}

TEST_F(CoordinatorServerTest, A4xxIsRefusedAndNotRetried) {
  CoordinatorOptions o = options();
  o.apps.push_back(app("app1", "/bad"));
  start(std::move(o));
  UpstreamBatchResponse resp = upstream({item("app1", 1)});
  EXPECT_EQ(resp.results(0).code(), client::ERROR_FORBIDDEN);
  EXPECT_NE(resp.results(0).message().find("HTTP 400"), std::string::npos)
      << resp.results(0).message();
  EXPECT_NE(resp.results(0).message().find("bad payload"), std::string::npos);
  EXPECT_TRUE(resp.results(0).reply().empty());
  EXPECT_EQ(webhook_->count("/bad"), 1u);
}

TEST_F(CoordinatorServerTest, A5xxIsRetriedThenUnavailable) {
  CoordinatorOptions o = options();
  o.apps.push_back(app("app1", "/down"));
  start(std::move(o));
  UpstreamBatchResponse resp = upstream({item("app1", 1)});
  EXPECT_EQ(resp.results(0).code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(resp.results(0).message().find("HTTP 503 after 3 attempts"), std::string::npos)
      << resp.results(0).message();
  EXPECT_EQ(webhook_->count("/down"), 3u);
}

TEST_F(CoordinatorServerTest, AWebhookThatIsDownIsRetriedThenUnavailable) {
  CoordinatorOptions o = options();
  o.apps.push_back(app("app1", "/ok"));
  webhook_->close();  // connection refused from now on
  start(std::move(o));
  const auto t0 = std::chrono::steady_clock::now();
  UpstreamBatchResponse resp = upstream({item("app1", 1)});
  EXPECT_EQ(resp.results(0).code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(resp.results(0).message().find("unreachable"), std::string::npos)
      << resp.results(0).message();
  EXPECT_NE(resp.results(0).message().find("after 3 attempts"), std::string::npos)
      << resp.results(0).message();
  // Two backoff delays of 10..20 ms (+-20%) at least.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
}

TEST_F(CoordinatorServerTest, ASlowWebhookOverTheAppsCapMakesNewItemsBusyAtOnce) {
  CoordinatorOptions o = options();
  AppSettings a = app("app1", "/slow");
  a.max_concurrency = 2;
  a.max_queued = 1;
  o.apps.push_back(a);
  o.apps.push_back(app("app2", "/ok"));  // another app is not held up
  start(std::move(o));

  // 2 run (held by the webhook), 1 waits, the 4th is refused at once.
  UpstreamBatchRequest req;
  for (int i = 0; i < 3; ++i)
    *req.add_items() = item("app1", i);
  UpstreamBatchResponse held_resp;
  rpc::Controller held_cntl;
  held_cntl.setTimeout(10s);
  bool held_done = false;
  stub_->Upstream(&held_cntl, &req, &held_resp, rpc::newCallback([&] { held_done = true; }));
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->held() == 2; }, 5s));
  const AppDispatcher* d = server_->service().app("app1");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->running(), 2u);
  EXPECT_EQ(d->queued(), 1u);

  const auto t0 = std::chrono::steady_clock::now();
  UpstreamBatchResponse busy = upstream({item("app1", 9), item("app2", 10)});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(busy.results(0).code(), client::ERROR_UNAVAILABLE);
  EXPECT_NE(busy.results(0).message().find("app busy"), std::string::npos);
  EXPECT_EQ(busy.results(1).code(), client::ERROR_NONE);
  EXPECT_FALSE(held_done);

  // The held ones answer; the waiting one then runs (and is held in turn), then answers.
  webhook_->releaseSlow();
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->held() == 1; }, 5s));
  webhook_->releaseSlow();
  ASSERT_TRUE(loop_.runUntil([&] { return held_done; }, 5s));
  ASSERT_EQ(held_resp.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(held_resp.results(i).code(), client::ERROR_NONE);
    EXPECT_EQ(held_resp.results(i).reply(), "late");
  }
  EXPECT_EQ(webhook_->count("/slow"), 3u);
}

TEST_F(CoordinatorServerTest, PendingItemsAreAnsweredWhenTheCoordinatorStops) {
  CoordinatorOptions o = options();
  AppSettings a = app("app1", "/slow");
  a.max_concurrency = 1;
  o.apps.push_back(a);
  start(std::move(o));
  UpstreamBatchRequest req;
  *req.add_items() = item("app1", 1);
  *req.add_items() = item("app1", 2);  // waits for the cap
  UpstreamBatchResponse resp;
  rpc::Controller cntl;
  cntl.setTimeout(10s);
  bool done = false;
  stub_->Upstream(&cntl, &req, &resp, rpc::newCallback([&] { done = true; }));
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->held() == 1; }, 5s));
  bool stopped = false;
  server_->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped && done; }, 5s));
  server_.reset();
  // The answer came before the connection closed: both items say "stopping".
  if (cntl.status().isOk()) {
    ASSERT_EQ(resp.results_size(), 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(resp.results(i).code(), client::ERROR_UNAVAILABLE);
      EXPECT_NE(resp.results(i).message().find("stopping"), std::string::npos);
    }
  }
}

TEST_F(CoordinatorServerTest, EventsArriveBatchedForSubscribedAppsOnly) {
  CoordinatorOptions o = options();
  AppSettings a = app("app1", "/ok");
  a.events_url = webhook_->url("/events");
  o.apps.push_back(a);
  AppSettings b = app("app2", "/ok");
  b.events_url = webhook_->url("/events");
  b.online_events = false;  // offline only
  o.apps.push_back(b);
  o.apps.push_back(app("app3", "/ok"));  // no events URL
  start(std::move(o));

  SessionEventsRequest req;
  auto add = [&](const std::string& app, const std::string& user, bool online) {
    SessionEvent* e = req.add_events();
    e->set_app(app);
    e->set_user(user);
    e->set_device("dev-" + user);
    e->set_room("room-1");
    e->set_conn_id(5);
    e->set_online(online);
    e->set_time_ms(1234);
  };
  add("app1", "alice", true);
  add("app1", "bob", false);
  add("app2", "carol", true);  // not subscribed
  add("app2", "dave", false);
  add("app3", "erin", true);  // no events URL
  add("zzz", "frank", true);  // unknown app
  SessionEventsResponse resp;
  rpc::Controller cntl;
  bool done = false;
  stub_->Events(&cntl, &req, &resp, rpc::newCallback([&] { done = true; }));
  ASSERT_TRUE(loop_.runUntil([&] { return done; }, 5s));
  ASSERT_TRUE(cntl.status().isOk()) << cntl.status().toString();
  EXPECT_EQ(resp.queued(), 3u);
  EXPECT_EQ(resp.ignored(), 3u);
  EXPECT_EQ(resp.dropped(), 0u);

  // One POST per app: app1's two events in one array, app2's one.
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->count("/events") == 2; }, 5s));
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(webhook_->count("/events"), 2u);
  std::string app1_body, app2_body;
  for (const auto& r : webhook_->requests()) {
    if (r.path != "/events") continue;
    (r.app == "app1" ? app1_body : app2_body) = r.body;
  }
  EXPECT_EQ(app1_body.front(), '[');
  EXPECT_NE(app1_body.find(R"("event":"online","app":"app1","user":"alice","device":"dev-alice")"),
            std::string::npos)
      << app1_body;
  EXPECT_NE(app1_body.find(R"("event":"offline","app":"app1","user":"bob","device":"dev-bob")"),
            std::string::npos)
      << app1_body;
  EXPECT_NE(app2_body.find(R"("user":"dave")"), std::string::npos) << app2_body;
  EXPECT_EQ(app2_body.find("carol"), std::string::npos) << app2_body;
}

TEST_F(CoordinatorServerTest, EventsOverTheQueueAreDroppedAndCounted) {
  CoordinatorOptions o = options();
  o.event_queue_max = 2;
  o.event_batch_interval = 1000ms;  // nothing leaves while the test fills the queue
  AppSettings a = app("app1", "/ok");
  a.events_url = webhook_->url("/events");
  o.apps.push_back(a);
  start(std::move(o));
  SessionEventsRequest req;
  for (int i = 0; i < 5; ++i) {
    SessionEvent* e = req.add_events();
    e->set_app("app1");
    e->set_user("u" + std::to_string(i));
    e->set_online(true);
  }
  SessionEventsResponse resp;
  rpc::Controller cntl;
  bool done = false;
  stub_->Events(&cntl, &req, &resp, rpc::newCallback([&] { done = true; }));
  ASSERT_TRUE(loop_.runUntil([&] { return done; }, 5s));
  EXPECT_EQ(resp.queued(), 2u);
  EXPECT_EQ(resp.dropped(), 3u);
  ASSERT_TRUE(loop_.runUntil([&] { return webhook_->count("/events") == 1; }, 5s));
  const std::string& body = webhook_->requests().back().body;
  EXPECT_NE(body.find(R"("user":"u0")"), std::string::npos);
  EXPECT_NE(body.find(R"("user":"u1")"), std::string::npos);
  EXPECT_EQ(body.find(R"("user":"u2")"), std::string::npos);
}

TEST_F(CoordinatorServerTest, UpdateAppChangesTheWebhookAndTheCapLive) {
  CoordinatorOptions o = options();
  o.apps.push_back(app("app1", "/bad"));
  start(std::move(o));
  EXPECT_EQ(upstream({item("app1", 1)}).results(0).code(), client::ERROR_FORBIDDEN);
  AppSettings a = app("app1", "/ok");
  a.timeout = 2s;  // a new poster; the old one goes once idle
  ASSERT_TRUE(server_->service().updateApp(a).isOk());
  EXPECT_EQ(upstream({item("app1", 2)}).results(0).code(), client::ERROR_NONE);
  AppSettings bad = app("bad name!", "/ok");
  EXPECT_FALSE(server_->service().updateApp(bad).isOk());
}

TEST(CoordinatorOptionsTest, RejectsBadAppsAndRanges) {
  config::CoordinatorConfig c;
  auto* a = c.add_apps();
  a->set_name("app1");
  a->set_upstream_url("ftp://x");
  EXPECT_FALSE(CoordinatorOptions::fromConfig(c, nullptr).isOk());
  a->set_upstream_url("http://127.0.0.1:1/hook");
  a->add_events("online");
  auto ok = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(ok.isOk()) << ok.status();
  EXPECT_TRUE(ok->apps[0].online_events);
  EXPECT_FALSE(ok->apps[0].offline_events);
  EXPECT_EQ(ok->rpc.address, "127.0.0.1:7500");
  a->add_events("sometimes");
  EXPECT_FALSE(CoordinatorOptions::fromConfig(c, nullptr).isOk());
  a->clear_events();
  *c.add_apps() = *a;  // listed twice
  EXPECT_FALSE(CoordinatorOptions::fromConfig(c, nullptr).isOk());
  c.mutable_apps()->RemoveLast();
  c.set_webhook_max_attempts(50);
  EXPECT_FALSE(CoordinatorOptions::fromConfig(c, nullptr).isOk());
  c.set_webhook_max_attempts(4);
  c.set_webhook_min_backoff_ms(500);
  c.set_webhook_max_backoff_ms(100);
  EXPECT_FALSE(CoordinatorOptions::fromConfig(c, nullptr).isOk());
}

TEST_F(CoordinatorServerTest, KickWithoutRegisterOrWithoutAUserIsRefused) {
  start(options());
  auto call = [&](const std::string& user) {
    room::KickRequest req;
    req.set_app("app1");
    req.set_user(user);
    KickUserResponse resp;
    rpc::Controller cntl;
    bool done = false;
    stub_->Kick(&cntl, &req, &resp, rpc::newCallback([&] { done = true; }));
    EXPECT_TRUE(loop_.runUntil([&] { return done; }, 5s));
    return cntl.status();
  };
  const Status st = call("alice");
  EXPECT_EQ(st.code(), Code::FAILED_PRECONDITION) << st.toString();
  EXPECT_NE(st.message().find("no register configured"), std::string::npos) << st.toString();
}

TEST(CoordinatorOptionsTest, RegisterForKicks) {
  config::CoordinatorConfig c;
  auto* a = c.add_apps();
  a->set_name("app1");
  a->set_upstream_url("http://127.0.0.1:1/hook");
  auto none = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(none.isOk()) << none.status();
  EXPECT_FALSE(none->register_client.has_value());

  c.mutable_register_()->mutable_channel()->set_timeout_ms(100);  // a block with neither
  auto neither = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_FALSE(neither.isOk());
  EXPECT_NE(neither.status().message().find("list shards, or set discover: true"),
            std::string::npos)
      << neither.status();
  c.mutable_register_()->set_discover(true);
  auto no_zk = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_FALSE(no_zk.isOk());
  EXPECT_NE(no_zk.status().message().find("register.discover: needs discovery.zookeeper"),
            std::string::npos)
      << no_zk.status();
  c.mutable_discovery()->set_zookeeper("127.0.0.1:2181");
  auto discover = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(discover.isOk()) << discover.status();
  ASSERT_TRUE(discover->register_client.has_value());
  EXPECT_TRUE(discover->register_client->discover);

  c.mutable_register_()->set_discover(false);
  c.mutable_register_()->add_shards()->set_address("127.0.0.1:7100");
  c.mutable_register_()->mutable_shards(0)->set_slots("0-511");
  auto gap = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_FALSE(gap.isOk());
  EXPECT_NE(gap.status().message().find("512 of 1024"), std::string::npos) << gap.status();
  c.mutable_register_()->mutable_shards(0)->set_slots("0-1023");
  c.set_cluster_key("cluster-key-0123456789");
  auto shards = CoordinatorOptions::fromConfig(c, nullptr);
  ASSERT_TRUE(shards.isOk()) << shards.status();
  EXPECT_EQ(shards->register_client->shards.size(), 1u);
  EXPECT_EQ(shards->register_client->channel.cluster_key, "cluster-key-0123456789");
  EXPECT_EQ(shards->room_channel.cluster_key, "cluster-key-0123456789");
}

TEST(CoordinatorOptionsTest, NoIntegerFieldGoesUnchecked) {
  push::testing::expectEveryIntegerFieldRangeChecked<config::CoordinatorConfig>(
      [](const config::CoordinatorConfig& cfg) {
        return CoordinatorOptions::fromConfig(cfg, nullptr).status();
      },
      11);
}

TEST(WebhookBodyTest, Base64MatchesRfc4648) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\x01", 3)), "/wAB");
}

}  // namespace
}  // namespace push::coord
