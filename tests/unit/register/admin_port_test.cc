// service::startAdmin (services/common/admin_port.h), the one way every service mounts its
// admin port. Lives here because services/common has no test folder of its own; register is
// its first user.
#include "services/common/admin_port.h"

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "tests/unit/register/admin_test_util.h"

namespace push::service {
namespace {

using reg::testing::httpGet;
using reg::testing::portFree;

class AdminPortTest : public ::testing::Test {
 protected:
  void TearDown() override {
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  net::EventLoop loop_;
};

TEST_F(AdminPortTest, EmptyAddressMeansNoAdminPort) {
  auto by_address = startAdmin(loop_, "", {});
  ASSERT_TRUE(by_address.isOk());
  EXPECT_EQ(by_address->get(), nullptr);
  http::HttpServer::Options options;
  options.address.clear();
  auto by_options = startAdmin(loop_, options, {});
  ASSERT_TRUE(by_options.isOk());
  EXPECT_EQ(by_options->get(), nullptr);
}

TEST_F(AdminPortTest, MalformedAddressIsInvalid) {
  auto admin = startAdmin(loop_, "nowhere", {});
  EXPECT_EQ(admin.status().code(), Code::INVALID_ARGUMENT) << admin.status().toString();
}

TEST_F(AdminPortTest, ServesHealthStatusAndMetrics) {
  bool ready = false;
  auto admin = startAdmin(loop_, "127.0.0.1:0",
                          {.health = [&] { return ready ? Status::ok() : unavailable("warming"); },
                           .status_json = [] { return std::string(R"({"x":1})"); }});
  ASSERT_TRUE(admin.isOk()) << admin.status().toString();
  ASSERT_NE(admin->get(), nullptr);
  const std::string address = (*admin)->address().toString();
  auto health = httpGet(loop_, address, "/healthz");
  ASSERT_TRUE(health.isOk()) << health.status().toString();
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("warming"), std::string::npos);
  ready = true;
  health = httpGet(loop_, address, "/healthz");
  ASSERT_TRUE(health.isOk());
  EXPECT_EQ(health->status, 200);
  auto status = httpGet(loop_, address, "/status");
  ASSERT_TRUE(status.isOk());
  EXPECT_EQ(status->body, R"({"x":1})");
  auto metrics = httpGet(loop_, address, "/metrics");
  ASSERT_TRUE(metrics.isOk());
  EXPECT_EQ(metrics->status, 200);
}

TEST_F(AdminPortTest, OptionsAreApplied) {
  http::HttpServer::Options options;
  options.address = "127.0.0.1:0";
  options.max_header_bytes = 1024;
  auto admin = startAdmin(loop_, options, {});
  ASSERT_TRUE(admin.isOk());
  EXPECT_EQ((*admin)->options().max_header_bytes, 1024u);
}

TEST_F(AdminPortTest, TheHandleClosesTheServer) {
  uint16_t port = 0;
  {
    auto admin = startAdmin(loop_, "127.0.0.1:0", {});
    ASSERT_TRUE(admin.isOk());
    port = (*admin)->address().port();
    EXPECT_FALSE(portFree(port));
  }
  loop_.runUntil([] { return false; }, std::chrono::milliseconds(20));  // close callbacks run
  EXPECT_TRUE(portFree(port)) << "port " << port << " still bound after the handle went away";
}

}  // namespace
}  // namespace push::service
