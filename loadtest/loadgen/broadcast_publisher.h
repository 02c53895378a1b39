#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "loadtest/loadgen/latency_histogram.h"

namespace push::net {
class EventLoop;
}

namespace push::loadgen {

// The publishing side of the broadcast benchmark: `count` broadcasts numbered 0..count-1,
// each payload made by makeBroadcastPayload() with the time it was queued, sent
//  - Center: as POST /v1/broadcast {"app","payload","qos"} over `http_connections`
//    keep-alive pipelined connections to center (HttpPipelineClient, round robin); a
//    broadcast is done at center's answer (200: ok; anything else: an error);
//  - Redis: as PUBLISH <channel> <payload> to every server in `servers` (one pipelined
//    connection each; several servers stand for several single-threaded Redis processes,
//    as the room runs several workers); done when every server answered.
// Closed loop (rate 0): `window` broadcasts in flight. Open loop: `rate` per second (1 ms
// ticks); a broadcast due while `window` are in flight is skipped (counted). Sending stops
// after `count` broadcasts (sent or skipped) or `seconds`, whichever is first; the answers in
// flight then get up to 10 s; then done(exit_code) runs once with resultLine() set:
//   sent= ok= errors= skipped= first_send_ns= last_send_ns= seconds= per_s= api_p50_ms=
//   api_p99_ms= api_max_ms= receivers= loadgen_cpu=
// (api_*: from queuing a broadcast to its answer; receivers: Redis's summed subscriber
// counts). Loop-thread only; keep the object until the loop is shut down (close() first).
class BroadcastPublisher {
 public:
  enum class Kind : uint8_t { Center, Redis };
  struct Options {
    Kind kind = Kind::Center;
    std::vector<net::InetAddress> servers;  // center: the first only; Redis: all
    const net::InetAddress* source = nullptr;
    // Center.
    std::string api_key;
    std::string app;
    uint32_t qos = 0;
    size_t http_connections = 4;
    // Redis.
    std::string channel = "push-bench";
    // Both.
    uint64_t count = 1000;
    double seconds = 30;
    double rate = 0;  // broadcasts per second; 0: closed loop
    size_t window = 64;
    size_t payload_bytes = 256;
  };

  // One way of sending a broadcast; completions come back through the callback.
  class Transport;

  BroadcastPublisher(net::EventLoop& loop, Options options);
  ~BroadcastPublisher();
  BroadcastPublisher(const BroadcastPublisher&) = delete;
  BroadcastPublisher& operator=(const BroadcastPublisher&) = delete;

  void start(std::function<void(int exit_code)> done);
  // Closes every connection and the timer. Idempotent.
  void close();
  const std::string& resultLine() const { return result_; }

 private:
  void begin();
  void tick();
  void fill(int64_t now);
  bool sendOne(int64_t now);
  void completed(uint64_t number, bool ok, std::string_view error, uint64_t receivers);
  void error(std::string_view what);
  void finish(int exit_code);

  net::EventLoop& loop_;
  Options options_;
  std::unique_ptr<Transport> transport_;
  net::PeriodicTimerPtr timer_;
  std::function<void(int)> done_;
  std::vector<int64_t> sent_at_;  // by number
  LatencyHistogram api_latency_;
  uint64_t issued_ = 0, sent_ = 0, ok_ = 0, errors_ = 0, skipped_ = 0, receivers_ = 0;
  size_t in_flight_ = 0;
  int64_t start_ns_ = 0, end_ns_ = 0, first_send_ns_ = 0, last_send_ns_ = 0, drain_until_ns_ = 0;
  double cpu_start_ = 0;
  bool sending_done_ = false;
  bool finished_ = false;
  std::string first_error_;
  std::string result_;
};

}  // namespace push::loadgen
