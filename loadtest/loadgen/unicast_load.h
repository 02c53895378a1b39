#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "loadtest/loadgen/latency_histogram.h"

namespace push::net {
class EventLoop;
}

namespace push::loadgen {

class HttpPipelineClient;
class PushClientPool;

// The unicast benchmark driver (loadtest/README.md): `users` authenticated client connections
// to a room that ack every push (none with Options::send_only), and `http_connections` keep-alive
// connections to center sending `POST /v1/push` for one user each, round robin over the users,
// pipelined.
//
// Closed loop (rate 0): each HTTP connection keeps `depth` requests in flight. Open loop
// (rate > 0): requests leave at `rate` per second, spread over the connections; `depth` caps
// the requests in flight per connection and a request due while every connection is at the
// cap is skipped (counted: the servers are not keeping up).
//
// The payload carries the request's sequence number ("s=<seq> t=<ns>", padded: see
// parseUnicastPayload); the client that receives the Push looks the sequence up to get the
// end-to-end latency from the moment the request was queued for writing to center to the moment the
// Push was read.
//
// After `warmup` the counters and the histogram run for `seconds`; then sending stops, the
// requests in flight get up to 2 s, and `done(exit_code)` runs once with the result line in
// resultLine(). Loop-thread only; keep the object until the loop is shut down.
class UnicastLoad {
 public:
  struct Options {
    net::InetAddress center;
    std::string api_key;
    std::string app;
    std::string secret;
    net::InetAddress room;
    size_t users = 1000;
    std::string user_prefix = "u";
    // Request seq goes to user user_prefix + (first_user + seq % users).
    size_t first_user = 0;
    // No clients of our own: only the requests (push-loadtest's unicast scenario, whose
    // receivers are other processes counting with UnicastTally). `room` is not used.
    bool send_only = false;
    size_t http_connections = 16;
    size_t depth = 8;
    double seconds = 10;
    std::chrono::milliseconds warmup{1000};
    double rate = 0;  // requests per second; 0: closed loop
    size_t payload_bytes = 32;
    // Pushes per request: 1 posts /v1/push, more post /v1/push/batch (consecutive sequence
    // numbers, one user each). `rate` and the counts stay in pushes.
    size_t batch = 1;
    std::vector<net::InetAddress> sources;
    double connect_rate = 5000;
    // Print one line per second to stderr (sent, received, skipped, p99 and max latency of
    // that second), to see stalls.
    bool timeline = false;
    // Print "SENT sent= responses= delivered= offline= errors= skipped= kept= target_errors=
    // cpu_ms=" (cumulative counts; kept: pushes saver has, target_errors: targets whose room did
    // not answer) to stdout every second and when done, for push-loadtest.
    bool stats = false;
  };

  UnicastLoad(net::EventLoop& loop, Options options);
  ~UnicastLoad();
  UnicastLoad(const UnicastLoad&) = delete;
  UnicastLoad& operator=(const UnicastLoad&) = delete;

  // Runs with true when the measured window starts and with false when it ends (scripts
  // sample the servers' CPU time then).
  void setOnWindow(std::function<void(bool started)> fn) { on_window_ = std::move(fn); }
  void start(std::function<void(int exit_code)> done);
  // Closes every connection and timer (before EventLoop::shutdown()). Idempotent.
  void close();
  const std::string& resultLine() const { return result_; }

 private:
  enum class Phase : uint8_t { Connecting, Warmup, Measuring, Draining, Done };
  struct Sent {
    uint64_t seq = ~uint64_t{0};
    int64_t at_ns = 0;
  };
  struct Counters {
    uint64_t sent = 0, responses = 0, delivered = 0, offline = 0, received = 0, errors = 0;
    uint64_t skipped = 0, unmatched = 0;
    // Pushes saver has (the answer had "stored"), and targets whose room did not answer.
    uint64_t kept = 0, target_errors = 0;
  };

  void onClientsSettled(size_t ready, size_t failed, const std::string& first_error);
  void connectHttp();
  void beginSending();
  void tick();
  void printTimeline(int64_t now);
  void printStats();
  bool sendOne(HttpPipelineClient& client);
  void onResponse(HttpPipelineClient& client, int status, std::string_view body);
  void onPush(std::string_view payload, int64_t now_ns);
  void error(const std::string& what);
  void finish(int exit_code);
  std::string buildResult(double window_s, double user_s, double sys_s) const;

  net::EventLoop& loop_;
  Options options_;
  std::unique_ptr<PushClientPool> clients_;
  std::vector<std::unique_ptr<HttpPipelineClient>> http_;
  size_t http_connected_ = 0;
  net::PeriodicTimerPtr timer_;
  std::function<void(int)> done_;
  std::function<void(bool)> on_window_;
  std::string request_head_;  // request line and headers up to "Content-Length: "
  std::string request_;       // scratch
  std::vector<Sent> ring_;    // send times by seq & (size - 1)
  Phase phase_ = Phase::Connecting;
  bool closing_ = false;  // close() ran: connection errors are ours
  uint64_t next_seq_ = 0;
  uint64_t issued_ = 0;  // open loop: requests due so far (sent or skipped)
  size_t next_client_ = 0;
  int64_t start_ns_ = 0, window_start_ns_ = 0, window_end_ns_ = 0, drain_until_ns_ = 0;
  std::pair<double, double> cpu_start_{0, 0};  // user, system CPU seconds
  uint64_t acks_at_start_ = 0;
  Counters window_;  // counted while Measuring
  Counters total_;
  LatencyHistogram latency_;
  LatencyHistogram second_latency_;  // --timeline: the current second
  Counters second_start_;            // --timeline: total_ at the start of the second
  int64_t second_start_ns_ = 0;
  int64_t stats_at_ns_ = 0;  // --stats: when the last SENT line was printed
  std::string first_error_;
  std::string result_;
};

}  // namespace push::loadgen
