// CenterOptions (declared in center_server.h): options of the center from its config file.
#include <gtest/gtest.h>

#include <string>

#include "common/base/config.h"
#include "proto/config.pb.h"
#include "services/center/center_server.h"

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
  EXPECT_EQ(o->max_targets, 10'000u);
  EXPECT_EQ(o->max_payload_bytes, 4096u);
  ASSERT_EQ(o->register_client.shards.size(), 1u);
  EXPECT_EQ(o->register_client.shards[0].slots.count(), 1024u);
}

TEST(CenterOptionsTest, ReadsEveryField) {
  auto o = fromText(std::string(kRegister) + R"(
    http { listen { address: "0.0.0.0:9000" } }
    apps { name: "a" api_keys: "key-a-0123456789ab" api_keys: "key-a-second-12345"
           push_rate_per_s: 50 }
    apps { name: "b" push_rate_per_s: 10 push_burst: 15 }
    node_id: 1023
    max_targets_per_request: 77
    max_payload_bytes: 61440
    room_channel { timeout_ms: 300 }
  )");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->http.address, "0.0.0.0:9000");
  ASSERT_EQ(o->apps.size(), 2u);
  EXPECT_EQ(o->apps[0].api_keys.size(), 2u);
  EXPECT_EQ(o->apps[0].rate_per_s, 50);
  EXPECT_EQ(o->apps[0].burst, 100);  // 2 x rate
  EXPECT_EQ(o->apps[1].rate_per_s, 10);
  EXPECT_EQ(o->apps[1].burst, 15);
  EXPECT_TRUE(o->apps[1].api_keys.empty());
  EXPECT_EQ(o->node_id, 1023u);
  EXPECT_EQ(o->max_targets, 77u);
  EXPECT_EQ(o->max_payload_bytes, 61440u);
  EXPECT_EQ(o->room_channel.timeout, std::chrono::milliseconds(300));
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
  EXPECT_EQ(one->max_payload_bytes, 1u);
}

TEST(CenterOptionsTest, AppsAndRegisterAreRequired) {
  auto no_apps = fromText(kRegister);
  ASSERT_FALSE(no_apps.isOk());
  EXPECT_NE(no_apps.status().message().find("no apps"), std::string::npos);
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

}  // namespace
}  // namespace push::center
