#include "services/center/center_options.h"

#include <gtest/gtest.h>

#include <string>

#include "common/base/config.h"
#include "proto/config.pb.h"
#include "tests/support/config_test_util.h"

namespace push::center {
namespace {

constexpr char kRegister[] = R"(register { shards { address: "127.0.0.1:7001" } })";

Result<CenterOptions> fromText(const std::string& text) {
  config::CenterConfig cfg;
  auto file = ConfigFile::parse(text, "center.conf", &cfg);
  if (!file.isOk()) return file.status();
  return CenterOptions::fromConfig(cfg, file->get());
}

std::string app(const std::string& name, const std::string& keys) {
  return "apps { name: \"" + name + "\" " + keys + " }\n";
}

TEST(CenterOptionsTest, Defaults) {
  auto o = fromText(std::string(kRegister) + app("app", R"(api_keys: "key-0123456789abcdef")"));
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->http.address, "127.0.0.1:8080");
  ASSERT_EQ(o->apps.size(), 1u);
  EXPECT_EQ(o->apps[0].name, "app");
  EXPECT_EQ(o->apps[0].api_keys, std::vector<std::string>{"key-0123456789abcdef"});
  EXPECT_EQ(o->apps[0].rate_per_s, 1000);
  EXPECT_EQ(o->apps[0].burst, 2000);
  EXPECT_EQ(o->node_id, 0u);
  EXPECT_EQ(o->push.max_targets, 10'000u);
  EXPECT_EQ(o->push.max_payload_bytes, 4096u);
  ASSERT_EQ(o->register_client.shards.size(), 1u);
  EXPECT_EQ(o->register_client.shards[0].slots.count(), 1024u);
  EXPECT_EQ(o->admin.address, "");  // no admin port
  EXPECT_EQ(o->stop_grace, std::chrono::milliseconds(10'000));
  // A quarter of the room channel's largest request (16 MiB by default).
  EXPECT_EQ(o->deliver_batch.max_bytes, CenterOptions::maxRoomRequestBytes(o->room_channel) / 4);
  EXPECT_EQ(o->deliver_batch.max_bytes, 4u << 20);
  EXPECT_EQ(o->deliver_batch.max_items, 1024u);
  EXPECT_EQ(o->deliver_batch.max_targets, 8192u);
  EXPECT_EQ(o->auth_failures.rate_per_s, 1.0);
  EXPECT_EQ(o->auth_failures.burst, 20.0);
  EXPECT_EQ(o->auth_failures.max_clients, 65536u);
}

TEST(CenterOptionsTest, ReadsEveryField) {
  auto o = fromText(std::string(kRegister) + R"(
    http { listen { address: "0.0.0.0:9000" } }
    admin { listen { address: "127.0.0.1:9100" } max_header_bytes: 2048 }
    apps { name: "a" api_keys: "key-a-0123456789ab" api_keys: "key-a-second-12345"
           push_rate_per_s: 50 }
    apps { name: "b" push_rate_per_s: 10 push_burst: 15 }
    node_id: 1023
    max_targets_per_request: 77
    max_payload_bytes: 61440
    room_channel { timeout_ms: 300 }
    stop_grace_ms: 2500
    deliver_batch_max_bytes: 65536
    deliver_batch_max_items: 10
    deliver_batch_max_targets: 20
    auth_failures_per_minute: 30
    auth_failure_burst: 5
    auth_failure_max_clients: 100
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->http.address, "0.0.0.0:9000");
  EXPECT_EQ(o->admin.address, "127.0.0.1:9100");
  EXPECT_EQ(o->admin.max_header_bytes, 2048u);
  ASSERT_EQ(o->apps.size(), 2u);
  EXPECT_EQ(o->apps[0].api_keys.size(), 2u);
  EXPECT_EQ(o->apps[0].rate_per_s, 50);
  EXPECT_EQ(o->apps[0].burst, 100);  // 2 x rate
  EXPECT_EQ(o->apps[1].rate_per_s, 10);
  EXPECT_EQ(o->apps[1].burst, 15);
  EXPECT_TRUE(o->apps[1].api_keys.empty());
  EXPECT_EQ(o->node_id, 1023u);
  EXPECT_EQ(o->push.max_targets, 77u);
  EXPECT_EQ(o->push.max_payload_bytes, 61440u);
  EXPECT_EQ(o->room_channel.timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(o->stop_grace, std::chrono::milliseconds(2500));
  EXPECT_EQ(o->deliver_batch.max_bytes, 65536u);
  EXPECT_EQ(o->deliver_batch.max_items, 10u);
  EXPECT_EQ(o->deliver_batch.max_targets, 20u);
  EXPECT_EQ(o->auth_failures.rate_per_s, 0.5);
  EXPECT_EQ(o->auth_failures.burst, 5.0);
  EXPECT_EQ(o->auth_failures.max_clients, 100u);
}

TEST(CenterOptionsTest, ReadsTheJobFieldsAndJobsNeedRedisAndQueued) {
  auto o = fromText(std::string(kRegister) + R"(
    apps { name: "a" }
    redis: "127.0.0.1:6379"
    queued: "127.0.0.1:4150"
    job_chunk_targets: 500
    job_max_targets: 2000
    job_max_running_per_app: 3
    job_rate_per_minute: 120
    job_burst: 7
    job_max_body_bytes: 4096
    job_ttl_s: 600
    job_worker_max_in_flight: 9
    job_max_attempts: 2
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->jobsEnabled());
  EXPECT_EQ(o->jobs.redis, "127.0.0.1:6379");
  EXPECT_EQ(o->jobs.chunk_targets, 500u);
  EXPECT_EQ(o->jobs.max_targets, 2000u);
  EXPECT_EQ(o->jobs.max_running_per_app, 3u);
  EXPECT_EQ(o->jobs.rate_per_s, 2.0);
  EXPECT_EQ(o->jobs.burst, 7.0);
  EXPECT_EQ(o->jobs.max_body_bytes, 4096u);
  EXPECT_EQ(o->jobs.ttl, std::chrono::seconds(600));
  EXPECT_EQ(o->jobs.worker_max_in_flight, 9u);
  EXPECT_EQ(o->jobs.max_attempts, 2u);
  auto defaults = fromText(std::string(kRegister) + R"(apps { name: "a" } redis: "127.0.0.1:1")");
  ASSERT_TRUE(defaults.isOk());
  EXPECT_FALSE(defaults->jobsEnabled());  // no queued
  EXPECT_EQ(defaults->jobs.chunk_targets, 1000u);
  EXPECT_EQ(defaults->jobs.max_targets, 1'000'000u);
  auto bad = fromText(std::string(kRegister) + R"(apps { name: "a" } redis: "nowhere")");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("redis"), std::string::npos) << bad.status();
}

TEST(CenterOptionsTest, ApiKeysMustBeLongAndUniqueAcrossApps) {
  auto dup_in_app =
      fromText(std::string(kRegister) +
               app("a", R"(api_keys: "key-0123456789abcdef" api_keys: "key-0123456789abcdef")"));
  ASSERT_FALSE(dup_in_app.isOk());
  EXPECT_EQ(dup_in_app.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(dup_in_app.status().message().find("used twice"), std::string::npos)
      << dup_in_app.status().message();

  auto dup_across =
      fromText(std::string(kRegister) + app("a", R"(api_keys: "key-0123456789abcdef")") +
               app("b", R"(api_keys: "key-0123456789abcdef")"));
  ASSERT_FALSE(dup_across.isOk());
  EXPECT_NE(dup_across.status().message().find("apps[b]"), std::string::npos)
      << dup_across.status().message();

  auto short_key = fromText(std::string(kRegister) + app("a", R"(api_keys: "0123456789abcde")"));
  ASSERT_FALSE(short_key.isOk());  // 15 bytes
  EXPECT_NE(short_key.status().message().find("apps[a].api_keys"), std::string::npos)
      << short_key.status().message();
  EXPECT_TRUE(
      fromText(std::string(kRegister) + app("a", R"(api_keys: "0123456789abcdef")")).isOk());
}

TEST(CenterOptionsTest, PayloadAndOtherRangesNameTheField) {
  struct Case {
    std::string line;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"max_payload_bytes: 61441", "max_payload_bytes"},
      {"max_payload_bytes: 1000000", "max_payload_bytes"},
      {"node_id: 1024", "node_id"},
      {"max_targets_per_request: 1000001", "max_targets_per_request"},
      {"stop_grace_ms: 600001", "stop_grace_ms"},
      {"deliver_batch_max_bytes: 4095", "deliver_batch_max_bytes"},
      // Over the room channel's largest request less the margin for the envelope.
      {"deliver_batch_max_bytes: 16777216", "deliver_batch_max_bytes"},
      {"deliver_batch_max_items: 100001", "deliver_batch_max_items"},
      {"deliver_batch_max_targets: 1000001", "deliver_batch_max_targets"},
      {"auth_failures_per_minute: 1000001", "auth_failures_per_minute"},
      {"auth_failure_burst: 1000001", "auth_failure_burst"},
      {"auth_failure_max_clients: 10000001", "auth_failure_max_clients"},
  };
  for (const Case& c : cases) {
    auto o = fromText(std::string(kRegister) + app("a", "") + c.line + "\n");
    ASSERT_FALSE(o.isOk()) << c.line;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
    EXPECT_NE(o.status().message().find(c.field + ":"), std::string::npos)
        << c.line << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find("center.conf:2:"), std::string::npos)
        << o.status().message();
  }
  auto one = fromText(std::string(kRegister) + app("a", "") + "max_payload_bytes: 1\n");
  ASSERT_TRUE(one.isOk()) << one.status().toString();
  EXPECT_EQ(one->push.max_payload_bytes, 1u);
}

TEST(CenterOptionsTest, AppsAndRegisterAreRequired) {
  auto no_apps = fromText(kRegister);
  ASSERT_FALSE(no_apps.isOk());
  EXPECT_NE(no_apps.status().message().find("no apps"), std::string::npos);
  auto twice = fromText(std::string(kRegister) + app("a", "") + app("a", ""));
  ASSERT_FALSE(twice.isOk());
  EXPECT_NE(twice.status().message().find("'a' twice"), std::string::npos);
  auto bad_name = fromText(std::string(kRegister) + app("", ""));
  ASSERT_FALSE(bad_name.isOk());
  EXPECT_NE(bad_name.status().message().find("bad app name"), std::string::npos);
  auto control = fromText(std::string(kRegister) + "apps { name: \"a\\tb\" }");
  EXPECT_FALSE(control.isOk());
  auto no_register = fromText(app("a", ""));
  ASSERT_FALSE(no_register.isOk());
  EXPECT_NE(no_register.status().message().find("no shards"), std::string::npos)
      << no_register.status().message();
  auto gap =
      fromText(R"(register { shards { address: "127.0.0.1:7001" slots: "0-9" } })" + app("a", ""));
  EXPECT_FALSE(gap.isOk());
}

// Every integer field of CenterConfig (http, admin, room_channel and register.channel
// included), found by reflection, set far out of range: refused, naming the field.
TEST(CenterOptionsTest, NoIntegerFieldGoesUnchecked) {
  testing::expectEveryIntegerFieldRangeChecked<config::CenterConfig>(
      [](const config::CenterConfig& cfg) {
        config::CenterConfig full = cfg;
        full.mutable_register_()->add_shards()->set_address("127.0.0.1:7001");
        auto* app = full.add_apps();
        app->set_name("app");
        app->add_api_keys("key-0123456789abcdef");
        return CenterOptions::fromConfig(full, nullptr).status();
      },
      30);
}

TEST(CenterOptionsTest, ClusterKeyGoesToTheRoomAndRegisterChannels) {
  auto o = fromText(std::string(kRegister) + app("app", R"(api_keys: "key-0123456789abcdef")") +
                    R"(cluster_key: "cluster-key-0123456789")");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->room_channel.cluster_key, "cluster-key-0123456789");
  EXPECT_EQ(o->register_client.channel.cluster_key, "cluster-key-0123456789");
  o = fromText(std::string(kRegister) + app("app", R"(api_keys: "key-0123456789abcdef")") +
               R"(cluster_key: "0123456789")");
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("cluster_key: 10 bytes"), std::string::npos)
      << o.status().message();
}

TEST(CenterOptionsTest, SaverFromZooKeeperNeedsTheDiscoveryBlock) {
  const std::string base =
      std::string(kRegister) + app("app", R"(api_keys: "key-0123456789abcdef")");
  auto o = fromText(base + R"(saver { discover: true })");
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("saver.discover: needs discovery.zookeeper"),
            std::string::npos)
      << o.status().message();
  o = fromText(base + R"(saver { discover: true addresses: "127.0.0.1:1" }
                         discovery { zookeeper: "127.0.0.1:2181" })");
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("exclude each other"), std::string::npos);
  o = fromText(base + R"(saver { discover: true } discovery { zookeeper: "127.0.0.1:2181" })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->saverEnabled());
  EXPECT_TRUE(o->saver.discover);
  EXPECT_TRUE(o->discovery.enabled());
}

TEST(CenterOptionsTest, KicksThroughACoordinator) {
  const std::string base =
      std::string(kRegister) + app("app", R"(api_keys: "key-0123456789abcdef")");
  auto o = fromText(base);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_FALSE(o->coordinator.has_value());  // center kicks by itself
  o = fromText(base + R"(coordinator { addresses: "127.0.0.1:7500" timeout_ms: 700 }
                         cluster_key: "cluster-key-0123456789")");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_TRUE(o->coordinator.has_value());
  EXPECT_EQ(o->coordinator->addresses, std::vector<std::string>{"127.0.0.1:7500"});
  EXPECT_EQ(o->coordinator->timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(o->coordinator->channel.cluster_key, "cluster-key-0123456789");
  const std::pair<const char*, const char*> bad[] = {
      {R"(coordinator { discover: true })", "needs discovery.zookeeper"},
      {R"(coordinator { discover: true addresses: "127.0.0.1:1" })", "exclude each other"},
      {R"(coordinator { addresses: "coordinator:7500" })", "bad address"},
      {R"(coordinator { addresses: "127.0.0.1:1" timeout_ms: 5 })", "coordinator.timeout_ms"},
  };
  for (const auto& [text, why] : bad) {
    auto r = fromText(base + text);
    ASSERT_FALSE(r.isOk()) << text;
    EXPECT_NE(r.status().message().find(why), std::string::npos)
        << text << " -> " << r.status().message();
  }
}

TEST(CenterOptionsTest, RegisterFromZooKeeperNeedsTheDiscoveryBlock) {
  const std::string base =
      R"(register { discover: true } )" + app("app", R"(api_keys: "key-0123456789abcdef")");
  auto o = fromText(base);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("register.discover: needs discovery.zookeeper"),
            std::string::npos)
      << o.status().message();
  o = fromText(base + R"(discovery { zookeeper: "127.0.0.1:2181" })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->register_client.discover);
  EXPECT_TRUE(o->register_client.shards.empty());
  // Neither: refused as before (center cannot look anyone up without register).
  o = fromText(app("app", R"(api_keys: "key-0123456789abcdef")"));
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("no shards"), std::string::npos) << o.status().message();
}

}  // namespace
}  // namespace push::center
