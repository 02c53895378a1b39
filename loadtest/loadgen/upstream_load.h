#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/net/periodic_timer.h"
#include "loadtest/loadgen/latency_histogram.h"

namespace push::client {
class UpstreamAck;
}
namespace push::net {
class EventLoop;
}

namespace push::loadgen {

class PushClientPool;

// The payload of every upstream the load generator sends: "u=<user index> s=<seq> t=<send
// ns>" padded with '.', <send ns> being steady_clock (CLOCK_MONOTONIC) when it was queued.
std::string makeUpstreamPayload(uint64_t user, uint64_t seq, int64_t sent_ns, size_t bytes);
constexpr size_t kMinUpstreamPayloadBytes = 64;  // the tag with 20-digit numbers

// The client side of push-loadtest's upstream scenario in one push-load worker: from start()
// on, `rate` Upstream frames a second for `seconds`, from the pool's authenticated clients in
// turn (a 10 ms tick; a client with `max_in_flight` unanswered is passed over, and when none
// can take one the frame is skipped and counted). Each gets a seq unique in this worker; its
// UpstreamAck (onAck) is matched by seq: ok (ERROR_NONE: the app's webhook answered 2xx) with
// its latency from the send, or an error counted by its code's name. Loop-thread only; keep it
// until the loop is shut down.
class UpstreamLoad {
 public:
  struct Options {
    double rate = 100;
    double seconds = 10;
    size_t payload_bytes = kMinUpstreamPayloadBytes;
    size_t first_user = 0;      // the pool's client i is user first_user + i
    size_t max_in_flight = 32;  // per client (the room's default cap is 64)
  };

  UpstreamLoad(net::EventLoop& loop, PushClientPool& pool, Options options);
  UpstreamLoad(const UpstreamLoad&) = delete;
  UpstreamLoad& operator=(const UpstreamLoad&) = delete;

  // Starts sending (once; later calls do nothing).
  void start();
  void onAck(size_t client, const client::UpstreamAck& ack, int64_t now_ns);
  void close() { timer_.reset(); }

  bool started() const { return started_; }
  // Its `seconds` of sending are over (the last frames may still wait for their acks).
  bool done() const { return started_ && !timer_; }
  uint64_t sent() const { return sent_; }
  uint64_t ok() const { return ok_; }
  uint64_t errors() const { return errors_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t unmatched() const { return unmatched_; }  // acks of no upstream in flight
  // "name:count,..." of the errors by code (ErrorCode names, lower case), "-" for none.
  std::string errorsByCode() const;
  // Latency (ns) of the ok acks since the last call; the histogram is reset.
  LatencyHistogram takeLatency();

 private:
  struct InFlight {
    uint32_t client = 0;
    int64_t sent_ns = 0;
  };
  void tick();

  net::EventLoop& loop_;
  PushClientPool& pool_;
  const Options options_;
  net::PeriodicTimerPtr timer_;
  bool started_ = false;
  int64_t start_ns_ = 0;
  size_t next_client_ = 0;
  uint64_t next_seq_ = 1;
  std::unordered_map<uint64_t, InFlight> in_flight_;  // by seq
  std::vector<uint8_t> client_in_flight_;
  std::map<std::string, uint64_t> errors_by_code_;
  LatencyHistogram latency_;
  uint64_t sent_ = 0, ok_ = 0, errors_ = 0, skipped_ = 0, unmatched_ = 0;
};

}  // namespace push::loadgen
