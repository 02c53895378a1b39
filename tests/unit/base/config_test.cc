#include "common/base/config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/config.pb.h"

namespace push {
namespace {

using config::EchoServerConfig;
using ::testing::HasSubstr;

constexpr const char* kGood = R"(# echo server
log {
  level: "debug"
  component_levels { key: "rpc" value: "trace" }
}
rpc {
  listen { address: "127.0.0.1:0" reuse_port: true }
  max_frame_bytes: 1048576
  max_concurrency: 0
}
server_id: "echo-1"
)";

std::unique_ptr<ConfigFile> parseOk(std::string_view text, EchoServerConfig* cfg,
                                    std::string name = "echo.conf") {
  auto r = ConfigFile::parse(text, std::move(name), cfg);
  EXPECT_TRUE(r.isOk()) << r.status();
  return r.isOk() ? std::move(r).value() : nullptr;
}

TEST(ConfigFileTest, ParsesEchoServerConfig) {
  EchoServerConfig cfg;
  auto file = parseOk(kGood, &cfg);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->name(), "echo.conf");
  EXPECT_EQ(cfg.log().level(), "debug");
  EXPECT_EQ(cfg.log().component_levels().at("rpc"), "trace");
  EXPECT_EQ(cfg.rpc().listen().address(), "127.0.0.1:0");
  EXPECT_TRUE(cfg.rpc().listen().reuse_port());
  EXPECT_EQ(cfg.rpc().max_frame_bytes(), 1048576u);
  EXPECT_EQ(cfg.server_id(), "echo-1");
  EXPECT_FALSE(cfg.has_admin());
}

TEST(ConfigFileTest, ParseClearsTheMessageFirst) {
  EchoServerConfig cfg;
  cfg.set_server_id("stale");
  cfg.mutable_admin()->set_max_body_bytes(5);
  auto file = parseOk("rpc { max_frame_bytes: 2048 }", &cfg);
  EXPECT_EQ(cfg.server_id(), "");
  EXPECT_FALSE(cfg.has_admin());
  EXPECT_EQ(cfg.rpc().max_frame_bytes(), 2048u);
}

TEST(ConfigFileTest, SyntaxErrorNamesFileLineAndColumn) {
  EchoServerConfig cfg;
  // Line 3 lacks the closing quote; columns count from 1 like editors do.
  auto r = ConfigFile::parse("rpc {\n  max_frame_bytes: 10\n  listen { address: \"x }\n}\n",
                             "bad.conf", &cfg);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(r.status().message(), HasSubstr("bad.conf:3:")) << r.status();
}

TEST(ConfigFileTest, SyntaxErrorColumnIsOneBased) {
  EchoServerConfig cfg;
  // "server_id" then a number where a ':' or value was expected... use a bad token at col 12.
  auto r = ConfigFile::parse("server_id: 12x", "col.conf", &cfg);
  ASSERT_FALSE(r.isOk());
  EXPECT_THAT(r.status().message(), HasSubstr("col.conf:1:12")) << r.status();
}

TEST(ConfigFileTest, UnknownFieldIsNamed) {
  EchoServerConfig cfg;
  auto r = ConfigFile::parse("rpc {\n  max_frame_bytez: 10\n}\n", "typo.conf", &cfg);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(r.status().message(), HasSubstr("max_frame_bytez")) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("typo.conf:2:")) << r.status();
}

TEST(ConfigFileTest, BadValueTypeIsRejected) {
  EchoServerConfig cfg;
  auto r = ConfigFile::parse("rpc { max_frame_bytes: -5 }", "neg.conf", &cfg);
  ASSERT_FALSE(r.isOk());
  EXPECT_THAT(r.status().message(), HasSubstr("neg.conf:1:")) << r.status();
}

TEST(ConfigFileTest, RequireRangeAcceptsValuesInRange) {
  EchoServerConfig cfg;
  auto file = parseOk(kGood, &cfg);
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(file->requireRange("rpc.max_frame_bytes", 1024, 256 << 20).isOk());
  // Bounds are inclusive.
  EXPECT_TRUE(file->requireRange("rpc.max_frame_bytes", 1048576, 1048576).isOk());
}

TEST(ConfigFileTest, RequireRangeErrorNamesLocationAndDottedPath) {
  EchoServerConfig cfg;
  auto file = parseOk(
      "log { level: \"info\" }\nrpc {\n  listen { address: \"a:1\" }\n"
      "  max_frame_bytes: 100\n}\n",
      &cfg, "room.conf");
  ASSERT_NE(file, nullptr);
  Status st = file->requireRange("rpc.max_frame_bytes", 1024, 256 << 20);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  // Line 4, column 3: where the file set the field.
  EXPECT_EQ(st.message(),
            "room.conf:4:3: rpc.max_frame_bytes: 100 is out of range [1024, 268435456]");
  // Above the maximum as well.
  st = file->requireRange("rpc.max_frame_bytes", 1, 99);
  EXPECT_THAT(st.message(), HasSubstr("room.conf:4:3: rpc.max_frame_bytes: 100"));
}

TEST(ConfigFileTest, RequireRangeThreeLevelsDeep) {
  EchoServerConfig cfg;
  auto file = parseOk("admin {\n listen {\n   backlog: 70000\n }\n}\n", &cfg, "a.conf");
  ASSERT_NE(file, nullptr);
  Status st = file->requireRange("admin.listen.backlog", 1, 65535);
  EXPECT_EQ(st.message(), "a.conf:3:4: admin.listen.backlog: 70000 is out of range [1, 65535]");
}

TEST(ConfigFileTest, ZeroMeansDefault) {
  EchoServerConfig cfg;
  auto file = parseOk("rpc { max_frame_bytes: 0 }\n", &cfg);
  ASSERT_NE(file, nullptr);
  // Written as 0, or not written at all: both mean "use the default".
  EXPECT_TRUE(file->requireRange("rpc.max_frame_bytes", 1024, 4096).isOk());
  EXPECT_TRUE(file->requireRange("rpc.max_concurrency", 1, 10).isOk());
  EXPECT_TRUE(file->requireRange("admin.listen.backlog", 1, 10).isOk());
  // Unless the caller says 0 is a real value.
  Status st = file->requireRange("rpc.max_frame_bytes", 1024, 4096, false);
  EXPECT_EQ(st.message(), "echo.conf:1:7: rpc.max_frame_bytes: 0 is out of range [1024, 4096]");
  // A field the file did not set has no line to point at: just the file name.
  st = file->requireRange("rpc.max_concurrency", 1, 10, false);
  EXPECT_EQ(st.message(), "echo.conf: rpc.max_concurrency: 0 is out of range [1, 10]");
}

TEST(CheckFieldRangeTest, NamesTheFieldWithOrWithoutAFile) {
  EchoServerConfig cfg;
  auto file = parseOk("rpc {\n  max_frame_bytes: 100\n}\n", &cfg, "e.conf");
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(checkFieldRange(file.get(), "rpc.max_frame_bytes", 100, 1, 100).isOk());
  EXPECT_TRUE(checkFieldRange(nullptr, "rpc.max_frame_bytes", 0, 1024, 4096).isOk());  // unset
  Status st = checkFieldRange(file.get(), "rpc.max_frame_bytes", 100, 1024, 4096);
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(st.message(), "e.conf:2:3: rpc.max_frame_bytes: 100 is out of range [1024, 4096]");
  st = checkFieldRange(nullptr, "rpc.max_frame_bytes", 5000, 1024, 4096);
  EXPECT_EQ(st.message(), "rpc.max_frame_bytes: 5000 is out of range [1024, 4096]");
}

TEST(ConfigFileTest, RequireRangeOnMissingOrNonIntegerFieldIsInternal) {
  EchoServerConfig cfg;
  auto file = parseOk(kGood, &cfg);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->requireRange("rpc.no_such_field", 0, 1).code(), Code::INTERNAL);
  EXPECT_EQ(file->requireRange("server_id", 0, 1).code(), Code::INTERNAL);
  EXPECT_EQ(file->requireRange("server_id.x", 0, 1).code(), Code::INTERNAL);
}

TEST(ConfigFileTest, FieldErrorPointsAtTheField) {
  EchoServerConfig cfg;
  auto file = parseOk(kGood, &cfg);
  ASSERT_NE(file, nullptr);
  Status st = file->fieldError("rpc.listen.address", "cannot bind");
  EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(st.message(), "echo.conf:7:12: rpc.listen.address: cannot bind");
  EXPECT_EQ(file->fieldError("server_id", "taken").message(), "echo.conf:11:1: server_id: taken");
}

TEST(ConfigFileTest, LoadReadsFileAndReportsMissingFile) {
  std::string path = ::testing::TempDir() + "config_test_" + std::to_string(::getpid()) + ".conf";
  {
    std::ofstream out(path);
    out << "server_id: \"from-file\"\nrpc { max_frame_bytes: 7 }\n";
  }
  EchoServerConfig cfg;
  auto r = ConfigFile::load(path, &cfg);
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(cfg.server_id(), "from-file");
  Status st = (*r)->requireRange("rpc.max_frame_bytes", 1024, 2048);
  EXPECT_EQ(st.message(), path + ":2:7: rpc.max_frame_bytes: 7 is out of range [1024, 2048]");
  std::remove(path.c_str());

  auto missing = ConfigFile::load(path, &cfg);
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), Code::NOT_FOUND);
  EXPECT_THAT(missing.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace push
