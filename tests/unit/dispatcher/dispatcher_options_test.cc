// DispatcherOptions::fromConfig: defaults, every field read, ranges named, static rooms checked.
#include <gtest/gtest.h>

#include "proto/config.pb.h"
#include "services/dispatcher/dispatcher_options.h"
#include "tests/support/config_test_util.h"

namespace push::dispatcher {
namespace {

config::DispatcherConfig parse(std::string_view text) {
  config::DispatcherConfig cfg;
  auto file = ConfigFile::parse(text, "d.conf", &cfg);
  EXPECT_TRUE(file.isOk()) << file.status();
  return cfg;
}

TEST(DispatcherOptionsTest, DefaultsWithStaticRooms) {
  auto o = DispatcherOptions::fromConfig(
      parse(R"(rooms { id: "r1" endpoints { key: "tcp" value: "127.0.0.1:7000" } })"), nullptr);
  ASSERT_TRUE(o.isOk()) << o.status();
  EXPECT_EQ(o->http.address, "127.0.0.1:8090");
  EXPECT_EQ(o->admin.address, "");
  EXPECT_TRUE(o->zk_hosts.empty());
  ASSERT_EQ(o->static_rooms.size(), 1u);
  EXPECT_EQ(o->static_rooms[0].weight, 100u);
  EXPECT_EQ(o->heartbeat.wifi_s, 60u);
  EXPECT_EQ(o->heartbeat.cellular_s, 180u);
  EXPECT_EQ(o->heartbeat.ethernet_s, 60u);
  EXPECT_EQ(o->heartbeat.unknown_s, 90u);
  EXPECT_EQ(o->ttl_s, 300u);
  EXPECT_EQ(o->routing.max_rooms, 8u);
  EXPECT_DOUBLE_EQ(o->routing.min_weight_fraction, 0.05);
}

TEST(DispatcherOptionsTest, ReadsEveryField) {
  auto o = DispatcherOptions::fromConfig(parse(R"(
    http { listen { address: "127.0.0.1:9000" } }
    admin { listen { address: "127.0.0.1:0" } }
    zookeeper { hosts: "127.0.0.1:2181" root: "/push/c1" session_timeout_ms: 4000 }
    default_region: "east"
    heartbeat { wifi_s: 30 cellular_s: 700 unknown_s: 2 min_s: 10 max_s: 600 }
    ttl_s: 60 max_rooms: 3 min_weight_percent: 20
  )"),
                                         nullptr);
  ASSERT_TRUE(o.isOk()) << o.status();
  EXPECT_EQ(o->http.address, "127.0.0.1:9000");
  EXPECT_EQ(o->admin.address, "127.0.0.1:0");
  EXPECT_EQ(o->zk_hosts, "127.0.0.1:2181");
  EXPECT_EQ(o->zk_root, "/push/c1");
  EXPECT_EQ(o->zk_session_timeout.count(), 4000);
  EXPECT_EQ(o->routing.default_region, "east");
  EXPECT_EQ(o->heartbeat.wifi_s, 30u);
  EXPECT_EQ(o->heartbeat.ethernet_s, 30u);
  EXPECT_EQ(o->heartbeat.cellular_s, 600u);  // clamped to max_s
  EXPECT_EQ(o->heartbeat.unknown_s, 10u);    // clamped to min_s
  EXPECT_EQ(o->ttl_s, 60u);
  EXPECT_EQ(o->routing.max_rooms, 3u);
  EXPECT_DOUBLE_EQ(o->routing.min_weight_fraction, 0.2);
}

TEST(DispatcherOptionsTest, RefusesBadRooms) {
  for (const char* bad : {
           "",  // no ZooKeeper and no room
           R"(rooms { endpoints { key: "tcp" value: "127.0.0.1:7000" } })",
           R"(rooms { id: "a" } rooms { id: "a" })",
           R"(rooms { id: "a" endpoints { key: "tcp" value: "nohost" } })",
           R"(rooms { id: "a" weight: 2000000 })",
           R"(zookeeper { hosts: "h:1" } heartbeat { min_s: 100 max_s: 50 })",
       }) {
    auto o = DispatcherOptions::fromConfig(parse(bad), nullptr);
    EXPECT_FALSE(o.isOk()) << bad;
  }
}

TEST(DispatcherOptionsTest, NoIntegerFieldGoesUnchecked) {
  testing::expectEveryIntegerFieldRangeChecked<config::DispatcherConfig>(
      [](const config::DispatcherConfig& cfg) {
        config::DispatcherConfig full = cfg;
        full.mutable_zookeeper()->set_hosts("127.0.0.1:2181");
        return DispatcherOptions::fromConfig(full, nullptr).status();
      },
      10);
}

}  // namespace
}  // namespace push::dispatcher
