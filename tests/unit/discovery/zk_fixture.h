#pragma once

// Shared by the discovery tests: one real ZooKeeper per test binary (a JVM start costs about a
// second), a loop per test, a fresh root per test so tests do not see each other's nodes, and a
// way to expire a session the way Curator's KillSession does.

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
    auto started = testing::ZooKeeperServer::start();
    if (started.isOk()) {
      server_ = std::move(started).value();
    } else {
      start_error_ = started.status().toString();
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (!testing::ZooKeeperServer::available()) GTEST_SKIP() << "java or zookeeper.jar not found";
    ASSERT_TRUE(server_ != nullptr) << "zookeeper did not start: " << start_error_;
    if (!server_->running()) {
      ASSERT_TRUE(server_->resume().isOk());
    }
    root_ = "/push/t" + std::to_string(++counter_);
  }
  void TearDown() override {
    destroyAll();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }
  // Destroys what the test made on the loop, before the loop's shutdown.
  virtual void destroyAll() {}

  ZkClient::Options options() {
    ZkClient::Options o;
    o.hosts = server_->address();
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
      zhandle_t* zh = zookeeper_init(server_->address().c_str(), &ignoreWatch, 2000, &client_id,
                                     nullptr, ZOO_NO_LOG_CLIENTENV);
      if (zh == nullptr) return false;
      loop_.runUntil([&] { return zoo_state(zh) == ZOO_CONNECTED_STATE; }, 5s, 10ms);
      zookeeper_close(zh);
      // Taken and closed: the client hears of the expiry within milliseconds.
      if (loop_.runUntil([&] { return zk.sessions() > before; }, 2s)) return true;
    }
    return false;
  }

  static void ignoreWatch(zhandle_t*, int, int, const char*, void*) {}

  static inline std::unique_ptr<testing::ZooKeeperServer> server_;
  static inline std::string start_error_;
  static inline int counter_ = 0;
  net::EventLoop loop_;
  std::string root_;
};

}  // namespace push::discovery
