#pragma once

// The dispatcher tests' ZooKeeper: one real server per test binary (a JVM start costs about a
// second), a fresh root per test. The pattern of tests/unit/discovery/zk_fixture.h, kept as a
// file of our own so the two suites can change apart.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "tests/support/zookeeper_server.h"

namespace push::dispatcher {

using namespace std::chrono_literals;

class DispatcherZkTest : public ::testing::Test {
 protected:
  // Started by the first test that needs it (a suite of static-mode tests starts no JVM).
  static void TearDownTestSuite() { server_.reset(); }

  // False for tests that run without ZooKeeper.
  virtual bool needsZk() const { return true; }

  void SetUp() override {
    root_ = "/push/d" + std::to_string(++counter_);
    if (!needsZk()) return;
    if (!testing::ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    if (server_ == nullptr) {
      auto started = testing::ZooKeeperServer::start();
      ASSERT_TRUE(started.isOk()) << "zookeeper did not start: " << started.status();
      server_ = std::move(started).value();
    }
    if (!server_->running()) {
      ASSERT_TRUE(server_->resume().isOk());
    }
  }
  void TearDown() override {
    destroyAll();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }
  // Destroys what the test made on the loop, before the loop's shutdown.
  virtual void destroyAll() {}

  discovery::ZkClient::Options zkOptions() {
    discovery::ZkClient::Options o;
    o.hosts = server_->address();
    o.root = root_;
    o.session_timeout = 2s;  // the server clamps into [200 ms, 4 s]
    return o;
  }
  std::unique_ptr<discovery::ZkClient> connectedClient() {
    auto c = discovery::ZkClient::create(loop_, zkOptions());
    EXPECT_TRUE(c.isOk()) << c.status();
    if (!c.isOk()) return nullptr;
    auto client = std::move(c).value();
    EXPECT_TRUE(loop_.runUntil([&] { return client->connected(); }, 10s));
    return client;
  }

  static inline std::unique_ptr<testing::ZooKeeperServer> server_;
  static inline int counter_ = 0;
  net::EventLoop loop_;
  std::string root_;
};

}  // namespace push::dispatcher
