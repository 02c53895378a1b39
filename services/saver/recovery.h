#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/status.h"
#include "common/net/owning_ptrs.h"

namespace push::net {
class EventLoop;
}
namespace push::redis {
class RedisRouter;
}
namespace push::mysql {
class MySqlPool;
}

namespace push::saver {

class BroadcastLog;
class InboxStore;

// Finds that Redis lost data and puts it back from MySQL.
//
// Every `check_interval` each Redis primary is asked for its run_id (INFO server) and its key
// count (DBSIZE). A primary that restarted (a new run_id, or the first check after saver
// started) with no keys at all lost what it held (a primary that restarted from its own
// RDB/AOF has keys and is left alone). Then every unexpired stored message and broadcast in
// MySQL is written back (idempotent: what is still in Redis stays as it is), page by page.
// While that runs, a client that connects may miss some of its messages until its next
// connect (nothing is lost: they stay stored).
//
// Loop-thread only; every reference outlives this object.
class Recovery {
 public:
  struct Options {
    std::chrono::milliseconds check_interval{1000};
    uint32_t page = 1000;
  };
  using NowMs = std::function<int64_t()>;

  Recovery(net::EventLoop& loop, redis::RedisRouter& redis, mysql::MySqlPool& pool,
           InboxStore& inbox, BroadcastLog& broadcasts, Options options, NowMs now_ms);
  ~Recovery();

  void start();
  // Runs before each recovery reads MySQL, which waits for its `go` (SaverServer flushes the
  // write-behind there: facts saver still holds must be in MySQL before it is read back, or a
  // message stored just before Redis lost its data would be missed). Call before start().
  void setBeforeScan(std::function<void(std::function<void()> go)> before_scan) {
    before_scan_ = std::move(before_scan);
  }
  bool running() const { return running_; }
  uint64_t recoveries() const { return recoveries_; }
  uint64_t recoveredMessages() const { return recovered_messages_; }
  uint64_t recoveredBroadcasts() const { return recovered_broadcasts_; }
  // The last check reached every primary.
  bool redisHealthy() const { return redis_healthy_; }

 private:
  struct Cursor {
    std::string app, user;
    uint64_t id = 0;
  };
  void check();
  void onChecked(const std::vector<std::string>& primaries, std::vector<std::string> run_ids,
                 std::vector<int64_t> sizes);
  void begin();
  void nextMessages(Cursor cursor);
  void nextBroadcasts(std::string app, uint64_t seq);
  void finish(const Status& st);

  std::function<void(std::function<void()>)> before_scan_;
  net::EventLoop& loop_;
  redis::RedisRouter& redis_;
  mysql::MySqlPool& pool_;
  InboxStore& inbox_;
  BroadcastLog& broadcasts_;
  const Options options_;
  NowMs now_ms_;
  net::PeriodicTimerPtr timer_;
  std::unordered_map<std::string, std::string> run_ids_;  // primary -> run_id last seen
  bool checking_ = false;
  bool running_ = false;
  bool owed_ = false;  // a recovery failed or a loss was found during one: run at next check
  bool redis_healthy_ = false;
  uint64_t recoveries_ = 0;
  uint64_t recovered_messages_ = 0;
  uint64_t recovered_broadcasts_ = 0;
  Liveness liveness_;
};

}  // namespace push::saver
