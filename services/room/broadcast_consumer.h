#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/queue/client/consumer.h"

namespace push::net {
class EventLoop;
}

namespace push::room {

class AppTable;
class BroadcastPacer;

// Reads the broadcasts of every app this room serves from queued and hands them to the
// BroadcastPacer (docs/ARCHITECTURE.md §2 "Broadcast"; proto/broadcast.proto is the message).
//
// One queue::Consumer per app served: topic bcast.<app>, channel `room-<id>#ephemeral`
// (channelFor), on every configured daemon and every daemon the lookupds list. Every room instance
// has its own channel, so each gets every broadcast once; ephemeral, so a room that is gone leaves
// no backlog behind (the users it held reconnect elsewhere; catching up on missed broadcasts is the
// saver's part, by sequence).
//
// A message is dropped (FIN, counted) when it does not decode, names another app than its
// topic's, carries a bad tag, or has expired (expires_ms at or before now, wall clock:
// queued may have held it on disk). Otherwise its Push frame (message_id, app, payload, qos,
// created_ms, broadcast_seq, tag) is encoded once and queued on the pacer; the queue message
// is finished when the pacer has written it to every connection meant for it. The consumer's
// max_in_flight per app is therefore the room's backlog bound: more waits in queued.
//
// stop(done): drops what the pacer holds (those messages are finished: the channel is
// ephemeral, a stopping room has no one to write them to), closes every consumer, then runs
// `done` once. Loop-thread only; the references outlive it.
//
// Apps that appear later (ZooKeeper app records, AppTable::apply) get their consumer from
// addApp(). A removed app keeps its consumer: its connections were closed and find() no longer
// names it, so its broadcasts reach no one, and when the app comes back (same number) its
// subscription is already there. It goes at stop() with the others.
class BroadcastConsumer {
 public:
  struct Options {
    std::vector<std::string> queued;   // daemon TCP addresses
    std::vector<std::string> lookupd;  // nsqlookupd HTTP addresses
    std::chrono::milliseconds lookup_interval{15'000};
    uint32_t max_in_flight = 256;  // per app
  };
  struct Stats {
    uint64_t received = 0;
    uint64_t queued_for_delivery = 0;
    uint64_t delivered = 0;  // finished after the pacer wrote them
    uint64_t expired = 0;
    uint64_t invalid = 0;
    uint64_t connections = 0;  // subscribed queued connections now, all apps
  };

  // The channel of room `room_id`: "room-<id>#ephemeral", with characters NSQ does not allow
  // replaced by '_' and the id's head cut so that the name fits in 64 bytes (the tail, pid and
  // start time, is what makes it unique).
  static std::string channelFor(const std::string& room_id);

  // INVALID_ARGUMENT when neither queued nor lookupd is given, or an app makes no topic name.
  static Result<std::unique_ptr<BroadcastConsumer>> create(net::EventLoop& loop, Options options,
                                                           const AppTable& apps,
                                                           const std::string& room_id,
                                                           BroadcastPacer& pacer);
  ~BroadcastConsumer();
  BroadcastConsumer(const BroadcastConsumer&) = delete;
  BroadcastConsumer& operator=(const BroadcastConsumer&) = delete;

  // Called by the pacer's on_done for a token this consumer enqueued.
  void onWritten(uint64_t token, uint32_t written);
  // Subscribes to bcast.<app> of app number `index` (AppTable) unless it already is, or the
  // consumer is stopping. INVALID_ARGUMENT when the app's name makes no topic name.
  Status addApp(uint16_t index);
  void stop(std::function<void()> done);

  Stats stats() const;
  const std::string& channel() const { return channel_; }
  // The highest broadcast sequence read for `app` (AppTable index) since start; 0: none. A new
  // client starts from it (AuthResult.broadcast_seq).
  uint64_t latestSequence(uint16_t app) const {
    return app < latest_seq_.size() ? latest_seq_[app] : 0;
  }

 private:
  BroadcastConsumer(net::EventLoop& loop, Options options, BroadcastPacer& pacer,
                    std::string channel);
  void onMessage(uint16_t app, queue::Message message);

  net::EventLoop& loop_;
  const Options options_;
  BroadcastPacer& pacer_;
  const std::string channel_;
  const AppTable* apps_ = nullptr;
  std::vector<std::unique_ptr<queue::Consumer>> consumers_;  // by app index; null: none
  std::unordered_map<uint64_t, queue::Message> held_;        // token -> message at the pacer
  std::vector<uint64_t> latest_seq_;                         // by app index
  uint64_t next_token_ = 1;
  Stats stats_;
  size_t stopping_left_ = 0;
  bool stopping_ = false;
  std::function<void()> stop_done_;
};

}  // namespace push::room
