#include "services/room/room_options.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "common/base/config.h"
#include "proto/config.pb.h"
#include "tests/support/config_test_util.h"

namespace push::room {
namespace {

using namespace std::chrono_literals;

constexpr char kApp[] = R"(apps { name: "app" secret: "0123456789abcdef" })";

// Parses `text` as a room config file named room.conf and builds options from it.
Result<RoomOptions> fromText(const std::string& text) {
  config::RoomConfig cfg;
  auto file = ConfigFile::parse(text, "room.conf", &cfg);
  if (!file.isOk()) return file.status();
  return RoomOptions::fromConfig(cfg, file->get());
}

TEST(RoomOptionsTest, DefaultsForAnAlmostEmptyConfig) {
  auto o = fromText(kApp);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->name, "room");
  EXPECT_EQ(o->tcp_address, "127.0.0.1:7100");
  EXPECT_EQ(o->ws_address, "");
  EXPECT_FALSE(o->reuse_port);
  EXPECT_EQ(o->rpc.address, "127.0.0.1:0");
  EXPECT_EQ(o->advertise_rpc, "");
  EXPECT_EQ(o->admin_address, "");
  ASSERT_EQ(o->apps.size(), 1u);
  EXPECT_EQ(o->apps[0].name, "app");
  EXPECT_EQ(o->apps[0].secret, "0123456789abcdef");
  EXPECT_EQ(o->max_frame_bytes, 64u * 1024);
  EXPECT_EQ(o->websocket.max_message_bytes, o->max_frame_bytes);
  EXPECT_EQ(o->auth_timeout, 10s);
  EXPECT_EQ(o->heartbeat_wifi_s, 60u);
  EXPECT_EQ(o->heartbeat_cellular_s, 180u);
  EXPECT_EQ(o->heartbeat_unknown_s, 90u);
  EXPECT_EQ(o->heartbeat_min_s, 5u);
  EXPECT_EQ(o->heartbeat_max_s, 600u);
  EXPECT_EQ(o->limits.high_watermark, 256u << 10);  // mobile defaults
  EXPECT_EQ(o->limits.low_watermark, 64u << 10);
  EXPECT_EQ(o->limits.hard_limit, 1u << 20);
  EXPECT_EQ(o->max_apps_per_connection, 8u);
  EXPECT_EQ(o->max_tags_per_connection, 64u);
  EXPECT_EQ(o->drain_window, 10s);
  EXPECT_EQ(o->drain_deadline, 30s);
  EXPECT_EQ(o->register_heartbeat, 2s);
  EXPECT_FALSE(o->register_client.has_value());
  EXPECT_TRUE(o->ip_filter.allow_cidrs.empty());
  EXPECT_EQ(o->ip_filter.max_connections_per_ip, 0u);
}

TEST(RoomOptionsTest, ReadsEveryField) {
  auto o = fromText(std::string(kApp) + R"(
    apps { name: "other" secret: "fedcba9876543210fedcba" }
    name: "edge"
    tcp { address: "0.0.0.0:7100" reuse_port: true }
    websocket { address: "0.0.0.0:7200" }
    rpc { listen { address: "0.0.0.0:7300" } }
    admin { listen { address: "127.0.0.1:7400" } }
    advertise_rpc: "10.0.0.5:7300"
    max_frame_bytes: 2048
    auth_timeout_ms: 500
    heartbeat { wifi_s: 30 cellular_s: 240 unknown_s: 45 min_s: 10 max_s: 300 }
    limits { high_watermark_bytes: 2000 low_watermark_bytes: 1000 hard_limit_bytes: 4000 }
    max_connections_per_ip: 3
    max_connects_per_ip_per_s: 7
    allow_cidrs: "10.0.0.0/8"
    deny_cidrs: "10.9.0.0/16"
    max_apps_per_connection: 2
    max_tags_per_connection: 5
    drain_window_ms: 1000
    drain_deadline_ms: 2000
    register_heartbeat_ms: 700
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->name, "edge");
  EXPECT_EQ(o->tcp_address, "0.0.0.0:7100");
  EXPECT_TRUE(o->reuse_port);
  EXPECT_EQ(o->ws_address, "0.0.0.0:7200");
  EXPECT_EQ(o->rpc.address, "0.0.0.0:7300");
  EXPECT_EQ(o->admin_address, "127.0.0.1:7400");
  EXPECT_EQ(o->advertise_rpc, "10.0.0.5:7300");
  ASSERT_EQ(o->apps.size(), 2u);
  EXPECT_EQ(o->apps[1].name, "other");
  EXPECT_EQ(o->max_frame_bytes, 2048u);
  EXPECT_EQ(o->websocket.max_message_bytes, 2048u);
  EXPECT_EQ(o->auth_timeout, 500ms);
  EXPECT_EQ(o->heartbeat_wifi_s, 30u);
  EXPECT_EQ(o->heartbeat_cellular_s, 240u);
  EXPECT_EQ(o->heartbeat_unknown_s, 45u);
  EXPECT_EQ(o->heartbeat_min_s, 10u);
  EXPECT_EQ(o->heartbeat_max_s, 300u);
  EXPECT_EQ(o->limits.high_watermark, 2000u);
  EXPECT_EQ(o->limits.low_watermark, 1000u);
  EXPECT_EQ(o->limits.hard_limit, 4000u);
  EXPECT_EQ(o->ip_filter.max_connections_per_ip, 3u);
  EXPECT_EQ(o->ip_filter.max_connects_per_s, 7u);
  EXPECT_EQ(o->ip_filter.allow_cidrs, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(o->ip_filter.deny_cidrs, std::vector<std::string>{"10.9.0.0/16"});
  EXPECT_EQ(o->max_apps_per_connection, 2u);
  EXPECT_EQ(o->max_tags_per_connection, 5u);
  EXPECT_EQ(o->drain_window, 1s);
  EXPECT_EQ(o->drain_deadline, 2s);
  EXPECT_EQ(o->register_heartbeat, 700ms);
}

TEST(RoomOptionsTest, RangeErrorsNameTheFieldAndLine) {
  struct Case {
    std::string line;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"max_frame_bytes: 100", "max_frame_bytes"},
      {"max_frame_bytes: 20000000", "max_frame_bytes"},
      {"auth_timeout_ms: 50", "auth_timeout_ms"},
      {"heartbeat { min_s: 4000 }", "heartbeat.min_s"},
      {"heartbeat { wifi_s: 3601 }", "heartbeat.wifi_s"},
      {"heartbeat { cellular_s: 9999 }", "heartbeat.cellular_s"},
      {"heartbeat { unknown_s: 9999 }", "heartbeat.unknown_s"},
      {"heartbeat { max_s: 9999 }", "heartbeat.max_s"},
      {"max_apps_per_connection: 9", "max_apps_per_connection"},
      {"max_tags_per_connection: 4097", "max_tags_per_connection"},
      {"drain_window_ms: 4000000", "drain_window_ms"},
      {"drain_deadline_ms: 50", "drain_deadline_ms"},
      {"register_heartbeat_ms: 99", "register_heartbeat_ms"},
  };
  for (const Case& c : cases) {
    auto o = fromText(std::string(kApp) + "\n" + c.line + "\n");
    ASSERT_FALSE(o.isOk()) << c.line;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT) << c.line;
    EXPECT_NE(o.status().message().find(c.field + ":"), std::string::npos)
        << c.line << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find("room.conf:2:"), std::string::npos)
        << c.line << " -> " << o.status().message();
  }
}

TEST(RoomOptionsTest, RangeErrorsWithoutAFileStillNameTheField) {
  // room_options.h: "Fails with the field name (and file:line when `file` is given) on bad
  // values." Options built in code from a message (tests, tools) get no checks at all today.
  config::RoomConfig cfg;
  auto* app = cfg.add_apps();
  app->set_name("app");
  app->set_secret("0123456789abcdef");
  cfg.set_max_frame_bytes(100);
  auto o = RoomOptions::fromConfig(cfg, nullptr);
  ASSERT_FALSE(o.isOk()) << "max_frame_bytes 100 accepted without a ConfigFile";
  EXPECT_NE(o.status().message().find("max_frame_bytes"), std::string::npos)
      << o.status().message();
}

TEST(RoomOptionsTest, CrossFieldChecks) {
  auto hb = fromText(std::string(kApp) + "heartbeat { min_s: 100 max_s: 50 }");
  ASSERT_FALSE(hb.isOk());
  EXPECT_NE(hb.status().message().find("min_s"), std::string::npos) << hb.status().message();
  // min 100 above the default max 600 is fine; above an explicit lower max is not.
  EXPECT_TRUE(fromText(std::string(kApp) + "heartbeat { min_s: 100 }").isOk());
  auto limits =
      fromText(std::string(kApp) + "limits { high_watermark_bytes: 100 low_watermark_bytes: 200 }");
  ASSERT_FALSE(limits.isOk());
  EXPECT_NE(limits.status().message().find("limits"), std::string::npos)
      << limits.status().message();
  auto hard =
      fromText(std::string(kApp) + "limits { high_watermark_bytes: 5000 hard_limit_bytes: 4000 }");
  EXPECT_FALSE(hard.isOk());
}

TEST(RoomOptionsTest, AppsMustBeNamedUniqueAndHaveLongSecrets) {
  auto dup = fromText(std::string(kApp) + R"(apps { name: "app" secret: "another-secret-16b" })");
  ASSERT_FALSE(dup.isOk());
  EXPECT_EQ(dup.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(dup.status().message().find("'app' twice"), std::string::npos)
      << dup.status().message();

  auto short_secret = fromText(R"(apps { name: "app" secret: "0123456789abcde" })");  // 15
  ASSERT_FALSE(short_secret.isOk());
  EXPECT_NE(short_secret.status().message().find("apps[app].secret"), std::string::npos)
      << short_secret.status().message();
  EXPECT_TRUE(fromText(R"(apps { name: "app" secret: "0123456789abcdef" })").isOk());  // 16

  auto unnamed = fromText(R"(apps { secret: "0123456789abcdef" })");
  ASSERT_FALSE(unnamed.isOk());
  EXPECT_NE(unnamed.status().message().find("app name"), std::string::npos)
      << unnamed.status().message();
  auto long_name =
      fromText("apps { name: \"" + std::string(65, 'a') + "\" secret: \"0123456789abcdef\" }");
  EXPECT_FALSE(long_name.isOk());
}

TEST(RoomOptionsTest, RegisterShardsBuildTheRegisterClient) {
  auto o = fromText(std::string(kApp) + R"(
    register {
      shards { address: "127.0.0.1:7001" slots: "0-511" }
      shards { address: "127.0.0.1:7002" slots: "512-1023" }
      channel { timeout_ms: 250 }
    }
    session_batch_ms: 25
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_TRUE(o->register_client.has_value());
  ASSERT_EQ(o->register_client->shards.size(), 2u);
  EXPECT_EQ(o->register_client->shards[0].address, "127.0.0.1:7001");
  EXPECT_EQ(o->register_client->shards[1].slots.toString(), "512-1023");
  EXPECT_EQ(o->register_client->batch_interval, 25ms);
  EXPECT_EQ(o->register_client->channel.timeout, 250ms);

  auto defaults =
      fromText(std::string(kApp) + R"(register { shards { address: "127.0.0.1:7001" } })");
  ASSERT_TRUE(defaults.isOk()) << defaults.status().toString();
  EXPECT_EQ(defaults->register_client->batch_interval, 10ms);

  auto gap = fromText(std::string(kApp) +
                      R"(register { shards { address: "127.0.0.1:7001" slots: "0-1000" } })");
  ASSERT_FALSE(gap.isOk());
  EXPECT_NE(gap.status().message().find("cover"), std::string::npos) << gap.status().message();
  auto overlap = fromText(std::string(kApp) + R"(register {
      shards { address: "127.0.0.1:7001" slots: "0-600" }
      shards { address: "127.0.0.1:7002" slots: "500-1023" } })");
  ASSERT_FALSE(overlap.isOk());
  EXPECT_NE(overlap.status().message().find("overlap"), std::string::npos)
      << overlap.status().message();
}

// Every integer field of RoomConfig (its RPC, admin and register-channel sections included),
// found by reflection, set far out of range: refused, naming the field. A field added to the
// proto without a range in room_options.cc fails here.
TEST(RoomOptionsTest, BroadcastConsumptionFields) {
  auto none = fromText(kApp);
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  EXPECT_TRUE(none->queued.empty());
  EXPECT_EQ(none->broadcast_rate_per_s, 4'000'000u);
  EXPECT_EQ(none->broadcast_max_in_flight, 256u);

  auto o = fromText(std::string(kApp) + R"(
    queued: "127.0.0.1:4150"
    queued: "queued-2.internal:4150"
    queued_lookupd: "127.0.0.1:4161"
    queued_lookup_interval_ms: 2000
    broadcast_rate_per_s: 500000
    broadcast_max_in_flight: 32
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->queued, (std::vector<std::string>{"127.0.0.1:4150", "queued-2.internal:4150"}));
  EXPECT_EQ(o->queued_lookupd, (std::vector<std::string>{"127.0.0.1:4161"}));
  EXPECT_EQ(o->queued_lookup_interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(o->broadcast_rate_per_s, 500'000u);
  EXPECT_EQ(o->broadcast_max_in_flight, 32u);

  auto bad = fromText(std::string(kApp) + R"(queued: "no-port")");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("queued: bad address 'no-port'"), std::string::npos)
      << bad.status().toString();
  // An app whose name makes no queued topic cannot receive broadcasts: refused at startup.
  auto topic = fromText(R"(apps { name: "bad app" secret: "0123456789abcdef" }
                           queued: "127.0.0.1:4150")");
  ASSERT_FALSE(topic.isOk());
  EXPECT_NE(topic.status().message().find("'bad app' cannot be broadcast to"), std::string::npos)
      << topic.status().toString();
  // Without queued the same app is fine (no broadcasts).
  EXPECT_TRUE(fromText(R"(apps { name: "bad app" secret: "0123456789abcdef" })").isOk());
}

TEST(RoomOptionsTest, NoIntegerFieldGoesUnchecked) {
  testing::expectEveryIntegerFieldRangeChecked<config::RoomConfig>(
      [](const config::RoomConfig& cfg) {
        config::RoomConfig with_app = cfg;
        auto* app = with_app.add_apps();
        app->set_name("app");
        app->set_secret("0123456789abcdef");
        return RoomOptions::fromConfig(with_app, nullptr).status();
      },
      40);
}

TEST(RoomOptionsTest, ClusterKeyGoesToTheRpcServerAndTheRegisterChannel) {
  auto o = fromText(std::string(kApp) +
                    R"(cluster_key: "cluster-key-0123456789"
                       register { shards { address: "127.0.0.1:7200" } })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->rpc.cluster_key, "cluster-key-0123456789");
  ASSERT_TRUE(o->register_client);
  EXPECT_EQ(o->register_client->channel.cluster_key, "cluster-key-0123456789");
  // A section's own key wins.
  o = fromText(std::string(kApp) + R"(cluster_key: "cluster-key-0123456789"
                                      rpc { cluster_key: "rpc-own-key-0123456789" })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->rpc.cluster_key, "rpc-own-key-0123456789");
  // Too short a key is refused, naming the field and line.
  o = fromText(std::string(kApp) + "\ncluster_key: \"short\"");
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("room.conf:2:1: cluster_key: 5 bytes"), std::string::npos)
      << o.status().message();
}

TEST(RoomOptionsTest, DiscoveryBlockAndSaverFromZooKeeper) {
  auto o = fromText(std::string(kApp) + R"(
    discovery { zookeeper: "127.0.0.1:2181" region: "eu-1" weight: 50 capacity: 20000 }
    saver { discover: true })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->discovery.enabled());
  EXPECT_EQ(o->discovery.zk.hosts, "127.0.0.1:2181");
  EXPECT_EQ(o->discovery.zk.root, "/push/default");
  EXPECT_EQ(o->discovery.region, "eu-1");
  EXPECT_EQ(o->discovery.weight, 50u);
  EXPECT_EQ(o->discovery.capacity, 20000u);
  EXPECT_EQ(o->discovery.zk.session_timeout, 10s);
  EXPECT_EQ(o->discovery.advertise_host, "127.0.0.1");
  ASSERT_TRUE(o->saver.has_value());
  EXPECT_TRUE(o->saver->discover);
  EXPECT_TRUE(o->saver->addresses.empty());

  // Without a discovery block: off, and the static addresses rule.
  o = fromText(kApp);
  ASSERT_TRUE(o.isOk());
  EXPECT_FALSE(o->discovery.enabled());
  EXPECT_FALSE(o->saver.has_value());
}

TEST(RoomOptionsTest, RegisterFromZooKeeper) {
  auto o = fromText(std::string(kApp) +
                    R"( register { discover: true } discovery { zookeeper: "127.0.0.1:2181" })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_TRUE(o->register_client.has_value());
  EXPECT_TRUE(o->register_client->discover);
  EXPECT_TRUE(o->register_client->shards.empty());
  // Neither shards nor discover: a room without register, as before.
  o = fromText(std::string(kApp) + R"( discovery { zookeeper: "127.0.0.1:2181" })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_FALSE(o->register_client.has_value());
}

TEST(RoomOptionsTest, BadDiscoverySettingsAreRefusedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"(saver { discover: true })", "saver.discover: needs discovery.zookeeper"},
      {R"(register { discover: true })", "register.discover: needs discovery.zookeeper"},
      {R"(register { channel { timeout_ms: 100 } })", "list shards, or set discover: true"},
      {R"(discovery { zookeeper: "h:1" } register { discover: true shards { address: "a:1" } })",
       "shards and discover"},
      {R"(discovery { zookeeper: "h:1" } saver { discover: true addresses: "127.0.0.1:1" })",
       "exclude each other"},
      {R"(discovery { zookeeper: "h:1" root: "push" })", "discovery.root"},
      {R"(discovery { zookeeper: "h:1" root: "/push/" })", "discovery.root"},
      {R"(discovery { zookeeper: "h:1" region: "eu 1" })", "discovery.region"},
      {R"(discovery { zookeeper: "h:1" advertise_host: "0.0.0.0" })", "discovery.advertise_host"},
      {R"(discovery { zookeeper: "h:1" advertise_host: "my-host" })", "discovery.advertise_host"},
      {R"(discovery { weight: 1001 })", "discovery.weight"},
      {R"(discovery { session_timeout_ms: 100 })", "discovery.session_timeout_ms"},
  };
  for (const auto& [text, why] : cases) {
    auto o = fromText(std::string(kApp) + "\n" + text);
    ASSERT_FALSE(o.isOk()) << text;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT) << text;
    EXPECT_NE(o.status().message().find(why), std::string::npos)
        << text << " -> " << o.status().message();
  }
}

}  // namespace
}  // namespace push::room
