#pragma once

// Shared by the discovery tests: one real ZooKeeper for all of them (under ctest, the run's
// shared server from the ZkSharedServer fixture; run directly, one per test binary: a JVM
// start costs about a second), a private one for a test that stops or restarts it, a loop per
// test, a root per test (named after the test and the process) so tests sharing a server do
// not see each other's nodes, and a way to expire a session the way Curator's KillSession
// does.

#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "tests/support/zookeeper_server.h"

namespace push::discovery {

using namespace std::chrono_literals;

class ZkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::ZooKeeperServer::available()) return;
    if (auto shared = testing::ZooKeeperServer::sharedAddress(); shared.isOk()) {
      shared_address_ = *shared;
      return;
    }
    auto started = testing::ZooKeeperServer::start();
    if (started.isOk()) {
      own_ = std::move(started).value();
      shared_address_ = own_->address();
    } else {
      start_error_ = started.status().toString();
    }
  }
  static void TearDownTestSuite() {
    own_.reset();
    shared_address_.clear();
  }

  void SetUp() override {
    if (!testing::ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    ASSERT_FALSE(shared_address_.empty()) << "zookeeper did not start: " << start_error_;
    if (own_ && !own_->running()) {
      ASSERT_TRUE(own_->resume().isOk());  // a restart test failed half-way
    }
    hosts_ = shared_address_;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = "/push/" + std::string(info->test_suite_name()) + "." + info->name() + "." +
            std::to_string(::getpid()) + "." + std::to_string(++counter_);
    std::replace(root_.begin() + 1, root_.end(), '/', '_');
  }
  void TearDown() override {
    destroyAll();
    EXPECT_TRUE(loop_.shutdown().isOk());
    private_.reset();
  }
  // Destroys what the test made on the loop, before the loop's shutdown.
  virtual void destroyAll() {}

  // A server the test may stop and restart without disturbing other tests: the binary's own
  // (tests of one process run one after another) or, when the tests share the run's server, a
  // new one for this test, stopped at TearDown. Clients made afterwards use it. Call it before
  // making clients; nullptr (with a failure recorded) when it cannot start.
  testing::ZooKeeperServer* privateServer() {
    if (own_) {
      hosts_ = own_->address();
      return own_.get();
    }
    if (!private_) {
      auto started = testing::ZooKeeperServer::start();
      EXPECT_TRUE(started.isOk()) << started.status();
      if (!started.isOk()) return nullptr;
      private_ = std::move(started).value();
    }
    hosts_ = private_->address();
    return private_.get();
  }

  ZkClient::Options options() {
    ZkClient::Options o;
    o.hosts = hosts_;
    o.root = root_;
    o.session_timeout = 2s;  // the server clamps into [200 ms, 4 s]
    return o;
  }
  std::unique_ptr<ZkClient> client() {
    auto c = ZkClient::create(loop_, options());
    EXPECT_TRUE(c.isOk()) << c.status();
    return c.isOk() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<ZkClient> connectedClient() {
    auto c = client();
    if (c) {
      EXPECT_TRUE(loop_.runUntil([&] { return c->connected(); }, 10s));
    }
    return c;
  }

  // Runs one status call to completion.
  template <typename Start>
  Status wait(Start start) {
    std::optional<Status> out;
    start([&](Status st) { out = st; });
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 10s));
    return out.value_or(Status(Code::TIMEOUT, "test: no answer"));
  }

  // Takes over `zk`'s session from a second raw handle and closes it: the server ends the
  // session, and `zk` learns that it expired when it reconnects. Retried, since `zk` may win
  // the session back before the raw handle's close gets through.
  bool expireSession(ZkClient& zk) {
    const uint64_t before = zk.sessions();
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto [id, passwd] = zk.sessionCredentialsForTest();
      if (id == 0) return false;
      clientid_t client_id{};
      client_id.client_id = id;
      std::memcpy(client_id.passwd, passwd.data(),
                  std::min(passwd.size(), sizeof client_id.passwd));
      zhandle_t* zh = zookeeper_init(hosts_.c_str(), &ignoreWatch, 2000, &client_id, nullptr,
                                     ZOO_NO_LOG_CLIENTENV);
      if (zh == nullptr) return false;
      loop_.runUntil([&] { return zoo_state(zh) == ZOO_CONNECTED_STATE; }, 5s, 10ms);
      zookeeper_close(zh);
      // Taken and closed: the client hears of the expiry within milliseconds.
      if (loop_.runUntil([&] { return zk.sessions() > before; }, 2s)) return true;
    }
    return false;
  }

  static void ignoreWatch(zhandle_t*, int, int, const char*, void*) {}

  // The suite's server: the run's shared one, or own_ when there is none.
  static inline std::string shared_address_;
  static inline std::unique_ptr<testing::ZooKeeperServer> own_;
  static inline std::string start_error_;
  static inline int counter_ = 0;
  std::unique_ptr<testing::ZooKeeperServer> private_;  // privateServer() under sharing
  std::string hosts_;                                  // what options() connects to
  net::EventLoop loop_;
  std::string root_;
};

}  // namespace push::discovery
