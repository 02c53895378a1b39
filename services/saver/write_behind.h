#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/liveness.h"
#include "common/net/owning_ptrs.h"
#include "proto/broadcast.pb.h"

namespace push::net {
class EventLoop;
}
namespace push::mysql {
class MySqlPool;
}

namespace push::saver {

// Every fact saver puts in Redis, written behind to MySQL (mysql_schema.h has the tables) in
// batches on the pool's ordered lane, so facts reach MySQL in the order they happened here (a
// message's store before its ack).
//
// A fact waits until it is `min_age` old before it is written (drain(), and a backlog above half
// its cap, write at once). A store whose ack (or drop) comes while the store still waits is
// taken out of the backlog and the removal is not written either: a message an online client
// acked within `min_age` costs MySQL nothing (coalesced()), and that is most of them. The one case
// this leaves a row behind is a message stored twice for the same user (a retried Store) whose
// first store was already written: the row then stays until its expiry purge.
//
// Expired rows are purged every `purge_interval` (`DELETE ... WHERE expire_ms < now`, in
// slices of `purge_slice` rows), so MySQL holds about what Redis holds.
//
// MySQL down: the batch fails, stays at the front and is tried again every `retry`; new facts
// wait behind it up to `max_backlog`, beyond which the oldest waiting ones are dropped and
// counted (dropped()): Redis still holds them, only the recovery copy is incomplete. A saver
// that dies loses its backlog the same way.
//
// Loop-thread only. `pool` outlives this object.
class WriteBehind {
 public:
  struct Options {
    uint32_t batch = 1000;
    std::chrono::milliseconds interval{20};  // how often waiting facts are looked at
    std::chrono::milliseconds min_age{500};
    size_t max_backlog = 1'000'000;
    std::chrono::milliseconds retry{1000};
    // Bytes of one batch's rows at most (MySQL's max_allowed_packet is 16 MiB by default).
    size_t batch_bytes = 4u << 20;
    std::chrono::milliseconds purge_interval{60'000};
    uint32_t purge_slice = 10'000;
  };
  using NowMs = std::function<int64_t()>;

  WriteBehind(net::EventLoop& loop, mysql::MySqlPool& pool, Options options, NowMs now_ms);
  ~WriteBehind();

  void stored(const std::string& app, const std::string& user, uint64_t id, int64_t expire_ms,
              std::string message_bytes);
  void removed(const std::string& app, const std::string& user, uint64_t id);
  void broadcast(const broadcast::BroadcastMessage& b);  // sequence set

  // Writes what is waiting now without waiting for its age; `done` runs once every fact that
  // was waiting at the call is written (or dropped), or `deadline` passed (shutdown, and a
  // recovery before it reads MySQL). Later facts still go, at their age. Never inside the call.
  void drain(std::chrono::milliseconds deadline, std::function<void()> done);

  // Until ready (the schema is applied), facts wait and nothing is written. Default: ready.
  void setReady(bool ready) { ready_ = ready; }

  size_t backlog() const { return facts_.size(); }
  int64_t oldestAgeMs() const;
  uint64_t written() const { return written_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t coalesced() const { return coalesced_; }
  uint64_t purged() const { return purged_; }
  bool healthy() const { return healthy_; }
  // The highest broadcast sequence of `app` not yet in MySQL (0: none waiting).
  uint64_t pendingBroadcastSequence(const std::string& app) const;

 private:
  struct Fact {
    enum class Kind : uint8_t { Store, Remove, Broadcast };
    Kind kind = Kind::Store;
    std::string app, user;  // user empty for a broadcast
    uint64_t id = 0;
    uint64_t sequence = 0;
    int64_t expire_ms = 0;
    std::string bytes;
    int64_t at_ms = 0;  // steady clock, set by push()
    uint64_t seq = 0;   // set by push(): 1, 2, ...
  };

  void push(Fact fact);
  // Whether the oldest fact not in flight may be written now.
  bool ripe() const;
  // Ages are not waited for: a drain is pending, or the backlog is past half its cap.
  bool urgent() const;
  // Runs the drains whose facts are all out of facts_ or whose deadline passed.
  void finishDrains();
  // Ages, retries and deadlines use the steady clock: a wall clock stepped back must not hold
  // the backlog (expiry, a wall-clock fact, uses now_ms_).
  static int64_t steadyMs();
  void onTick();
  void send();
  void purge();
  static std::string keyOf(const std::string& app, const std::string& user, uint64_t id);

  net::EventLoop& loop_;
  mysql::MySqlPool& pool_;
  const Options options_;
  NowMs now_ms_;
  std::list<Fact> facts_;  // a list: a coalesced store is taken out of the middle
  size_t in_flight_ = 0;   // the first in_flight_ facts are being written
  // Store facts not in flight, by (app, user, id), for coalescing with their removal.
  std::unordered_map<std::string, std::list<Fact>::iterator> waiting_stores_;
  int64_t retry_at_ms_ = 0;
  bool healthy_ = true;
  bool ready_ = true;
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
  uint64_t coalesced_ = 0;
  uint64_t purged_ = 0;
  int64_t next_purge_ms_ = 0;
  bool purging_ = false;
  std::unordered_map<std::string, uint64_t> pending_broadcasts_;  // app -> highest waiting
  net::PeriodicTimerPtr timer_;
  struct Drain {
    uint64_t last_seq;  // the newest fact when drain() was called
    int64_t deadline_ms;
    std::function<void()> done;
  };
  std::vector<Drain> drains_;
  uint64_t last_seq_ = 0;
  Liveness liveness_;
};

}  // namespace push::saver
