// SaverOptions::fromConfig: defaults, values taken, every integer range checked (the error
// names the field and where the file set it), the Redis mode and addresses, the ttl order, and
// MySQL (absent, or with a password read from a file).
#include "services/saver/saver_options.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "proto/config.pb.h"
#include "tests/support/config_test_util.h"

namespace push::saver {
namespace {

using namespace std::chrono_literals;

Result<SaverOptions> fromText(const std::string& text, config::SaverConfig* cfg) {
  auto file = ConfigFile::parse(text, "saver.conf", cfg);
  if (!file.isOk()) return file.status();
  return SaverOptions::fromConfig(*cfg, file->get());
}

// A directory of its own under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "saver_options_XXXXXX");
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SaverOptionsTest, EmptyConfigGivesTheDefaults) {
  config::SaverConfig cfg;
  auto o = SaverOptions::fromConfig(cfg, nullptr);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->redis.mode, redis::RedisRouter::Mode::Single);
  ASSERT_EQ(o->redis.addresses.size(), 1u);
  EXPECT_EQ(o->redis.addresses[0], "127.0.0.1:6379");
  EXPECT_FALSE(o->mysql.has_value());  // no mysql section: Redis only
  EXPECT_EQ(o->inbox.default_ttl, 604'800s);
  EXPECT_EQ(o->inbox.max_ttl, 2'592'000s);
  EXPECT_EQ(o->inbox.max_loads, 5u);
  EXPECT_EQ(o->inbox.default_load_limit, 100u);
  EXPECT_EQ(o->inbox.max_load_limit, 1000u);
  EXPECT_EQ(o->broadcasts.default_limit, 100u);
  EXPECT_EQ(o->broadcasts.max_limit, 1000u);
  EXPECT_EQ(o->broadcasts.log_max, 1000u);
  EXPECT_EQ(o->broadcasts.cache_check, 200ms);
  EXPECT_EQ(o->limits.max_users_per_store, 10'000u);
  EXPECT_EQ(o->write_behind.batch, 1000u);
  EXPECT_EQ(o->write_behind.interval, 20ms);
  EXPECT_EQ(o->write_behind.max_backlog, 1'000'000u);
  EXPECT_EQ(o->write_behind.min_age, 500ms);
  EXPECT_EQ(o->recovery.check_interval, 1000ms);
  EXPECT_EQ(o->shutdown_grace, 5000ms);
  EXPECT_EQ(o->rpc.address, "127.0.0.1:7400");
  EXPECT_TRUE(o->admin.address.empty());  // no admin port unless asked for
}

TEST(SaverOptionsTest, TakesEveryField) {
  config::SaverConfig cfg;
  auto o = fromText(R"(
    rpc { listen { address: "127.0.0.1:0" } max_concurrency: 10 }
    admin { listen { address: "127.0.0.1:0" } max_pipelined: 4 }
    redis { mode: "cluster" addresses: "127.0.0.1:7001" addresses: "127.0.0.1:7002"
            timeout_ms: 750 }
    mysql { host: "db.local" port: 3307 user: "saver" password: "pw" database: "pushdb"
            threads: 6 }
    default_ttl_s: 60
    max_ttl_s: 120
    max_loads: 7
    default_load_limit: 11
    max_load_limit: 22
    max_users_per_store: 33
    broadcast_log_max: 44
    broadcast_cache_check_ms: 55
    write_behind_batch: 66
    write_behind_interval_ms: 77
    write_behind_max_backlog: 8888
    write_behind_min_age_ms: 66
    recovery_check_ms: 999
    shutdown_grace_ms: 250
  )",
                    &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->redis.mode, redis::RedisRouter::Mode::Cluster);
  EXPECT_EQ(o->redis.addresses, (std::vector<std::string>{"127.0.0.1:7001", "127.0.0.1:7002"}));
  EXPECT_EQ(o->redis.client.timeout, 750ms);
  ASSERT_TRUE(o->mysql.has_value());
  EXPECT_EQ(o->mysql->host, "db.local");
  EXPECT_EQ(o->mysql->port, 3307);
  EXPECT_EQ(o->mysql->user, "saver");
  EXPECT_EQ(o->mysql->password, "pw");
  EXPECT_EQ(o->mysql->database, "pushdb");
  EXPECT_EQ(o->mysql->threads, 6u);
  EXPECT_EQ(o->inbox.default_ttl, 60s);
  EXPECT_EQ(o->inbox.max_ttl, 120s);
  EXPECT_EQ(o->inbox.max_loads, 7u);
  EXPECT_EQ(o->inbox.default_load_limit, 11u);
  EXPECT_EQ(o->inbox.max_load_limit, 22u);
  EXPECT_EQ(o->broadcasts.default_limit, 11u);
  EXPECT_EQ(o->broadcasts.max_limit, 22u);
  EXPECT_EQ(o->limits.max_users_per_store, 33u);
  EXPECT_EQ(o->broadcasts.log_max, 44u);
  EXPECT_EQ(o->broadcasts.cache_check, 55ms);
  EXPECT_EQ(o->write_behind.batch, 66u);
  EXPECT_EQ(o->write_behind.interval, 77ms);
  EXPECT_EQ(o->write_behind.max_backlog, 8888u);
  EXPECT_EQ(o->write_behind.min_age, 66ms);
  EXPECT_EQ(o->recovery.check_interval, 999ms);
  EXPECT_EQ(o->shutdown_grace, 250ms);
  EXPECT_EQ(o->rpc.address, "127.0.0.1:0");
  EXPECT_EQ(o->rpc.max_concurrency, 10u);
  EXPECT_EQ(o->admin.address, "127.0.0.1:0");
  EXPECT_EQ(o->admin.max_pipelined, 4u);
}

// Every integer field of SaverConfig, one value out of range each: refused, naming the field
// and the line the file set it on.
TEST(SaverOptionsTest, EveryIntegerRangeIsChecked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rpc { listen { backlog: 70000 } }", "rpc.listen.backlog"},
      {"rpc { max_frame_bytes: 100 }", "rpc.max_frame_bytes"},
      {"admin { idle_timeout_s: 100000 }", "admin.idle_timeout_s"},
      {"redis { timeout_ms: 9 }", "redis.timeout_ms"},
      {"redis { timeout_ms: 60001 }", "redis.timeout_ms"},
      {"mysql { port: 65536 }", "mysql.port"},
      {"mysql { threads: 65 }", "mysql.threads"},
      {"default_ttl_s: 31536001", "default_ttl_s"},
      {"max_ttl_s: 31536001", "max_ttl_s"},
      {"max_loads: 1001", "max_loads"},
      {"default_load_limit: 10001", "default_load_limit"},
      {"max_load_limit: 10001", "max_load_limit"},
      {"max_users_per_store: 1000001", "max_users_per_store"},
      {"broadcast_log_max: 100001", "broadcast_log_max"},
      {"broadcast_cache_check_ms: 60001", "broadcast_cache_check_ms"},
      {"write_behind_batch: 100001", "write_behind_batch"},
      {"write_behind_interval_ms: 60001", "write_behind_interval_ms"},
      {"write_behind_max_backlog: 999", "write_behind_max_backlog"},
      {"write_behind_min_age_ms: 60001", "write_behind_min_age_ms"},
      {"write_behind_max_backlog: 100000001", "write_behind_max_backlog"},
      {"recovery_check_ms: 99", "recovery_check_ms"},
      {"recovery_check_ms: 600001", "recovery_check_ms"},
      {"shutdown_grace_ms: 60001", "shutdown_grace_ms"},
  };
  for (const auto& [text, field] : cases) {
    config::SaverConfig cfg;
    auto o = fromText("\n" + text + "\n", &cfg);
    ASSERT_FALSE(o.isOk()) << text;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT) << text;
    EXPECT_NE(o.status().message().find("saver.conf:2:"), std::string::npos)
        << text << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find(field + ": "), std::string::npos)
        << text << " -> " << o.status().message();
    EXPECT_NE(o.status().message().find("out of range"), std::string::npos) << o.status().message();
  }
}

// Every integer field of SaverConfig and of its sub-messages, found by reflection, set far out
// of range: refused, naming that field. A field added to the proto later without a range in
// saver_options.cc fails here.
TEST(SaverOptionsTest, NoIntegerFieldGoesUnchecked) {
  testing::expectEveryIntegerFieldRangeChecked<config::SaverConfig>(
      [](const config::SaverConfig& cfg) {
        return SaverOptions::fromConfig(cfg, nullptr).status();
      },
      17);
}

TEST(SaverOptionsTest, WithoutAFileTheErrorStartsWithTheField) {
  config::SaverConfig cfg;
  cfg.set_max_loads(2000);
  auto o = SaverOptions::fromConfig(cfg, nullptr);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().message(), "max_loads: 2000 is out of range [1, 1000]");
}

TEST(SaverOptionsTest, RedisModes) {
  const std::vector<std::pair<std::string, redis::RedisRouter::Mode>> modes = {
      {"", redis::RedisRouter::Mode::Single},
      {"single", redis::RedisRouter::Mode::Single},
      {"shards", redis::RedisRouter::Mode::Shards},
      {"cluster", redis::RedisRouter::Mode::Cluster},
  };
  for (const auto& [mode, want] : modes) {
    config::SaverConfig cfg;
    auto o = fromText("redis { mode: \"" + mode + "\" addresses: \"127.0.0.1:7000\" }", &cfg);
    ASSERT_TRUE(o.isOk()) << mode << ": " << o.status().toString();
    EXPECT_EQ(o->redis.mode, want) << mode;
    EXPECT_EQ(o->redis.addresses, std::vector<std::string>{"127.0.0.1:7000"}) << mode;
  }

  config::SaverConfig cfg;
  auto o = fromText("\nredis { mode: \"sentinel\" }", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("saver.conf:2:"), std::string::npos) << o.status().message();
  EXPECT_NE(o.status().message().find("redis.mode: 'sentinel' is not single, shards or cluster"),
            std::string::npos)
      << o.status().message();
}

TEST(SaverOptionsTest, ShardsAndClusterTakeSeveralAddressesSingleOnlyOne) {
  for (const std::string mode : {"shards", "cluster"}) {
    config::SaverConfig cfg;
    auto o = fromText("redis { mode: \"" + mode +
                          "\" addresses: \"127.0.0.1:7000\" addresses: \"127.0.0.1:7001\" }",
                      &cfg);
    ASSERT_TRUE(o.isOk()) << mode << ": " << o.status().toString();
    EXPECT_EQ(o->redis.addresses.size(), 2u) << mode;
  }
  for (const std::string mode : {"", "single"}) {
    config::SaverConfig cfg;
    auto o = fromText("redis { mode: \"" + mode +
                          "\" addresses: \"127.0.0.1:7000\" addresses: \"127.0.0.1:7001\" }",
                      &cfg);
    ASSERT_FALSE(o.isOk()) << mode;
    EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT) << mode;
    EXPECT_NE(o.status().message().find("redis.addresses: mode single takes exactly one address"),
              std::string::npos)
        << mode << " -> " << o.status().message();
  }
}

TEST(SaverOptionsTest, DefaultTtlAboveMaxTtlIsRefused) {
  config::SaverConfig cfg;
  auto o = fromText("default_ttl_s: 100 max_ttl_s: 99", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("default_ttl_s: is above max_ttl_s"), std::string::npos)
      << o.status().message();

  // Equal is fine; so is a default_ttl_s alone below the default max (30 days).
  o = fromText("default_ttl_s: 100 max_ttl_s: 100", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->inbox.default_ttl, o->inbox.max_ttl);
  config::SaverConfig cfg2;
  o = fromText("default_ttl_s: 2592000", &cfg2);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  // Above the default max (30 days) without raising max_ttl_s: refused.
  config::SaverConfig cfg3;
  o = fromText("default_ttl_s: 2592001", &cfg3);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("default_ttl_s: is above max_ttl_s"), std::string::npos)
      << o.status().message();
}

TEST(SaverOptionsTest, MySqlPasswordFileIsReadAndItsTrailingNewlineTrimmed) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string file = dir.write("password", "s3cr et\n");
  config::SaverConfig cfg;
  auto o = fromText(
      "mysql { host: \"127.0.0.1\" password: \"ignored\" password_file: \"" + file + "\" }", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_TRUE(o->mysql.has_value());
  EXPECT_EQ(o->mysql->password, "s3cr et");  // the file wins over password; inner space kept
  EXPECT_EQ(o->mysql->database, "push");     // the default
  EXPECT_EQ(o->mysql->port, 3306);
  // One thread is the write-behind's ordered lane; recovery needs another.
  EXPECT_GE(o->mysql->threads, 2u);

  // CRLF is trimmed too.
  file = dir.write("password2", "pw\r\n");
  config::SaverConfig cfg2;
  o = fromText("mysql { unix_socket: \"/tmp/x.sock\" password_file: \"" + file + "\" }", &cfg2);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  ASSERT_TRUE(o->mysql.has_value());
  EXPECT_EQ(o->mysql->unix_socket, "/tmp/x.sock");
  EXPECT_EQ(o->mysql->password, "pw");
}

TEST(SaverOptionsTest, AMissingPasswordFileIsRefused) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string missing = dir.path() + "/no-such-file";
  config::SaverConfig cfg;
  auto o = fromText("\nmysql { host: \"127.0.0.1\" password_file: \"" + missing + "\" }", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_EQ(o.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(o.status().message().find("mysql.password_file: cannot read " + missing),
            std::string::npos)
      << o.status().message();
}

TEST(SaverOptionsTest, MySqlOnlyWithAHostOrASocket) {
  // A mysql section naming neither host nor unix_socket is "no MySQL" (proto/config.proto).
  config::SaverConfig cfg;
  auto o = fromText("mysql { user: \"u\" database: \"d\" }", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_FALSE(o->mysql.has_value());
}

TEST(SaverOptionsTest, ClusterKeyGoesToTheRpcServer) {
  config::SaverConfig cfg;
  auto o = fromText(R"(cluster_key: "cluster-key-0123456789")", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->rpc.cluster_key, "cluster-key-0123456789");
  config::SaverConfig cfg2;
  o = fromText(R"(cluster_key: "x")", &cfg2);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("cluster_key: 1 bytes"), std::string::npos)
      << o.status().message();
}

TEST(SaverOptionsTest, ZeroMeansTheDefault) {
  config::SaverConfig cfg;
  auto o =
      fromText("max_loads: 0 default_ttl_s: 0 shutdown_grace_ms: 0 redis { timeout_ms: 0 }", &cfg);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_EQ(o->inbox.max_loads, 5u);
  EXPECT_EQ(o->inbox.default_ttl, 604'800s);
  EXPECT_EQ(o->shutdown_grace, 5000ms);
}

TEST(SaverOptionsTest, ABacklogCapWithinTwoBatchesIsRefused) {
  // A batch in flight is never dropped, so a cap near the batch size would drop the newest facts.
  config::SaverConfig cfg;
  auto o = fromText("write_behind_batch: 1000 write_behind_max_backlog: 1999", &cfg);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(
      o.status().message().find("write_behind_max_backlog: is below twice write_behind_batch"),
      std::string::npos)
      << o.status().message();
  config::SaverConfig cfg2;
  o = fromText("write_behind_batch: 1000 write_behind_max_backlog: 2000", &cfg2);
  EXPECT_TRUE(o.isOk()) << o.status().toString();
}

}  // namespace
}  // namespace push::saver
