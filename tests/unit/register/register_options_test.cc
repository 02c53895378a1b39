// RegisterOptions::fromConfig: defaults, values taken, and every integer range checked with
// checkFieldRange (the error names the field and where the file set it).
#include "services/register/register_options.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/config.pb.h"
#include "tests/support/config_test_util.h"

namespace push::reg {
namespace {

using namespace std::chrono_literals;

Result<RegisterOptions> fromText(const std::string& text, config::RegisterConfig* cfg) {
  auto file = ConfigFile::parse(text, "register.conf", cfg);
  if (!file.isOk()) return file.status();
  return RegisterOptions::fromConfig(*cfg, file->get());
}

TEST(RegisterOptionsTest, EmptyConfigGivesTheDefaults) {
  config::RegisterConfig cfg;
  auto o = RegisterOptions::fromConfig(cfg, nullptr);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->service.slots.count(), kSlotCount);
  EXPECT_EQ(o->service.room_timeout, 10000ms);
  EXPECT_EQ(o->service.max_sessions_per_user, 64u);
  EXPECT_EQ(o->service.pull_page, 2000u);
  EXPECT_EQ(o->shutdown_grace, 5000ms);
  EXPECT_EQ(o->rpc.address, "127.0.0.1:7200");
  EXPECT_TRUE(o->admin.address.empty());  // no admin port unless asked for
}

TEST(RegisterOptionsTest, TakesEveryField) {
  config::RegisterConfig cfg;
  auto o = fromText(R"(
    rpc { listen { address: "127.0.0.1:0" backlog: 64 } max_frame_bytes: 4096
          max_concurrency: 10 }
    admin { listen { address: "127.0.0.1:0" } max_pipelined: 4 idle_timeout_s: 9 }
    slots: "0-99"
    room_timeout_ms: 500
    max_sessions_per_user: 3
    pull_page_sessions: 50
    shutdown_grace_ms: 250
  )",
                    &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->service.slots.toString(), "0-99");
  EXPECT_EQ(o->service.room_timeout, 500ms);
  EXPECT_EQ(o->service.max_sessions_per_user, 3u);
  EXPECT_EQ(o->service.pull_page, 50u);
  EXPECT_EQ(o->shutdown_grace, 250ms);
  EXPECT_EQ(o->rpc.address, "127.0.0.1:0");
  EXPECT_EQ(o->rpc.max_frame_bytes, 4096u);
  EXPECT_EQ(o->rpc.max_concurrency, 10u);
  EXPECT_EQ(o->admin.address, "127.0.0.1:0");
  EXPECT_EQ(o->admin.max_pipelined, 4u);
  EXPECT_EQ(o->admin.idle_timeout, 9000ms);
}

TEST(RegisterOptionsTest, AutoSlotsComeFromZooKeeperAndNeedDiscovery) {
  config::RegisterConfig cfg;
  auto refused = fromText(R"(slots: "auto")", &cfg);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("register.conf:1"), std::string::npos)
      << refused.status().toString();
  EXPECT_NE(refused.status().message().find("discovery.zookeeper"), std::string::npos)
      << refused.status().toString();

  config::RegisterConfig with_zk;
  auto o = fromText(R"(slots: "auto" discovery { zookeeper: "127.0.0.1:2181" })", &with_zk);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->slots_from_discovery);

  config::RegisterConfig bad;
  EXPECT_FALSE(fromText(R"(slots: "automatic")", &bad).isOk());  // not a slot list either
  config::RegisterConfig fixed;
  auto static_slots = fromText(R"(slots: "0-511")", &fixed);
  ASSERT_TRUE(static_slots.isOk());
  EXPECT_FALSE(static_slots->slots_from_discovery);
}

// Every integer field of RegisterConfig, one value out of range each: refused, naming the
// field and the line the file set it on.
TEST(RegisterOptionsTest, EveryIntegerRangeIsChecked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rpc { listen { backlog: 70000 } }", "rpc.listen.backlog"},
      {"rpc { max_frame_bytes: 100 }", "rpc.max_frame_bytes"},
      {"rpc { max_concurrency: 2000000 }", "rpc.max_concurrency"},
      {"rpc { limits { high_watermark_bytes: 2000000000 } }", "rpc.limits.high_watermark_bytes"},
      {"rpc { limits { low_watermark_bytes: 2000000000 } }", "rpc.limits.low_watermark_bytes"},
      {"rpc { limits { hard_limit_bytes: 2000000000 } }", "rpc.limits.hard_limit_bytes"},
      {"admin { listen { backlog: 70000 } }", "admin.listen.backlog"},
      {"admin { max_header_bytes: 10 }", "admin.max_header_bytes"},
      {"admin { max_body_bytes: 100000000 }", "admin.max_body_bytes"},
      {"admin { idle_timeout_s: 100000 }", "admin.idle_timeout_s"},
      {"admin { max_pipelined: 5000 }", "admin.max_pipelined"},
      {"room_timeout_ms: 99", "room_timeout_ms"},
      {"room_timeout_ms: 3600001", "room_timeout_ms"},
      {"max_sessions_per_user: 10001", "max_sessions_per_user"},
      {"pull_page_sessions: 10001", "pull_page_sessions"},
      {"shutdown_grace_ms: 60001", "shutdown_grace_ms"},
  };
  for (const auto& [text, field] : cases) {
    config::RegisterConfig cfg;
    auto o = fromText("\n" + text + "\n", &cfg);
    ASSERT_FALSE(o.isOk()) << text;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT) << text;
    EXPECT_NE(o.status().message().find("register.conf:2:"), std::string::npos)
        << text << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find(field + ": "), std::string::npos)
        << text << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find("out of range"), std::string::npos) << o.status().message();
  }
}

// Every integer field of RegisterConfig and of its sub-messages, found by reflection, set far
// out of range: refused, naming that field. A field added to the proto later without a range
// in register_options.cc fails here.
TEST(RegisterOptionsTest, NoIntegerFieldGoesUnchecked) {
  testing::expectEveryIntegerFieldRangeChecked<config::RegisterConfig>(
      [](const config::RegisterConfig& cfg) {
        return RegisterOptions::fromConfig(cfg, nullptr).status();
      },
      15);
}

TEST(RegisterOptionsTest, ClusterKeyGoesToTheRpcServerAndThePulls) {
  config::RegisterConfig cfg;
  auto o = fromText(R"(cluster_key: "cluster-key-0123456789")", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->rpc.cluster_key, "cluster-key-0123456789");
  EXPECT_EQ(o->service.cluster_key, "cluster-key-0123456789");
  o = fromText(R"(cluster_key: "x")", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("cluster_key: 1 bytes"), std::string::npos)
      << o.status().message();
}

TEST(RegisterOptionsTest, ZeroMeansTheDefault) {
  config::RegisterConfig cfg;
  auto o = fromText("room_timeout_ms: 0 max_sessions_per_user: 0 shutdown_grace_ms: 0", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->service.room_timeout, 10000ms);
  EXPECT_EQ(o->service.max_sessions_per_user, 64u);
  EXPECT_EQ(o->shutdown_grace, 5000ms);
}

TEST(RegisterOptionsTest, BadSlotsNameTheField) {
  config::RegisterConfig cfg;
  auto o = fromText("slots: \"0-2000\"", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("register.conf:1:1: slots: "), std::string::npos)
      << o.status().message();
}

TEST(RegisterOptionsTest, WithoutAFileTheErrorStartsWithTheField) {
  config::RegisterConfig cfg;
  cfg.set_max_sessions_per_user(20000);
  auto o = RegisterOptions::fromConfig(cfg, nullptr);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().message(), "max_sessions_per_user: 20000 is out of range [1, 10000]");
}

TEST(RegisterOptionsTest, InconsistentRpcLimitsAreRefused) {
  config::RegisterConfig cfg;
  auto o =
      fromText("rpc { limits { low_watermark_bytes: 5000 high_watermark_bytes: 4000 } }", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace push::reg
