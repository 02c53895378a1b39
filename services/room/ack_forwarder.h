#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/periodic_timer.h"

namespace push::net {
class EventLoop;
}
namespace push::saver {
class Saver_Stub;
}

namespace push::room {

class AppTable;

// Forwards the acks the room accepted (ClientProtocol::onAck: only ids written to the acking
// connection, PendingAcks) to saver, so stored messages are removed and not sent again
// (proto/saver.proto Ack; issue 16).
//
// Batching: acks wait at most `batch_interval` (or until `batch_max` are queued) and go out
// as one Saver.Ack per batch, grouped per (app, user). At most kMaxCalls calls are in flight.
//
// Failures (saver down, timeout): the batch goes back to the head of the queue and sending
// pauses for a backoff (retry_min doubling to retry_max); the first batch after the pause is
// the probe. The queue is bounded by `backlog_max`: over it the oldest acks are dropped and
// counted; their messages stay stored and are simply sent again on the user's next load (the
// SDK's dedup window hides the repeat). Acks are idempotent at saver, so a batch that timed
// out but did run costs nothing when retried.
//
// Ownership: RoomServer owns it and the channel behind `saver`; either may go first (calls
// completing after this object is gone find it gone). Loop-thread only.
class AckForwarder {
 public:
  struct Options {
    std::chrono::milliseconds timeout{2'000};  // one Ack call
    uint32_t batch_max = 1'000;
    std::chrono::milliseconds batch_interval{10};
    uint32_t backlog_max = 100'000;
    std::chrono::milliseconds retry_min{100};
    std::chrono::milliseconds retry_max{5'000};
  };
  struct Stats {
    uint64_t accepted = 0;      // acks handed to acked()
    uint64_t forwarded = 0;     // acks saver answered (removed or not stored)
    uint64_t removed = 0;       // stored messages saver removed
    uint64_t dropped = 0;       // over backlog_max: never forwarded
    uint64_t calls = 0;         // Ack calls made
    uint64_t failed_calls = 0;  // ... that failed (their acks were queued again)
    uint64_t backlog = 0;       // acks waiting now (queued, not in flight)
    uint64_t in_flight = 0;     // acks in calls not answered yet
  };
  static constexpr size_t kMaxCalls = 4;

  AckForwarder(net::EventLoop& loop, saver::Saver_Stub& saver, const AppTable& apps,
               Options options);
  ~AckForwarder();
  AckForwarder(const AckForwarder&) = delete;
  AckForwarder& operator=(const AckForwarder&) = delete;

  // An ack the room accepted for message `id` of `app` (AppTable index) and `user`.
  void acked(uint16_t app, const std::string& user, uint64_t id);
  // Sends everything queued now (no backoff, no retry afterwards) and runs `done` once no call
  // is in flight: the room's stop. Acks still failing then are lost (sent again on a load).
  void flush(std::function<void()> done);

  Stats stats() const;

 private:
  struct Item {
    uint64_t id;
    uint16_t app;
    std::string user;
  };
  struct Call;

  void schedule();
  void sendReady();
  void sendBatch();
  void onDone(Call& call);
  void trim();
  void maybeFlushed();

  net::EventLoop& loop_;
  saver::Saver_Stub& saver_;
  const AppTable& apps_;
  const Options options_;
  std::deque<Item> queue_;
  net::PeriodicTimerPtr timer_;           // batch interval, or the retry backoff
  std::shared_ptr<bool> alive_;           // false once destroyed: late call completions do nothing
  std::chrono::milliseconds backoff_{0};  // 0: saver answered the last call
  bool backing_off_ = false;
  size_t calls_ = 0;
  uint64_t in_flight_ids_ = 0;
  std::function<void()> flushed_;
  bool flushing_ = false;
  Stats stats_;
};

}  // namespace push::room
