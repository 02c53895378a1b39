#include "common/base/command_line.h"

#include <initializer_list>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace push {
namespace {

using ::testing::HasSubstr;

// argv as main() gets it: program name first, writable strings.
class Argv {
 public:
  Argv(std::initializer_list<std::string> args) : storage_(args) {
    storage_.insert(storage_.begin(), "prog");
    for (auto& s : storage_)
      ptrs_.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> ptrs_;
};

CommandLine makeCommandLine() {
  CommandLine cl("push-test", "a test program");
  cl.option("config", "FILE", "config file");
  cl.option("port", "N", "port to listen on");
  cl.flag("verbose", "log more");
  return cl;
}

TEST(CommandLineTest, ParsesOptionsAndSwitches) {
  CommandLine cl = makeCommandLine();
  Argv a{"--config", "room.conf", "--verbose", "--port=8080"};
  ASSERT_TRUE(cl.parse(a.argc(), a.argv()).isOk());
  EXPECT_EQ(cl.get("config"), "room.conf");
  EXPECT_TRUE(cl.has("verbose"));
  EXPECT_EQ(cl.get("port"), "8080");
  auto port = cl.getInt("port", 0, 1, 65535);
  ASSERT_TRUE(port.isOk());
  EXPECT_EQ(*port, 8080);
}

TEST(CommandLineTest, AbsentValuesFallBack) {
  CommandLine cl = makeCommandLine();
  Argv a{};
  ASSERT_TRUE(cl.parse(a.argc(), a.argv()).isOk());
  EXPECT_FALSE(cl.has("config"));
  EXPECT_FALSE(cl.has("verbose"));
  EXPECT_EQ(cl.get("config", "default.conf"), "default.conf");
  EXPECT_EQ(cl.get("config"), "");
  auto port = cl.getInt("port", 7000, 1, 65535);
  ASSERT_TRUE(port.isOk());
  EXPECT_EQ(*port, 7000);
}

TEST(CommandLineTest, ErrorsNameTheFlag) {
  {
    CommandLine cl = makeCommandLine();
    Argv a{"--colour"};
    Status st = cl.parse(a.argc(), a.argv());
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
    EXPECT_THAT(st.message(), HasSubstr("--colour"));
  }
  {
    CommandLine cl = makeCommandLine();
    Argv a{"--config"};
    Status st = cl.parse(a.argc(), a.argv());
    EXPECT_THAT(st.message(), HasSubstr("--config"));
    EXPECT_THAT(st.message(), HasSubstr("FILE"));
  }
  {
    CommandLine cl = makeCommandLine();
    Argv a{"--port", "1", "--port=2"};
    EXPECT_THAT(cl.parse(a.argc(), a.argv()).message(), HasSubstr("--port given twice"));
  }
  {
    CommandLine cl = makeCommandLine();
    Argv a{"--verbose=yes"};
    EXPECT_THAT(cl.parse(a.argc(), a.argv()).message(), HasSubstr("--verbose takes no value"));
  }
  {
    CommandLine cl = makeCommandLine();
    Argv a{"stray"};
    EXPECT_THAT(cl.parse(a.argc(), a.argv()).message(), HasSubstr("'stray'"));
  }
}

TEST(CommandLineTest, GetIntChecksNumberAndRange) {
  CommandLine cl = makeCommandLine();
  Argv a{"--port", "70000", "--config", "12x"};
  ASSERT_TRUE(cl.parse(a.argc(), a.argv()).isOk());
  auto port = cl.getInt("port", 0, 1, 65535);
  ASSERT_FALSE(port.isOk());
  EXPECT_EQ(port.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_THAT(port.status().message(), HasSubstr("--port"));
  EXPECT_THAT(port.status().message(), HasSubstr("[1, 65535]"));
  EXPECT_FALSE(cl.getInt("config", 0, 0, 100).isOk());  // trailing garbage
  auto wide = cl.getInt("port", 0, 0, 100000);
  ASSERT_TRUE(wide.isOk());
  EXPECT_EQ(*wide, 70000);
}

TEST(CommandLineTest, UsageListsEveryFlag) {
  CommandLine cl = makeCommandLine();
  std::string usage = cl.usage();
  EXPECT_THAT(usage, HasSubstr("push-test: a test program"));
  EXPECT_THAT(usage, HasSubstr("--config FILE"));
  EXPECT_THAT(usage, HasSubstr("config file"));
  EXPECT_THAT(usage, HasSubstr("--verbose"));
  EXPECT_THAT(usage, HasSubstr("log more"));
}

}  // namespace
}  // namespace push
