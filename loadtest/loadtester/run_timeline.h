#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loadtest/loadgen/latency_histogram.h"

namespace push::loadtester {

// One worker's cumulative counts, from its latest "STATS ..." line (push-load idle --stats).
struct WorkerSample {
  uint64_t ready = 0, failed = 0, lost = 0, pings = 0, pongs = 0, pushes = 0, cpu_ms = 0;
  // push-load idle --reconnect: lost clients back, attempts that failed, and the steady_clock
  // (CLOCK_MONOTONIC, one clock for every process here) nanoseconds of the latest return;
  // totals() gives the latest over the workers.
  uint64_t reconnected = 0, reconnect_failed = 0, last_back_ns = 0;
  // How failed and lost connections ended (PushClientPool::endingName -> count), when the
  // worker says (failed_by= / lost_by=: "name:count,..." or "-").
  std::map<std::string, uint64_t> failed_by, lost_by;
  // push-load idle --unicast-users (UnicastTally): pushes received, the unique ones, duplicates,
  // for another user, not ours, beyond the tracked range.
  uint64_t uni_received = 0, uni_unique = 0, uni_duplicates = 0, uni_misrouted = 0;
  uint64_t uni_unreadable = 0, uni_untracked = 0;
  // push-load idle --broadcasts (BroadcastTally): copies received, first copies per client,
  // second ones, not ours, numbered past --broadcasts, and the steady_clock ns of the latest
  // receipt (totals(): the latest over the workers).
  uint64_t bc_received = 0, bc_unique = 0, bc_duplicates = 0, bc_unmatched = 0;
  uint64_t bc_out_of_range = 0, bc_last_ns = 0;
  // push-load idle --upstream-rate (UpstreamLoad): Upstream frames sent, acked ERROR_NONE,
  // acked with an error (by code name), skipped (no client could take one), acks of nothing
  // in flight.
  uint64_t up_sent = 0, up_ok = 0, up_errors = 0, up_skipped = 0, up_unmatched = 0;
  // 1 once the worker's sending time is over (totals(): the workers done).
  uint64_t up_done = 0;
  std::map<std::string, uint64_t> up_errors_by;
};

// The upstream scenario's webhook receiver (push-load webhook --stats), from its latest "HOOK
// ..." line: items POSTed to it, the first of each, second ones, bodies not ours, past its
// tracking limit.
struct HookSample {
  bool seen = false;
  uint64_t received = 0, unique = 0, duplicates = 0, unreadable = 0, untracked = 0, cpu_ms = 0;
};

// The unicast sender's cumulative counts, from its latest "SENT ..." line (push-load unicast
// --stats): requests sent, answered, answered delivered (the user online) or offline, failed
// (an error status or a lost connection), skipped (due while every connection was at its depth).
// kept: pushes saver has (answered with "stored": each is replayed to its user until acked);
// target_errors: targets whose room did not answer.
struct SenderSample {
  uint64_t sent = 0, responses = 0, delivered = 0, offline = 0, errors = 0, skipped = 0;
  uint64_t kept = 0, target_errors = 0, cpu_ms = 0;
};

// The broadcast publisher's counts, from its one "... role=publisher sent= ok= ..." line
// (push-load broadcast, BroadcastPublisher::resultLine): broadcasts sent, answered 200 by
// center, failed, skipped (due while the window was full), unanswered at the end; the
// steady_clock ns of its first send.
struct PublisherSample {
  bool done = false;
  uint64_t sent = 0, ok = 0, errors = 0, skipped = 0, unanswered = 0, first_send_ns = 0;
};

// A second of the run, summed over the workers.
struct TimelinePoint {
  double t_s = 0;            // since the run started
  uint64_t connected = 0;    // authenticated and still open
  uint64_t ready = 0;        // authenticated so far (cumulative)
  uint64_t failed = 0;       // never authenticated (cumulative)
  uint64_t lost = 0;         // closed under us after auth (cumulative)
  uint64_t reconnected = 0;  // lost ones authenticated again (cumulative)
  double new_per_s = 0;      // authenticated in this second
  double back_per_s = 0;     // lost ones authenticated again in this second
  double pings_per_s = 0;    // Pings sent
  double pongs_per_s = 0;    // Pongs received
  double pushes_per_s = 0;   // pushes received
  double loadgen_cores = 0;  // CPU of the workers, in cores
  uint64_t rtt_count = 0;    // Ping round trips measured in this second
  int64_t rtt_p50_ns = 0, rtt_p99_ns = 0, rtt_max_ns = 0;
  // unicast: requests sent to center, unique pushes received, both per second; the cumulative
  // sender errors and skips and receivers' duplicates; the latency (API call to the client's
  // read) of this second's unique pushes. broadcast: delivered_per_s, duplicates and the
  // latency are those of the broadcasts' copies (first ones per client). upstream: sent_per_s
  // is Upstream frames sent, delivered_per_s those acked ok, send_errors the acks with an
  // error, duplicates the webhook's second copies, the latency from the send to the ack.
  double sent_per_s = 0, delivered_per_s = 0;
  uint64_t send_errors = 0, duplicates = 0;
  int64_t lat_p50_ns = 0, lat_p99_ns = 0, lat_max_ns = 0;
};

// Folds the STATS lines of N worker processes into one point a second and a histogram of
// every Ping round trip of the run. Single-threaded.
class RunTimeline {
 public:
  explicit RunTimeline(size_t workers) : latest_(workers) {}

  // A line of worker `worker` starting "STATS ": its counts replace the worker's previous
  // ones and its round trips join the current second. False (nothing changed) when the line
  // is malformed or `worker` is out of range.
  bool addStatsLine(size_t worker, std::string_view line);
  // The unicast sender's "SENT ..." line; false (nothing changed) when malformed.
  bool addSentLine(std::string_view line);
  // The broadcast publisher's result line (the fields after "role=publisher "); false
  // (nothing changed) when malformed.
  bool addPublisherLine(std::string_view line);
  // The webhook receiver's "HOOK ..." line; false (nothing changed) when malformed.
  bool addHookLine(std::string_view line);
  // Ends the current second at `t_s` and appends its point.
  const TimelinePoint& closeSecond(double t_s);
  // Adds the round trips (and latencies) of the current second to allRoundTrips() (and
  // allLatencies()) without a point (the end of
  // a run: a point for a fraction of a second would show rates that never were).
  void flushRoundTrips();
  // When the last point was (0 before the first).
  double lastPointAt() const { return previous_t_s_; }

  const std::vector<TimelinePoint>& points() const { return points_; }
  // The sums of the workers' latest counts.
  WorkerSample totals() const;
  const loadgen::LatencyHistogram& allRoundTrips() const { return all_rtt_; }
  const SenderSample& sender() const { return sender_; }
  const PublisherSample& publisher() const { return publisher_; }
  const HookSample& hook() const { return hook_; }
  // Latency of every unique unicast push (broadcast copy) of the run.
  const loadgen::LatencyHistogram& allLatencies() const { return all_lat_; }

 private:
  std::vector<WorkerSample> latest_;
  std::vector<TimelinePoint> points_;
  loadgen::LatencyHistogram second_rtt_;
  loadgen::LatencyHistogram all_rtt_;
  loadgen::LatencyHistogram second_lat_;
  loadgen::LatencyHistogram all_lat_;
  SenderSample sender_;
  SenderSample previous_sender_;
  PublisherSample publisher_;
  HookSample hook_;
  HookSample previous_hook_;
  WorkerSample previous_;  // totals at the last closed second
  double previous_t_s_ = 0;
};

}  // namespace push::loadtester
