#include "common/queue/disk_queue.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace push::queue {
namespace {

namespace fs = std::filesystem;

// Record i: its number then (i % 300) filler bytes, so sizes vary and every record is unique.
std::string record(uint64_t i) {
  return "r" + std::to_string(i) + ":" + std::string(i % 300, static_cast<char>('a' + i % 26));
}

// A record of exactly `size` bytes (>= 8) carrying the number i.
std::string fixedRecord(uint64_t i, size_t size) {
  std::string r = "r" + std::to_string(i) + ":";
  r.resize(size, 'x');
  return r;
}

constexpr uint64_t kFrame = 8;  // bytes of header per record on disk

class DiskQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "disk_queue_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  DiskQueue::Options options(uint64_t max_bytes_per_file = 100ull << 20) const {
    DiskQueue::Options o;
    o.dir = dir_;
    o.name = "topic:chan";
    o.max_bytes_per_file = max_bytes_per_file;
    o.sync_every = 0;
    return o;
  }

  std::unique_ptr<DiskQueue> open(const DiskQueue::Options& o,
                                  DiskQueue::RecoveryReport* report = nullptr) {
    auto q = DiskQueue::open(o, report);
    EXPECT_TRUE(q.isOk()) << q.status();
    return q.isOk() ? std::move(q).value() : nullptr;
  }

  std::string segment(uint64_t n) const {
    char digits[16];
    std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(n));
    return dir_ + "/topic:chan.diskqueue." + digits + ".dat";
  }
  std::string metaPath() const { return dir_ + "/topic:chan.diskqueue.meta.dat"; }

  // Segment files (not the metadata) present in the directory.
  size_t segmentCount() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string f = e.path().filename().string();
      if (f.find(".diskqueue.") != std::string::npos && f.find("meta") == std::string::npos) ++n;
    }
    return n;
  }
  size_t fileCount() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }

  // Pops everything, checking it against `expected` in order.
  static void expectRecords(DiskQueue& q, const std::vector<std::string>& expected) {
    ASSERT_EQ(q.depth(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      auto f = q.front();
      ASSERT_TRUE(f.isOk()) << f.status();
      ASSERT_NE(*f, nullptr) << "record " << i << " of " << expected.size() << " missing";
      ASSERT_EQ(**f, expected[i]) << "record " << i;
      ASSERT_TRUE(q.pop().isOk());
      ASSERT_EQ(q.depth(), expected.size() - i - 1);
    }
    auto f = q.front();
    ASSERT_TRUE(f.isOk()) << f.status();
    EXPECT_EQ(*f, nullptr);
  }

  static void flipByte(const std::string& path, uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    ASSERT_TRUE(f.good());
  }

  static void writeAt(const std::string& path, uint64_t offset, std::string_view bytes) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good());
  }

  std::string dir_;
};

TEST_F(DiskQueueTest, KeepsPutOrderAcrossManySmallSegments) {
  auto q = open(options(/*max_bytes_per_file=*/200));
  ASSERT_NE(q, nullptr);
  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 300; ++i) {
    expected.push_back(record(i));
    ASSERT_TRUE(q->put(expected.back()).isOk());
  }
  EXPECT_EQ(q->depth(), 300u);
  EXPECT_GT(segmentCount(), 50u);
  expectRecords(*q, expected);
  // Every closed segment was read and deleted; at most the one being written is left.
  EXPECT_LE(segmentCount(), 1u);
}

TEST_F(DiskQueueTest, InterleavedPutAndPopReadTheSegmentBeingWritten) {
  for (uint64_t max_bytes : {uint64_t{100} << 20, uint64_t{2000}}) {
    SCOPED_TRACE("max_bytes_per_file " + std::to_string(max_bytes));
    auto q = open(options(max_bytes));
    ASSERT_NE(q, nullptr);
    std::mt19937 rng(42);
    std::deque<std::string> model;
    uint64_t next = 0;
    for (int step = 0; step < 5000; ++step) {
      if (rng() % 5 < 3) {  // put a little more often than pop, so depth wanders upwards
        model.push_back(record(next++));
        ASSERT_TRUE(q->put(model.back()).isOk());
      } else {
        auto f = q->front();
        ASSERT_TRUE(f.isOk()) << f.status();
        if (model.empty()) {
          ASSERT_EQ(*f, nullptr);
          continue;
        }
        ASSERT_NE(*f, nullptr);
        ASSERT_EQ(**f, model.front());
        ASSERT_TRUE(q->pop().isOk());
        model.pop_front();
      }
      ASSERT_EQ(q->depth(), model.size());
    }
    expectRecords(*q, std::vector<std::string>(model.begin(), model.end()));
    ASSERT_TRUE(q->removeFiles().isOk());
  }
}

TEST_F(DiskQueueTest, PopOnAnEmptyQueueFails) {
  auto q = open(options());
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->pop().code(), Code::FAILED_PRECONDITION);
  ASSERT_TRUE(q->put("x").isOk());
  ASSERT_TRUE(q->pop().isOk());  // pop() without front() removes the oldest
  EXPECT_EQ(q->pop().code(), Code::FAILED_PRECONDITION);
}

TEST_F(DiskQueueTest, RecordsLargerThanTheChunkAreReadWhole) {
  auto o = options(/*max_bytes_per_file=*/4u << 20);
  o.max_record_size = 3u << 20;
  auto q = open(o);
  ASSERT_NE(q, nullptr);
  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 12; ++i) {
    expected.push_back(i % 3 == 1 ? fixedRecord(i, (1u << 20) + 12345 * i) : record(i));
    ASSERT_TRUE(q->put(expected.back()).isOk());
  }
  expectRecords(*q, expected);
}

TEST_F(DiskQueueTest, ReopenAfterSyncKeepsOnlyUnreadRecords) {
  std::vector<std::string> all;
  {
    auto q = open(options(/*max_bytes_per_file=*/300));
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 40; ++i) {
      all.push_back(record(i));
      ASSERT_TRUE(q->put(all.back()).isOk());
    }
    for (int i = 0; i < 15; ++i)
      ASSERT_TRUE(q->pop().isOk());
    ASSERT_TRUE(q->sync().isOk());
  }
  DiskQueue::RecoveryReport report;
  auto q = open(options(300), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 25u);
  EXPECT_EQ(report.torn_bytes, 0u);
  EXPECT_EQ(report.torn_file, "");
  expectRecords(*q, std::vector<std::string>(all.begin() + 15, all.end()));
}

TEST_F(DiskQueueTest, ReopenAfterDestroyWithoutExplicitSyncKeepsEverything) {
  std::vector<std::string> all;
  {
    auto q = open(options(/*max_bytes_per_file=*/1000));
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 50; ++i) {
      all.push_back(record(i));
      ASSERT_TRUE(q->put(all.back()).isOk());
    }
    ASSERT_TRUE(q->pop().isOk());
  }
  DiskQueue::RecoveryReport report;
  auto q = open(options(1000), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 49u);
  all.erase(all.begin());
  // New puts go after the recovered records.
  all.push_back("after reopen");
  ASSERT_TRUE(q->put(all.back()).isOk());
  expectRecords(*q, all);
}

TEST_F(DiskQueueTest, WithoutMetadataRecoversFromTheSegments) {
  std::vector<std::string> all;
  {
    auto q = open(options(/*max_bytes_per_file=*/700));
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 60; ++i) {
      all.push_back(record(i));
      ASSERT_TRUE(q->put(all.back()).isOk());
    }
  }
  ASSERT_TRUE(fs::remove(metaPath()));
  DiskQueue::RecoveryReport report;
  auto q = open(options(700), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 60u);
  EXPECT_EQ(report.torn_bytes, 0u);
  EXPECT_TRUE(fs::exists(metaPath()));  // written by open()
  expectRecords(*q, all);
}

// Runs `body` in a forked child that ends with _exit(0) (no destructor, no sync); returns once
// the child has ended.
template <typename Fn>
void inChild(Fn body) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

TEST_F(DiskQueueTest, PopsNotSyncedBeforeACrashAreReadAgainFromSegmentsNotYetDeleted) {
  // 40-byte records, 48-byte frames: a 100-byte segment holds 3 records.
  auto o = options(/*max_bytes_per_file=*/100);
  inChild([&] {
    auto q = DiskQueue::open(o, nullptr);
    if (!q.isOk()) ::_exit(1);
    for (uint64_t i = 0; i < 30; ++i) {
      if (!(*q)->put(fixedRecord(i, 40)).isOk()) ::_exit(2);
    }
    if (!(*q)->sync().isOk()) ::_exit(3);
    // Reads segments 0..2 to the end (deleted) and record 9, the first of segment 3.
    for (int i = 0; i < 10; ++i) {
      if (!(*q)->pop().isOk()) ::_exit(4);
    }
    ::_exit(0);  // "crash": no sync of the read position
  });
  EXPECT_FALSE(fs::exists(segment(0)));
  EXPECT_TRUE(fs::exists(segment(3)));
  DiskQueue::RecoveryReport report;
  auto q = open(o, &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 21u);  // record 9 again (at-least-once), then 10..29
  std::vector<std::string> expected;
  for (uint64_t i = 9; i < 30; ++i)
    expected.push_back(fixedRecord(i, 40));
  expectRecords(*q, expected);
}

// A child puts records and reports each acknowledged put through a pipe; it is killed with
// SIGKILL at a random point. Every acknowledged record must be found, in order, followed by at
// most the one whose put() was in progress.
TEST_F(DiskQueueTest, EveryAcknowledgedPutSurvivesSigkill) {
  std::random_device rd;
  uint32_t seed = rd();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto o = options(/*max_bytes_per_file=*/round % 2 == 0 ? 4096 : 64u << 10);
    o.name = "crash" + std::to_string(round);
    o.sync_every = round < 2 ? 0 : 7 * round;  // with and without fsync + metadata on the way
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto q = DiskQueue::open(o, nullptr);
      if (!q.isOk()) ::_exit(1);
      for (uint32_t i = 0; i < 10'000'000; ++i) {
        if (!(*q)->put(record(i)).isOk()) ::_exit(2);
        uint32_t acked = i + 1;
        if (::write(fds[1], &acked, sizeof acked) != sizeof acked) ::_exit(3);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    uint32_t kill_after = 1 + rng() % 2000;
    uint32_t acked = 0;
    bool killed = false;
    for (;;) {
      uint32_t v = 0;
      ssize_t r = ::read(fds[0], &v, sizeof v);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;  // EOF: the child is gone
      ASSERT_EQ(r, static_cast<ssize_t>(sizeof v));
      acked = v;
      if (!killed && acked >= kill_after) {
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        killed = true;
      }
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

    DiskQueue::RecoveryReport report;
    auto q = open(o, &report);
    ASSERT_NE(q, nullptr);
    ASSERT_GE(q->depth(), acked);
    ASSERT_LE(q->depth(), acked + 1u);
    EXPECT_EQ(report.records, q->depth());
    std::vector<std::string> expected;
    for (uint32_t i = 0; i < q->depth(); ++i)
      expected.push_back(record(i));
    expectRecords(*q, expected);
  }
}

TEST_F(DiskQueueTest, TruncatedTailDropsOnlyThePartialRecord) {
  std::vector<std::string> all;
  {
    auto q = open(options());
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 10; ++i) {
      all.push_back(fixedRecord(i, 50));
      ASSERT_TRUE(q->put(all.back()).isOk());
    }
  }
  uint64_t size = fs::file_size(segment(0));
  ASSERT_EQ(size, 10 * (kFrame + 50));
  fs::resize_file(segment(0), size - 20);  // mid-payload of record 9
  DiskQueue::RecoveryReport report;
  auto q = open(options(), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 9u);
  EXPECT_EQ(report.torn_bytes, kFrame + 50 - 20);
  EXPECT_EQ(report.torn_file, segment(0));
  EXPECT_EQ(fs::file_size(segment(0)), 9 * (kFrame + 50));
  all.pop_back();
  for (uint64_t i = 100; i < 105; ++i) {
    all.push_back(record(i));
    ASSERT_TRUE(q->put(all.back()).isOk());
  }
  expectRecords(*q, all);
  // And the repaired file reopens clean.
  q.reset();
  DiskQueue::RecoveryReport again;
  q = open(options(), &again);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(again.torn_bytes, 0u);
  EXPECT_EQ(again.records, 0u);
}

TEST_F(DiskQueueTest, TruncatedHeaderIsATornTail) {
  {
    auto q = open(options());
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 3; ++i)
      ASSERT_TRUE(q->put(fixedRecord(i, 20)).isOk());
  }
  fs::resize_file(segment(0), 2 * (kFrame + 20) + 3);
  DiskQueue::RecoveryReport report;
  auto q = open(options(), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 2u);
  EXPECT_EQ(report.torn_bytes, 3u);
  expectRecords(*q, {fixedRecord(0, 20), fixedRecord(1, 20)});
}

TEST_F(DiskQueueTest, FlippedPayloadByteEndsTheQueueAtThatRecord) {
  std::vector<std::string> all;
  {
    auto q = open(options());
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 10; ++i) {
      all.push_back(fixedRecord(i, 50));
      ASSERT_TRUE(q->put(all.back()).isOk());
    }
  }
  flipByte(segment(0), 5 * (kFrame + 50) + kFrame + 30);  // inside record 5's payload
  DiskQueue::RecoveryReport report;
  auto q = open(options(), &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 5u);  // records 6..9 after it are not trusted
  EXPECT_EQ(report.torn_bytes, 5 * (kFrame + 50));
  EXPECT_EQ(report.torn_file, segment(0));
  all.resize(5);
  all.push_back("new one");
  ASSERT_TRUE(q->put(all.back()).isOk());
  expectRecords(*q, all);
}

TEST_F(DiskQueueTest, ZeroOrOversizedLengthIsCorruption) {
  for (std::string_view bad_length :
       {std::string_view("\0\0\0\0", 4), std::string_view("\x7f\0\0\0", 4)}) {
    {
      auto q = open(options());
      ASSERT_NE(q, nullptr);
      ASSERT_TRUE(q->empty().isOk());
      for (uint64_t i = 0; i < 4; ++i)
        ASSERT_TRUE(q->put(fixedRecord(i, 30)).isOk());
    }
    std::vector<std::string> segs;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string p = e.path().string();
      if (p.ends_with(".dat") && p.find("meta") == std::string::npos) segs.push_back(p);
    }
    ASSERT_EQ(segs.size(), 1u);
    writeAt(segs[0], 2 * (kFrame + 30), bad_length);  // record 2's length field
    DiskQueue::RecoveryReport report;
    auto q = open(options(), &report);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(report.records, 2u);
    EXPECT_EQ(report.torn_bytes, 2 * (kFrame + 30));
    expectRecords(*q, {fixedRecord(0, 30), fixedRecord(1, 30)});
  }
}

TEST_F(DiskQueueTest, CorruptRecordInAClosedSegmentSkipsOnlyTheRestOfThatSegment) {
  // 40-byte records, 48-byte frames: a 100-byte segment holds records 3k, 3k+1, 3k+2.
  auto o = options(/*max_bytes_per_file=*/100);
  {
    auto q = open(o);
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 0; i < 12; ++i)
      ASSERT_TRUE(q->put(fixedRecord(i, 40)).isOk());
  }
  ASSERT_EQ(fs::file_size(segment(1)), 3 * (kFrame + 40));
  flipByte(segment(1), (kFrame + 40) + kFrame + 5);  // record 4 (second of segment 1)
  DiskQueue::RecoveryReport report;
  auto q = open(o, &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 10u);  // 4 and 5 lost
  EXPECT_EQ(report.torn_bytes, 2 * (kFrame + 40));
  EXPECT_EQ(report.torn_file, segment(1));
  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 12; ++i) {
    if (i != 4 && i != 5) expected.push_back(fixedRecord(i, 40));
  }
  expected.push_back(fixedRecord(99, 40));
  ASSERT_TRUE(q->put(expected.back()).isOk());
  expectRecords(*q, expected);
}

TEST_F(DiskQueueTest, RefusesRecordsLargerThanTheMaximumAndEmptyOnes) {
  auto o = options();
  o.max_record_size = 100;
  auto q = open(o);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->put(std::string(101, 'x')).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(q->put("").code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_FALSE(fs::exists(segment(0)) && fs::file_size(segment(0)) > 0);
  ASSERT_TRUE(q->put(std::string(100, 'y')).isOk());
  EXPECT_EQ(fs::file_size(segment(0)), kFrame + 100);
  expectRecords(*q, {std::string(100, 'y')});
}

TEST_F(DiskQueueTest, EmptyDropsEveryRecordAndItsFiles) {
  auto o = options(/*max_bytes_per_file=*/200);
  auto q = open(o);
  ASSERT_NE(q, nullptr);
  for (uint64_t i = 0; i < 50; ++i)
    ASSERT_TRUE(q->put(record(i)).isOk());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(q->pop().isOk());
  auto f = q->front();  // a cached front record is dropped too
  ASSERT_TRUE(f.isOk() && *f != nullptr);
  ASSERT_TRUE(q->empty().isOk());
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(segmentCount(), 0u);
  f = q->front();
  ASSERT_TRUE(f.isOk());
  EXPECT_EQ(*f, nullptr);
  ASSERT_TRUE(q->put("after empty").isOk());
  q.reset();
  DiskQueue::RecoveryReport report;
  q = open(o, &report);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(report.records, 1u);
  expectRecords(*q, {"after empty"});
}

TEST_F(DiskQueueTest, RemoveFilesDeletesEveryFileOfTheQueue) {
  auto q = open(options(/*max_bytes_per_file=*/200));
  ASSERT_NE(q, nullptr);
  for (uint64_t i = 0; i < 30; ++i)
    ASSERT_TRUE(q->put(record(i)).isOk());
  ASSERT_TRUE(q->sync().isOk());
  // Another queue's files in the same directory are left alone.
  auto other_options = options();
  other_options.name = "topic";
  auto other = open(other_options);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->put("other").isOk());
  other.reset();
  size_t other_files = 2;  // its segment and metadata
  ASSERT_GT(fileCount(), other_files + 2);
  ASSERT_TRUE(q->removeFiles().isOk());
  EXPECT_EQ(fileCount(), other_files);
  q.reset();  // the destructor does not write the metadata back
  EXPECT_EQ(fileCount(), other_files);
  other = open(other_options);
  ASSERT_NE(other, nullptr);
  expectRecords(*other, {"other"});
}

TEST_F(DiskQueueTest, SegmentIsDeletedOnceEveryRecordInItWasRead) {
  // 40-byte records, 48-byte frames: a 100-byte segment holds 3 records.
  auto q = open(options(/*max_bytes_per_file=*/100));
  ASSERT_NE(q, nullptr);
  for (uint64_t i = 0; i < 9; ++i)
    ASSERT_TRUE(q->put(fixedRecord(i, 40)).isOk());
  ASSERT_TRUE(fs::exists(segment(2)));
  for (uint64_t i = 0; i < 9; ++i) {
    uint64_t seg = i / 3;
    EXPECT_TRUE(fs::exists(segment(seg))) << "before pop " << i;
    ASSERT_TRUE(q->pop().isOk());
    EXPECT_EQ(fs::exists(segment(seg)), i % 3 != 2) << "after pop " << i;
  }
  EXPECT_EQ(segmentCount(), 0u);  // segment 3 is created by the next put
}

TEST_F(DiskQueueTest, PutCostsMicroseconds) {
  auto q = open(options());
  ASSERT_NE(q, nullptr);
  const std::string rec(300, 'p');
  constexpr int kPuts = 20000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPuts; ++i)
    ASSERT_TRUE(q->put(rec).isOk());
  auto put_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count() /
      kPuts;
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPuts; ++i) {
    auto f = q->front();
    ASSERT_TRUE(f.isOk() && *f != nullptr);
    ASSERT_TRUE(q->pop().isOk());
  }
  auto pop_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count() /
      kPuts;
  std::printf("put %lld ns, front+pop %lld ns per 300-byte record\n",
              static_cast<long long>(put_ns), static_cast<long long>(pop_ns));
  // Generous (sanitizers, a shared machine): catches an fsync or a reopen per record.
  EXPECT_LT(put_ns, 100'000);
  EXPECT_LT(pop_ns, 100'000);
}

}  // namespace
}  // namespace push::queue
