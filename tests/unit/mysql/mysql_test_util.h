#pragma once

// Shared fixture of the common/mysql tests: one real MariaDB per test binary (started in
// SetUpTestSuite: seconds), a loop per test, pools built on it, and helpers that run a job to
// completion on the loop.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/mysql/mysql_pool.h"
#include "common/net/event_loop.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/nsq_daemon.h"  // freeLoopbackPort

namespace push::mysql {

class MySqlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = testing::MariaDbServer::start();
    if (started.isOk()) {
      server_ = std::move(started).value();
    } else {
      start_error_ = started.status();
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (!server_ && start_error_.code() == Code::NOT_FOUND) GTEST_SKIP() << start_error_;
    ASSERT_TRUE(server_) << "MariaDB did not start: " << start_error_;
    // A test that killed the server and failed may leave it down: bring it back.
    if (!server_->running()) {
      ASSERT_TRUE(server_->resume().isOk());
    }
  }
  void TearDown() override {
    pools_.clear();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  static MySqlPool::Options options() {
    MySqlPool::Options o;
    o.host = server_->host();
    o.port = static_cast<uint16_t>(server_->port());
    o.user = server_->user();
    o.password = server_->password();
    o.database = server_->database();
    o.reconnect_min = std::chrono::milliseconds(20);
    o.reconnect_max = std::chrono::milliseconds(200);
    return o;
  }

  // A pool owned by the test (destroyed in TearDown, before the loop shuts down).
  MySqlPool& pool(MySqlPool::Options o = options()) {
    auto created = MySqlPool::create(loop_, std::move(o));
    EXPECT_TRUE(created.isOk()) << created.status();
    pools_.push_back(std::move(created).value());
    return *pools_.back();
  }

  // Runs `job` on `p` and the loop until its Done ran; the Done's status.
  Status runJob(MySqlPool& p, MySqlPool::Job job, bool ordered = false) {
    std::optional<Status> out;
    auto done = [&out](Status s) { out = std::move(s); };
    if (ordered) {
      p.runOrdered(std::move(job), done);
    } else {
      p.run(std::move(job), done);
    }
    EXPECT_TRUE(loop_.runUntil([&] { return out.has_value(); }, std::chrono::seconds(30)));
    return out.value_or(Status(Code::TIMEOUT, "test: the job did not complete"));
  }

  // One statement in a job of its own.
  Status exec(MySqlPool& p, const std::string& sql, std::vector<Value> params = {}) {
    return runJob(p, [sql, params](MySqlSession& s) { return s.execute(sql, params).status(); });
  }
  Result<Rows> query(MySqlPool& p, const std::string& sql, std::vector<Value> params = {}) {
    std::optional<Result<Rows>> rows;
    Status status = runJob(p, [&](MySqlSession& s) {
      rows.emplace(s.query(sql, params));
      return rows->status();
    });
    if (!rows) return status;
    return std::move(*rows);
  }

  static inline std::unique_ptr<testing::MariaDbServer> server_;
  static inline Status start_error_;
  net::EventLoop loop_;
  std::vector<std::unique_ptr<MySqlPool>> pools_;
};

}  // namespace push::mysql
