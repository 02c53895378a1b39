#include "common/base/log.h"

#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "proto/config.pb.h"

namespace push::log {
namespace {

using ::testing::HasSubstr;

// Captures what one component logs, and restores its sinks and every level afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& l = logger(Component::Net);
    saved_sinks_ = l.sinks();
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink_->set_pattern("%l %n %v");
    l.sinks() = {sink_};
  }
  void TearDown() override {
    logger(Component::Net).sinks() = saved_sinks_;
    EXPECT_TRUE(setLevel("info").isOk());
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
};

TEST_F(LogTest, SetLevelAppliesToEveryComponent) {
  ASSERT_TRUE(setLevel("debug").isOk());
  for (int i = 0; i < static_cast<int>(Component::kCount); ++i) {
    EXPECT_EQ(logger(static_cast<Component>(i)).level(), spdlog::level::debug) << i;
  }
  ASSERT_TRUE(setLevel("warning").isOk());  // alias of warn
  EXPECT_EQ(logger(Component::Rpc).level(), spdlog::level::warn);
}

TEST_F(LogTest, SetLevelRejectsUnknownLevel) {
  ASSERT_TRUE(setLevel("error").isOk());
  Status st = setLevel("verbose");
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(st.message(), HasSubstr("verbose"));
  EXPECT_EQ(logger(Component::Base).level(), spdlog::level::err);  // unchanged
  EXPECT_FALSE(setLevel("").isOk());
  EXPECT_FALSE(setLevel("DEBUG").isOk());  // names are lower case
}

TEST_F(LogTest, ConfigureSetsDefaultAndPerComponentLevels) {
  config::LogConfig cfg;
  cfg.set_level("warn");
  (*cfg.mutable_component_levels())["rpc"] = "trace";
  (*cfg.mutable_component_levels())["room"] = "off";
  ASSERT_TRUE(configure(cfg).isOk());
  EXPECT_EQ(logger(Component::Net).level(), spdlog::level::warn);
  EXPECT_EQ(logger(Component::Rpc).level(), spdlog::level::trace);
  EXPECT_EQ(logger(Component::Room).level(), spdlog::level::off);

  // Empty level means the default, info.
  ASSERT_TRUE(configure(config::LogConfig()).isOk());
  EXPECT_EQ(logger(Component::Rpc).level(), spdlog::level::info);
}

TEST_F(LogTest, ConfigureRejectsUnknownComponentAndChangesNothing) {
  ASSERT_TRUE(setLevel("error").isOk());
  config::LogConfig cfg;
  cfg.set_level("debug");
  (*cfg.mutable_component_levels())["rpcc"] = "debug";
  Status st = configure(cfg);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(st.message(), HasSubstr("'rpcc'"));
  // Validation happens before anything is applied.
  EXPECT_EQ(logger(Component::Net).level(), spdlog::level::err);
}

TEST_F(LogTest, ConfigureRejectsUnknownLevels) {
  config::LogConfig cfg;
  cfg.set_level("loud");
  Status st = configure(cfg);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(st.message(), HasSubstr("log.level"));
  EXPECT_THAT(st.message(), HasSubstr("loud"));

  config::LogConfig per_component;
  (*per_component.mutable_component_levels())["net"] = "chatty";
  st = configure(per_component);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(st.message(), HasSubstr("net"));
  EXPECT_THAT(st.message(), HasSubstr("chatty"));
}

TEST_F(LogTest, ConfigureRejectsUnopenableFile) {
  config::LogConfig cfg;
  // spdlog creates missing parent directories, so use a path below a regular file.
  cfg.set_file("/dev/null/push.log");
  Status st = configure(cfg);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(st.message(), HasSubstr("log.file"));
}

TEST_F(LogTest, MacrosRespectLevelAndSkipFormattingWhenOff) {
  ASSERT_TRUE(setLevel("info").isOk());
  int formatted = 0;
  auto counted = [&formatted] {
    ++formatted;
    return 1;
  };
  LOG_DEBUG(Net, "hidden {}", counted());
  EXPECT_EQ(formatted, 0);  // arguments are not even evaluated below the level
  LOG_INFO(Net, "shown {}", counted());
  EXPECT_EQ(formatted, 1);
  EXPECT_EQ(out_.str(), "info net shown 1\n");
}

TEST_F(LogTest, LogConnPrefixesConnectionId) {
  LOG_CONN(Warn, Net, 42, "slow peer, {} bytes queued", 1000);
  LOG_CONN(Info, Net, 7, "no args");
  EXPECT_EQ(out_.str(), "warning net [C42] slow peer, 1000 bytes queued\ninfo net [C7] no args\n");
}

TEST_F(LogTest, LogEverySecSuppressesRepeats) {
  for (int i = 0; i < 5; ++i)
    LOG_EVERY_SEC(Warn, Net, 3600, "accept failed: {}", "EMFILE");
  EXPECT_EQ(out_.str(), "warning net accept failed: EMFILE (0 similar lines suppressed)\n");
}

TEST(RateLimitTest, FirstCallLogsThenCountsSuppressed) {
  RateLimit limit;
  uint64_t suppressed = 99;
  EXPECT_TRUE(limit.shouldLog(3600, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(limit.shouldLog(3600, &suppressed));
  // An interval of 0 lets the next call through and reports what was dropped.
  RateLimit immediate;
  EXPECT_TRUE(immediate.shouldLog(0, &suppressed));
  EXPECT_TRUE(immediate.shouldLog(0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace push::log
