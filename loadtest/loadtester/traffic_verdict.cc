#include "loadtest/loadtester/traffic_verdict.h"

#include <algorithm>

namespace push::loadtester {
namespace {

double ms(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

// "<n> <what>" when n > 0.
void addProblem(uint64_t n, const std::string& what, RunReport* report) {
  if (n > 0) report->problems.push_back(std::to_string(n) + " " + what);
}

// The sending process's own problems: it never started, or it failed.
void addRunProblems(const TrafficRun& run, const char* what, RunReport* report) {
  if (!run.started) report->problems.push_back(std::string("the ") + what + " never started");
  if (run.exit_code != 0) {
    report->problems.push_back(std::string("the ") + what + " exited with status " +
                               std::to_string(run.exit_code) + " (see " + run.log_path + ")");
  }
}

}  // namespace

uint64_t expectedPushes(const SenderSample& s) {
  return s.kept > 0 ? s.kept : s.delivered;
}

void addUnicastVerdict(const WorkerSample& t, const SenderSample& sent,
                       const loadgen::LatencyHistogram& lat, double seconds, long long rate,
                       const TrafficRun& run, RunReport* report) {
  const uint64_t expected = expectedPushes(sent);
  const uint64_t undelivered = expected > t.uni_unique ? expected - t.uni_unique : 0;
  report->results.insert(
      report->results.end(),
      {{"sent", static_cast<double>(sent.sent)},
       {"delivered_resp", static_cast<double>(sent.delivered)},
       {"offline_resp", static_cast<double>(sent.offline)},
       {"kept", static_cast<double>(sent.kept)},
       {"target_errors", static_cast<double>(sent.target_errors)},
       {"send_errors", static_cast<double>(sent.errors)},
       {"skipped", static_cast<double>(sent.skipped)},
       {"received", static_cast<double>(t.uni_received)},
       {"unique", static_cast<double>(t.uni_unique)},
       {"duplicates", static_cast<double>(t.uni_duplicates)},
       {"misrouted", static_cast<double>(t.uni_misrouted + t.uni_unreadable)},
       {"undelivered", static_cast<double>(undelivered)},
       {"msg_per_s", static_cast<double>(t.uni_unique) / seconds},
       {"lat_p50_ms", ms(lat.percentile(0.5))},
       {"lat_p99_ms", ms(lat.percentile(0.99))},
       {"lat_p999_ms", ms(lat.percentile(0.999))},
       {"lat_max_ms", ms(lat.max())},
       {"sender_cpu_cores", static_cast<double>(sent.cpu_ms) / 1000.0 / seconds}});
  addRunProblems(run, "sender", report);
  addProblem(undelivered,
             std::string("pushes center answered ") +
                 (sent.kept > 0 ? "stored (saver has them)" : "delivered") +
                 " were not received within " + formatNumber(run.receive_grace_s) +
                 " s of the last",
             report);
  if (sent.kept == 0) {
    addProblem(sent.target_errors, "pushes whose room did not answer (not stored: never delivered)",
               report);
  }
  addProblem(t.uni_misrouted, "pushes reached a client of another user", report);
  addProblem(t.uni_unreadable, "pushes with a payload that was not ours", report);
  addProblem(sent.errors, "requests to center failed (see " + run.log_path + ")", report);
  addProblem(sent.offline, "pushes center answered offline (user not online at the register)",
             report);
  addProblem(sent.skipped,
             "requests skipped: center did not keep up with " + std::to_string(rate) +
                 "/s at this --depth",
             report);
}

uint64_t expectedCopies(const PublisherSample& p, uint64_t connections) {
  return p.ok * connections;
}

void addBroadcastVerdict(const WorkerSample& t, const PublisherSample& p, uint64_t connections,
                         uint64_t count, const loadgen::LatencyHistogram& lat,
                         const TrafficRun& run, RunReport* report) {
  const uint64_t expected = expectedCopies(p, connections);
  const uint64_t missing = expected > t.bc_unique ? expected - t.bc_unique : 0;
  // From the first API call to the last copy read anywhere: the rate the clients were served.
  const double span_s = p.first_send_ns > 0 && t.bc_last_ns > p.first_send_ns
                            ? static_cast<double>(t.bc_last_ns - p.first_send_ns) / 1e9
                            : 0;
  report->results.insert(
      report->results.end(),
      {{"broadcasts", static_cast<double>(p.sent)},
       {"broadcasts_ok", static_cast<double>(p.ok)},
       {"broadcast_errors", static_cast<double>(p.errors)},
       {"skipped", static_cast<double>(p.skipped)},
       {"expected", static_cast<double>(expected)},
       {"received", static_cast<double>(t.bc_received)},
       {"unique", static_cast<double>(t.bc_unique)},
       {"duplicates", static_cast<double>(t.bc_duplicates)},
       {"missing", static_cast<double>(missing)},
       {"unmatched", static_cast<double>(t.bc_unmatched + t.bc_out_of_range)},
       {"deliveries_per_s", span_s > 0 ? static_cast<double>(t.bc_unique) / span_s : 0},
       {"lat_p50_ms", ms(lat.percentile(0.5))},
       {"lat_p99_ms", ms(lat.percentile(0.99))},
       {"lat_p999_ms", ms(lat.percentile(0.999))},
       // The latest copy of any broadcast: when its last client was served.
       {"last_client_ms", ms(lat.max())}});
  addRunProblems(run, "publisher", report);
  if (run.started && run.exit_code == 0 && !p.done) {
    report->problems.push_back("the publisher printed no result line (see " + run.log_path + ")");
  }
  addProblem(missing,
             "copies of the " + std::to_string(p.ok) +
                 " broadcasts center accepted were not received within " +
                 formatNumber(run.receive_grace_s) + " s of the last (" +
                 std::to_string(connections) + " clients each)",
             report);
  addProblem(t.bc_duplicates, "copies reached a client that had the broadcast already", report);
  addProblem(t.bc_unmatched, "broadcast pushes with a payload that was not ours", report);
  addProblem(t.bc_out_of_range, "broadcasts numbered past --count", report);
  addProblem(p.errors, "broadcasts center refused or failed (see " + run.log_path + ")", report);
  addProblem(p.skipped, "broadcasts skipped: center did not answer as fast as --rate", report);
  addProblem(p.unanswered, "broadcasts center never answered", report);
  if (p.done && p.sent + p.skipped < count) {
    report->problems.push_back("the publisher sent " + std::to_string(p.sent + p.skipped) +
                               " of the " + std::to_string(count) +
                               " broadcasts asked for before its --seconds ran out");
  }
}

void addUpstreamVerdict(const WorkerSample& t, const HookSample& hook, uint64_t due,
                        const loadgen::LatencyHistogram& lat, double seconds, long long rate,
                        const TrafficRun& run, RunReport* report) {
  const uint64_t answered = t.up_ok + t.up_errors;
  const uint64_t unanswered = t.up_sent > answered ? t.up_sent - answered : 0;
  const uint64_t lost = t.up_ok > hook.unique ? t.up_ok - hook.unique : 0;
  report->results.insert(report->results.end(),
                         {{"due", static_cast<double>(due)},
                          {"sent", static_cast<double>(t.up_sent)},
                          {"acked_ok", static_cast<double>(t.up_ok)},
                          {"ack_errors", static_cast<double>(t.up_errors)},
                          {"skipped", static_cast<double>(t.up_skipped)},
                          {"unanswered", static_cast<double>(unanswered)},
                          {"webhook_received", static_cast<double>(hook.received)},
                          {"webhook_unique", static_cast<double>(hook.unique)},
                          {"duplicates", static_cast<double>(hook.duplicates)},
                          {"lost_items", static_cast<double>(lost)},
                          {"up_per_s", static_cast<double>(t.up_ok) / seconds},
                          {"lat_p50_ms", ms(lat.percentile(0.5))},
                          {"lat_p99_ms", ms(lat.percentile(0.99))},
                          {"lat_p999_ms", ms(lat.percentile(0.999))},
                          {"lat_max_ms", ms(lat.max())}});
  std::string by_code;
  for (const auto& [code, n] : t.up_errors_by) {
    report->results.emplace_back("ack_error_" + code, static_cast<double>(n));
    by_code += (by_code.empty() ? " (" : ", ") + code + " " + std::to_string(n);
  }
  if (!by_code.empty()) by_code += ")";
  if (!run.started) report->problems.push_back("the sending never started");
  if (run.started && t.up_sent + t.up_skipped < due) {
    report->problems.push_back("the workers sent " + std::to_string(t.up_sent + t.up_skipped) +
                               " of the " + std::to_string(due) +
                               " upstream frames due (a worker stopped early or never reported)");
  }
  if (!hook.seen) {
    report->problems.push_back("the webhook receiver reported nothing (see " + run.log_path + ")");
  }
  addProblem(t.up_errors, "upstream frames answered with an error" + by_code, report);
  addProblem(unanswered,
             "upstream frames never answered within " + formatNumber(run.receive_grace_s) +
                 " s of the last",
             report);
  addProblem(lost, "upstream frames acked ok never reached the webhook", report);
  addProblem(hook.duplicates, "items reached the webhook twice (the coordinator retried them)",
             report);
  addProblem(hook.unreadable, "webhook requests were not upstream items of ours", report);
  addProblem(t.up_unmatched, "acks matched no upstream frame in flight", report);
  addProblem(t.up_skipped,
             "upstream frames skipped: every client had its most in flight at " +
                 std::to_string(rate) + "/s",
             report);
}

}  // namespace push::loadtester
