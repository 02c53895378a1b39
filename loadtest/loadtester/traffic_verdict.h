#pragma once

#include <cstdint>
#include <string>

#include "loadtest/loadtester/run_report.h"
#include "loadtest/loadtester/run_timeline.h"

namespace push::loadtester {

// The figures and the verdict of push-loadtest's traffic scenarios, from the receivers' totals
// and the sending process's counts: appended to report->results (name, value) and
// report->problems (why the run did not pass).

// How the sending process ran: whether it started, its exit status, where its stderr went, how
// long the receivers got after it was done.
struct TrafficRun {
  bool started = false;
  int exit_code = 0;
  std::string log_path;
  double receive_grace_s = 0;
};

// unicast: the pushes the receivers must get. With saver every push it kept (answered "stored":
// it is replayed to its user until acked, whatever happened to its first delivery), else those
// center answered delivered.
uint64_t expectedPushes(const SenderSample& s);
// unicast over `seconds` of sending at `rate` pushes a second.
void addUnicastVerdict(const WorkerSample& t, const SenderSample& sent,
                       const loadgen::LatencyHistogram& latency, double seconds, long long rate,
                       const TrafficRun& run, RunReport* report);

// broadcast: the copies the receivers must get, one of every broadcast center accepted per
// connection (a QoS-0 broadcast reaches the clients connected when the room fans it out: in a
// run without a storm, all of them).
uint64_t expectedCopies(const PublisherSample& p, uint64_t connections);
// `count`: the broadcasts asked for (all of them must be sent within the publisher's time).
void addBroadcastVerdict(const WorkerSample& t, const PublisherSample& p, uint64_t connections,
                         uint64_t count, const loadgen::LatencyHistogram& latency,
                         const TrafficRun& run, RunReport* report);

// upstream: the workers' Upstream frames and their acks (`t`), the webhook's count (`hook`),
// over `seconds` of sending at `rate` a second. Lost: acked ok (the app's webhook answered
// 2xx, says the room) yet never counted by the webhook.
// `due`: the frames the workers had to send (or skip) at their rates over `seconds`.
void addUpstreamVerdict(const WorkerSample& t, const HookSample& hook, uint64_t due,
                        const loadgen::LatencyHistogram& latency, double seconds, long long rate,
                        const TrafficRun& run, RunReport* report);

}  // namespace push::loadtester
