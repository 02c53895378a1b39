#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "common/net/periodic_timer.h"
#include "loadtest/loadgen/broadcast_tally.h"
#include "loadtest/loadgen/connection_opener.h"

namespace push::net {
class EventLoop;
}

namespace push::loadgen {

class PushClientPool;
class RedisClientPool;
class RawClientPool;

// The receiving side of the broadcast benchmark: N client connections of one kind that
// count every broadcast they read in a BroadcastTally.
//  - Push: authenticated clients of a room (PushClientPool); a broadcast is a Push with
//    broadcast_seq != 0, read from the wire bytes without a full protobuf parse (a QoS-1
//    one still goes through the pool's normal path afterwards, which acks it).
//  - Redis: SUBSCRIBE clients of a redis-server (RedisClientPool); every "message".
//  - Raw: bare length-prefixed frames from the raw floor (RawClientPool).
//
// Rounds: a round ends when receipts have been counted and none came for `quiet` — or, with
// `await_request`, only once requestEndOfRound() was called and nothing came for `quiet` since
// the later of the call and the last receipt (a script calls it when its publisher is done,
// so a stall longer than `quiet` mid-run cannot split a round; a round with nothing in it
// ends too). `on_round(line)` then gets "round=<k> clients=<n> <tally summary>
// lost_clients=<n> loadgen_cpu_s=<CPU seconds this process used since the previous round>",
// and the per-broadcast lines go to "<report_prefix>.<k>" when a prefix is set. Loop-thread
// only; keep the object until the loop is shut down (close() first).
class BroadcastReceivers {
 public:
  enum class Kind : uint8_t { Push, Redis, Raw };
  struct Options {
    Kind kind = Kind::Push;
    ConnectionOpener::Options connect;  // server, sources, count, rate
    // Push: the tokens' app and secret; user i is user_prefix + (first_user + i).
    std::string app;
    std::string secret;
    std::string user_prefix = "u";
    size_t first_user = 0;
    // Redis: the channel.
    std::string channel = "push-bench";
    // Broadcast numbers at or above this are not tallied (bounds the memory: each tallied
    // broadcast holds a bit per client until the round ends).
    size_t max_broadcasts = 100'000;
    std::chrono::milliseconds quiet{1000};
    bool await_request = false;
    std::string report_prefix;
  };
  using OnSettled =
      std::function<void(size_t ready, size_t failed, const std::string& first_error)>;
  using OnRound = std::function<void(const std::string& line)>;

  BroadcastReceivers(net::EventLoop& loop, Options options);
  ~BroadcastReceivers();
  BroadcastReceivers(const BroadcastReceivers&) = delete;
  BroadcastReceivers& operator=(const BroadcastReceivers&) = delete;

  void start(OnSettled on_settled, OnRound on_round);
  // The publisher is done: the round ends `quiet` after this call or the last receipt,
  // whichever is later (see the class comment).
  void requestEndOfRound();
  // Closes every connection and the timer. Idempotent.
  void close();
  size_t lost() const;

 private:
  void onTick();
  void endRound();
  bool onPushFrame(size_t client, std::string_view frame, int64_t read_ns);

  net::EventLoop& loop_;
  Options options_;
  BroadcastTally tally_;
  std::unique_ptr<PushClientPool> push_;
  std::unique_ptr<RedisClientPool> redis_;
  std::unique_ptr<RawClientPool> raw_;
  net::PeriodicTimerPtr timer_;
  OnRound on_round_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> report_{nullptr, &std::fclose};
  int64_t end_requested_ns_ = 0;  // 0: not requested in this round
  double cpu_at_round_start_ = 0;
  int round_ = 0;
};

}  // namespace push::loadgen
