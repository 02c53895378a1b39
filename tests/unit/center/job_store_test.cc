// JobStore against a real redis-server (tests/support/redis_server.h; skipped without one).
#include "services/center/job_store.h"

#include <gtest/gtest.h>

#include <optional>

#include "common/net/event_loop.h"
#include "common/redis/redis_client.h"
#include "tests/support/redis_server.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
    auto started = testing::RedisServer::start();
    ASSERT_TRUE(started.isOk()) << started.status();
    server_ = std::move(started).value();
    auto client = redis::RedisClient::create(loop_, server_->address(), {});
    ASSERT_TRUE(client.isOk());
    redis_ = std::move(client).value();
    JobStore::Options o;
    o.max_running_per_app = 2;
    o.publish_deadline = 1000ms;
    store_ = std::make_unique<JobStore>(*redis_, o);
  }
  void TearDown() override {
    store_.reset();
    redis_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  template <typename T>
  T wait(std::optional<T>& v) {
    EXPECT_TRUE(loop_.runUntil([&] { return v.has_value(); }, 10s));
    return std::move(*v);
  }
  Status create(const std::string& id, const std::string& app, uint32_t chunks, int64_t now) {
    std::optional<Status> st;
    store_->create(id, app, chunks, chunks * 10, now, [&](Status s) { st = s; });
    return wait(st);
  }
  Status published(const std::string& id, int64_t now) {
    std::optional<Status> st;
    store_->markPublished(id, now, [&](Status s) { st = s; });
    return wait(st);
  }
  Result<JobStore::ChunkAction> begin(const std::string& id, uint32_t chunk, int64_t now) {
    std::optional<Result<JobStore::ChunkAction>> r;
    store_->beginChunk(id, chunk, now, [&](Result<JobStore::ChunkAction> a) { r = std::move(a); });
    return wait(r);
  }
  Result<bool> record(const std::string& id, uint32_t chunk, uint64_t delivered, uint64_t offline,
                      int64_t now) {
    std::optional<Result<bool>> r;
    JobStore::ChunkCounts c;
    c.delivered = delivered;
    c.offline = offline;
    c.connections = delivered;
    store_->recordChunk(id, chunk, c, now, [&](Result<bool> b) { r = std::move(b); });
    return wait(r);
  }
  Result<JobStore::Progress> get(const std::string& id) {
    std::optional<Result<JobStore::Progress>> r;
    store_->get(id, [&](Result<JobStore::Progress> p) { r = std::move(p); });
    return wait(r);
  }

  net::EventLoop loop_;
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, EachChunkIsCountedOnceAndTheLastOneFinishesTheJob) {
  ASSERT_TRUE(create("1", "demo", 2, 100).isOk());
  // Still publishing: workers wait.
  EXPECT_EQ(*begin("1", 0, 101), JobStore::ChunkAction::Wait);
  ASSERT_TRUE(published("1", 102).isOk());
  EXPECT_EQ(*begin("1", 0, 103), JobStore::ChunkAction::Deliver);
  EXPECT_EQ(*record("1", 0, 3, 7, 104), true);
  // A redelivered chunk: begin says counted, and recording again adds nothing.
  EXPECT_EQ(*begin("1", 0, 105), JobStore::ChunkAction::Counted);
  EXPECT_EQ(*record("1", 0, 3, 7, 106), false);
  auto mid = get("1");
  ASSERT_TRUE(mid.isOk()) << mid.status();
  EXPECT_EQ(mid->state, "running");
  EXPECT_EQ(mid->chunks_done, 1u);
  EXPECT_EQ(mid->delivered, 3u);
  EXPECT_EQ(mid->offline, 7u);
  EXPECT_EQ(*record("1", 1, 1, 9, 107), true);
  auto done = get("1");
  ASSERT_TRUE(done.isOk());
  EXPECT_EQ(done->state, "done");
  EXPECT_EQ(done->app, "demo");
  EXPECT_EQ(done->chunks, 2u);
  EXPECT_EQ(done->chunks_done, 2u);
  EXPECT_EQ(done->targets, 20u);
  EXPECT_EQ(done->delivered, 4u);
  EXPECT_EQ(done->offline, 16u);
  EXPECT_EQ(done->connections, 4u);
  EXPECT_EQ(done->created_ms, 100);
  EXPECT_EQ(done->updated_ms, 107);
  EXPECT_EQ(get("nope").status().code(), Code::NOT_FOUND);
}

TEST_F(JobStoreTest, RunningJobsPerAppAreCappedAndFinishedOnesMakeRoom) {
  ASSERT_TRUE(create("1", "demo", 1, 0).isOk());
  ASSERT_TRUE(create("2", "demo", 1, 0).isOk());
  EXPECT_EQ(create("3", "demo", 1, 0).code(), Code::RATE_LIMITED);
  EXPECT_TRUE(create("4", "other", 1, 0).isOk());  // per app
  ASSERT_TRUE(published("1", 1).isOk());
  ASSERT_TRUE(record("1", 0, 0, 10, 2).isOk());  // job 1 done
  EXPECT_TRUE(create("3", "demo", 1, 3).isOk());
}

TEST_F(JobStoreTest, AJobNotPublishedByItsDeadlineFails) {
  ASSERT_TRUE(create("1", "demo", 3, 1000).isOk());
  EXPECT_EQ(*begin("1", 0, 1500), JobStore::ChunkAction::Wait);
  // The accepting center died while publishing: past the deadline a worker fails the job.
  EXPECT_EQ(*begin("1", 0, 2001), JobStore::ChunkAction::Drop);
  EXPECT_EQ(get("1")->state, "failed");
  EXPECT_EQ(published("1", 2002).code(), Code::FAILED_PRECONDITION);
  // Gone from the app's running jobs.
  ASSERT_TRUE(create("2", "demo", 1, 2003).isOk());
  ASSERT_TRUE(create("3", "demo", 1, 2003).isOk());
}

TEST_F(JobStoreTest, FailedAndExpiredJobsDropTheirChunks) {
  ASSERT_TRUE(create("1", "demo", 1, 0).isOk());
  std::optional<Status> st;
  store_->markFailed("1", 1, [&](Status s) { st = s; });
  ASSERT_TRUE(wait(st).isOk());
  EXPECT_EQ(*begin("1", 0, 2), JobStore::ChunkAction::Drop);
  EXPECT_EQ(*begin("never", 0, 2), JobStore::ChunkAction::Drop);
  EXPECT_EQ(record("never", 0, 1, 1, 2).status().code(), Code::NOT_FOUND);
}

}  // namespace
}  // namespace push::center
