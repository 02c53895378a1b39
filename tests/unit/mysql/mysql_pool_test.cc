// MySqlPool (common/mysql) against a real MariaDB: completions on the loop, ordered jobs,
// the server going away and coming back, backpressure, destruction with queued jobs.

#include "common/mysql/mysql_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/mysql/mysql_test_util.h"

namespace push::mysql {
namespace {

using namespace std::chrono_literals;

class MySqlPoolTest : public MySqlTest {};

TEST_F(MySqlPoolTest, DoneRunsOnTheLoopThreadNeverInsideRun) {
  MySqlPool& p = pool();
  bool returned = false;
  std::optional<Status> out;
  std::thread::id done_thread;
  std::thread::id job_thread;
  p.run(
      [&](MySqlSession& s) {
        job_thread = std::this_thread::get_id();
        return s.query("SELECT 1").status();
      },
      [&](Status s) {
        EXPECT_TRUE(returned);
        done_thread = std::this_thread::get_id();
        out = std::move(s);
      });
  returned = true;
  ASSERT_TRUE(loop_.runUntil([&] { return out.has_value(); }, 30s));
  EXPECT_TRUE(out->isOk()) << *out;
  EXPECT_EQ(done_thread, std::this_thread::get_id());
  EXPECT_NE(job_thread, std::this_thread::get_id());
  EXPECT_TRUE(p.healthy());
  EXPECT_EQ(p.stats().jobs_ok, 1u);
}

TEST_F(MySqlPoolTest, ConnectsOverTheUnixSocket) {
  MySqlPool::Options o = options();
  o.unix_socket = server_->socketPath();
  o.host.clear();
  MySqlPool& p = pool(o);
  auto rows = query(p, "SELECT @@socket, USER()");
  ASSERT_TRUE(rows.isOk()) << rows.status();
  EXPECT_EQ(std::get<std::string>(rows->rows.at(0).at(0)), server_->socketPath());
}

TEST_F(MySqlPoolTest, BadOptionsFailCreate) {
  MySqlPool::Options o = options();
  o.threads = 0;
  EXPECT_EQ(MySqlPool::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
  o = options();
  o.user.clear();
  EXPECT_EQ(MySqlPool::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
  o = options();
  o.reconnect_max = 1ms;
  EXPECT_EQ(MySqlPool::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(MySqlPoolTest, WrongPasswordIsUnavailableAndSaysWhy) {
  MySqlPool::Options o = options();
  o.password = "wrong";
  o.threads = 1;
  MySqlPool& p = pool(o);
  Status status = runJob(p, [](MySqlSession& s) { return s.query("SELECT 1").status(); });
  EXPECT_EQ(status.code(), Code::UNAVAILABLE) << status;
  EXPECT_NE(status.message().find("1045"), std::string::npos) << status;  // access denied
  EXPECT_FALSE(p.healthy());
}

TEST_F(MySqlPoolTest, NothingListeningFailsJobsUnavailable) {
  MySqlPool::Options o = options();
  o.port = static_cast<uint16_t>(testing::freeLoopbackPort());
  MySqlPool& p = pool(o);
  for (int i = 0; i < 3; ++i) {
    Status status = runJob(p, [](MySqlSession& s) { return s.query("SELECT 1").status(); });
    EXPECT_EQ(status.code(), Code::UNAVAILABLE) << status;
  }
  EXPECT_FALSE(p.healthy());
  EXPECT_EQ(p.stats().jobs_failed, 3u);
}

TEST_F(MySqlPoolTest, AJobThatThrowsCompletesInternal) {
  MySqlPool::Options o = options();
  o.threads = 1;
  MySqlPool& p = pool(o);
  Status status = runJob(p, [](MySqlSession&) -> Status { throw std::runtime_error("oops"); });
  EXPECT_EQ(status.code(), Code::INTERNAL) << status;
  EXPECT_NE(status.message().find("oops"), std::string::npos);
  EXPECT_TRUE(exec(p, "DO 1").isOk());
}

TEST_F(MySqlPoolTest, RunOrderedKeepsOrderWhileRunJobsRunToo) {
  MySqlPool::Options o = options();
  o.threads = 3;
  MySqlPool& p = pool(o);
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS ordered_log").isOk());
  ASSERT_TRUE(
      exec(p, "CREATE TABLE ordered_log (id INT AUTO_INCREMENT PRIMARY KEY, seq INT NOT NULL)")
          .isOk());
  constexpr int kJobs = 1000;
  std::atomic<int> running_ordered{0};
  std::atomic<int> max_running_ordered{0};
  std::vector<int> completion_order;
  int other_done = 0;
  int failures = 0;
  for (int i = 0; i < kJobs; ++i) {
    p.runOrdered(
        [&, i](MySqlSession& s) {
          int now = ++running_ordered;
          int seen = max_running_ordered.load();
          while (now > seen && !max_running_ordered.compare_exchange_weak(seen, now)) {
          }
          Status st = s.execute("INSERT INTO ordered_log (seq) VALUES (?)", {int64_t{i}}).status();
          --running_ordered;
          return st;
        },
        [&, i](Status s) {
          if (!s.isOk()) ++failures;
          completion_order.push_back(i);
        });
    p.run([](MySqlSession& s) { return s.query("SELECT COUNT(*) FROM ordered_log").status(); },
          [&](Status s) {
            if (!s.isOk()) ++failures;
            ++other_done;
          });
  }
  ASSERT_TRUE(loop_.runUntil(
      [&] { return static_cast<int>(completion_order.size()) == kJobs && other_done == kJobs; },
      120s));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(max_running_ordered.load(), 1);
  for (int i = 0; i < kJobs; ++i)
    ASSERT_EQ(completion_order[i], i);
  // And they ran in that order: the auto-increment ids follow seq.
  auto rows = query(p, "SELECT seq FROM ordered_log ORDER BY id");
  ASSERT_TRUE(rows.isOk()) << rows.status();
  ASSERT_EQ(rows->rows.size(), static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i)
    ASSERT_EQ(std::get<int64_t>(rows->rows[i][0]), i);
  EXPECT_EQ(p.queued(), 0u);
}

TEST_F(MySqlPoolTest, ServerKilledJobsFailUnavailableThenThePoolReconnects) {
  MySqlPool::Options o = options();
  o.threads = 2;
  MySqlPool& p = pool(o);
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS survive").isOk());
  ASSERT_TRUE(exec(p, "CREATE TABLE survive (id INT PRIMARY KEY)").isOk());
  ASSERT_TRUE(exec(p, "INSERT INTO survive VALUES (1)").isOk());
  // Both workers connected (one job each at the same time).
  ASSERT_TRUE(loop_.runUntil([&] { return p.healthy(); }, 30s));

  server_->stop(/*kill=*/true);
  // Every job fails UNAVAILABLE now: the first on each worker finds its connection dead,
  // the next ones find no connection (reconnect attempts are refused).
  for (int i = 0; i < 6; ++i) {
    Status status = exec(p, "INSERT INTO survive VALUES (?)", {int64_t{100 + i}});
    EXPECT_EQ(status.code(), Code::UNAVAILABLE) << status;
  }
  EXPECT_FALSE(p.healthy());

  ASSERT_TRUE(server_->resume().isOk());
  // Await the condition: a job succeeds again (bounded; each failed try is immediate, so
  // pace the tries with the loop).
  Status last = unavailable("not tried");
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    last = exec(p, "INSERT INTO survive VALUES (?)", {int64_t{2}});
    if (last.isOk()) break;
    ASSERT_EQ(last.code(), Code::UNAVAILABLE) << last;
    loop_.runUntil([] { return false; }, 20ms);
  }
  ASSERT_TRUE(last.isOk()) << last;
  EXPECT_TRUE(p.healthy());
  EXPECT_GE(p.stats().reconnects, 1u);
  // The data from before the kill is there. The other worker may still be waiting out its
  // reconnect backoff, so this read, too, is retried while it says UNAVAILABLE.
  auto rows = query(p, "SELECT id FROM survive ORDER BY id");
  while (!rows.isOk() && rows.status().code() == Code::UNAVAILABLE &&
         std::chrono::steady_clock::now() < deadline) {
    loop_.runUntil([] { return false; }, 20ms);
    rows = query(p, "SELECT id FROM survive ORDER BY id");
  }
  ASSERT_TRUE(rows.isOk()) << rows.status();
  ASSERT_EQ(rows->rows.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(rows->rows[0][0]), 1);
}

TEST_F(MySqlPoolTest, AConnectionThatDiedWhileIdleIsReplacedBeforeTheJob) {
  MySqlPool::Options o = options();
  o.threads = 1;
  o.ping_after_idle = 0ms;  // every job finds out first
  MySqlPool& p = pool(o);
  ASSERT_TRUE(exec(p, "DO 1").isOk());
  server_->stop(/*kill=*/true);
  ASSERT_TRUE(server_->resume().isOk());
  // The connection died with the server; the job still succeeds, on the first try.
  Status status = exec(p, "DO 2");
  EXPECT_TRUE(status.isOk()) << status;
  EXPECT_EQ(p.stats().reconnects, 1u);
  EXPECT_EQ(p.stats().jobs_failed, 0u);
  EXPECT_TRUE(p.healthy());
}

// A job that blocks its worker until the test releases it.
struct Gate {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
  MySqlPool::Job job() {
    return [this](MySqlSession&) {
      started.set_value();
      if (released.wait_for(30s) != std::future_status::ready) return internalError("gate");
      return Status::ok();
    };
  }
};

TEST_F(MySqlPoolTest, OverMaxQueuedIsOverloadedInsideTheCall) {
  MySqlPool::Options o = options();
  o.threads = 1;
  o.max_queued = 2;
  MySqlPool& p = pool(o);
  Gate gate;
  std::vector<Status> done;
  p.run(gate.job(), [&](Status s) { done.push_back(s); });
  gate.started.get_future().wait();  // running: not queued any more
  p.run([](MySqlSession&) { return Status::ok(); }, [&](Status s) { done.push_back(s); });
  p.runOrdered([](MySqlSession&) { return Status::ok(); }, [&](Status s) { done.push_back(s); });
  EXPECT_EQ(p.queued(), 2u);
  std::optional<Status> overloaded;
  p.run([](MySqlSession&) { return Status::ok(); }, [&](Status s) { overloaded = s; });
  ASSERT_TRUE(overloaded.has_value()) << "OVERLOADED must complete inside the call";
  EXPECT_EQ(overloaded->code(), Code::OVERLOADED);
  gate.release.set_value();
  ASSERT_TRUE(loop_.runUntil([&] { return done.size() == 3; }, 30s));
  for (const Status& s : done)
    EXPECT_TRUE(s.isOk()) << s;
  EXPECT_EQ(p.stats().jobs_ok, 3u);
  EXPECT_EQ(p.stats().jobs_failed, 1u);
}

TEST_F(MySqlPoolTest, DestructionCompletesQueuedJobsCancelledInsideIt) {
  MySqlPool::Options o = options();
  o.threads = 1;
  auto created = MySqlPool::create(loop_, o);
  ASSERT_TRUE(created.isOk());
  std::unique_ptr<MySqlPool> p = std::move(created).value();
  Gate gate;
  std::vector<Status> done;
  p->run(gate.job(), [&](Status s) { done.push_back(s); });
  gate.started.get_future().wait();
  p->run([](MySqlSession&) { return Status::ok(); }, [&](Status s) { done.push_back(s); });
  p->runOrdered([](MySqlSession&) { return Status::ok(); }, [&](Status s) { done.push_back(s); });
  // Release the running job once the destructor has taken the queued ones (the pool stays
  // alive meanwhile: its destructor waits for the running job).
  MySqlPool* raw = p.get();
  std::thread releaser([&] {
    while (raw->queued() != 0)
      std::this_thread::yield();
    gate.release.set_value();
  });
  p.reset();
  releaser.join();
  // Every Done ran inside the destructor: the running job's with its own status.
  ASSERT_EQ(done.size(), 3u);
  EXPECT_TRUE(done[0].isOk()) << done[0];
  EXPECT_EQ(done[1].code(), Code::CANCELLED);
  EXPECT_EQ(done[2].code(), Code::CANCELLED);
  // Nothing runs later.
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(done.size(), 3u);
}

}  // namespace
}  // namespace push::mysql
