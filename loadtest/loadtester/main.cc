// push-loadtest: sizes a room the way an operator would, over many push-load worker processes
// (loadtest/README.md "push-loadtest"). Scenarios:
//
//   push-loadtest connect --server H:P --app A --secret S --connections N [flags]
//       ramps N authenticated connections at --connect-rate; ends when every one is in or failed
//   push-loadtest hold    --server H:P --app A --secret S --connections N --seconds T [flags]
//       the same, then holds them T seconds with heartbeats (--heartbeat S) flowing
//   push-loadtest reconnect-storm --server H:P --app A --secret S --connections N
//                 --storm-command CMD [--seconds T] [flags]
//       the same, then runs CMD once (/bin/sh -c; e.g. "kill -9 <a room worker's pid>") and
//       waits up to T seconds (60) for every client it dropped to be back: the clients reconnect
//       as the SDK does (a jittered backoff from 500 ms). Its figures: dropped, back_s (from the
//       command to the last client back), reconnect_failed (attempts that failed), not_back.
//   push-loadtest unicast --server H:P --app A --secret S --connections N --center H:P
//                 --api-key K [--rate R] [--seconds T] [flags]
//       the same, then one `push-load unicast` sender (no clients of its own) posts R pushes a
//       second for T seconds through center's POST /v1/push, push k to user
//       <prefix><first-user + k % N>; every receiving worker checks each push (its user, seen
//       before?) and its latency from the API call, so lost (center said delivered, no client
//       got it), duplicates and misrouted pushes are exact counts.
//   push-loadtest broadcast --server H:P --app A --secret S --connections N --center H:P
//                 --api-key K [--count C] [--rate R] [--qos Q] [flags]
//       the same, then one `push-load broadcast` publisher (no clients of its own) posts C
//       broadcasts (default 10) at R a second (default 1) through center's POST /v1/broadcast;
//       every receiving worker counts each copy per client (a bit per broadcast and client), so
//       missing copies (of the broadcasts center accepted, one per connection) and duplicates
//       are exact; the latency of each copy is from the API call, and last_client_ms (the
//       latest copy of any broadcast) says when the last client was served.
//   push-loadtest upstream --server H:P --app A --secret S --connections N --webhook H:P
//                 [--rate R] [--seconds T] [--payload-bytes B] [flags]
//       starts `push-load webhook --listen <webhook>` (the app's upstream webhook: the
//       coordinator's upstream_url for the app must be http://<webhook>/upstream), ramps N
//       connections, then has every worker send its share of R Upstream frames a second (default
//       100) for T seconds from its clients in turn (SIGUSR1 starts them together); counts every
//       UpstreamAck (ok or its error code, latency from the send) and every item the webhook got
//       (a second POST of an item is a duplicate; acked ok but never at the webhook is lost).
//
// Every scenario takes --dispatcher H:P in place of --server: each worker then asks
// push-dispatcher (GET /v1/route) where each of its users connects, as the SDK does before its
// first connect, and connects that client to the first tcp endpoint of the answer (its sticky
// room), reconnects included (the SDK caches a route for its TTL).
// Connections are spread over ceil(N / --per-worker) `push-load idle --stats` processes (at
// most 19000 each: a process may open 20000 files here) and over the --sources addresses in
// disjoint groups. A line a second on stdout (connections, rates, failures, losses, Ping round
// trip p99, the workers' CPU); at the end <out>/report.json, <out>/report.html (charts, works
// offline), <out>/worker-<i>.log (each worker's stderr) and one "RESULT loadtest_<scenario>
// ..." line; hold prints "HOLDING" when every connection is in and "HELD" when the hold ends
// (scripts sample the servers' CPU between them); reconnect-storm prints "STORM" as it runs the
// command (its output goes to <out>/storm.log) and "BACK" once every dropped client is back;
// unicast prints "SENDING" as the sender starts (its stderr in <out>/sender.log), "SENT" once
// it is done and "RECEIVED" once the receivers have every push it must get; broadcast the same
// for its publisher (<out>/publisher.log) and every copy; upstream prints SENDING when it
// signals the workers, SENT when their T seconds are over and RECEIVED once every frame is
// answered and every ok one is at the webhook (its stderr in <out>/webhook.log). Exit status: 0
// every goal met (all connected, none failed, none lost; for reconnect-storm: some dropped and all
// back; for unicast: every request answered delivered, every push received once by its user, none
// skipped; for broadcast: every broadcast accepted, and received once by every client), 1 not met,
// 2 bad flags,
// 3
// --max-seconds reached (the report is still written).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/base/command_line.h"
#include "loadtest/loadgen/source_addresses.h"
#include "loadtest/loadtester/run_flags.h"
#include "loadtest/loadtester/run_report.h"
#include "loadtest/loadtester/run_timeline.h"
#include "loadtest/loadtester/storm_command.h"
#include "loadtest/loadtester/traffic_verdict.h"
#include "loadtest/loadtester/worker_plan.h"
#include "loadtest/loadtester/worker_processes.h"

namespace {

using namespace push;
using namespace push::loadtester;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitNotMet = 1;
constexpr int kExitUsage = 2;
constexpr int kExitMaxSeconds = 3;
constexpr size_t kMaxProblems = 20;
// unicast and broadcast: from the last connection in to the first push (the rooms report
// sessions to the register in batches), and how long the receivers get after the sender is done
// (a broadcast to a million clients takes seconds to fan out on a small machine).
constexpr double kSessionSettleS = 1.0;
constexpr double kReceiveGraceS = 5.0;
constexpr double kStormReceiveGraceS = 20.0;
constexpr double kBroadcastReceiveGraceS = 30.0;
// upstream: the coordinator may take its webhook deadline (10 s by default) and retries.
constexpr double kUpstreamReceiveGraceS = 20.0;

volatile sig_atomic_t g_stop_signal = 0;
void onStopSignal(int signum) {
  g_stop_signal = signum;
}

int usageError(const CommandLine& cl, const std::string& message) {
  std::fprintf(stderr, "push-loadtest: %s\n\n%s", message.c_str(), cl.usage().c_str());
  return kExitUsage;
}

std::string utcNow(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// push-load next to this binary, unless --load-bin says otherwise.
std::string defaultLoadBin() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "push-load";
  std::string path(self, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "push-load";
}

std::string fmtCount(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc >= 2 ? argv[1] : "";
  CommandLine cl("push-loadtest " + scenario, kScenarioSummary);
  defineFlags(cl);
  if (!knownScenario(scenario)) {
    if (scenario == "--help" || scenario == "help") return std::printf("%s", cl.usage().c_str()), 0;
    return usageError(
        cl,
        "the first argument is the scenario: connect, hold, reconnect-storm, unicast, broadcast "
        "or upstream");
  }
  if (Status st = cl.parse(argc - 1, argv + 1); !st.isOk()) return usageError(cl, st.message());
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto parsed = readFlags(cl, scenario);
  if (!parsed.isOk()) return usageError(cl, parsed.status().message());
  const RunFlags& f = *parsed;
  const bool hold = f.hold, storm = f.storm, unicast = f.unicast, broadcast = f.broadcast;
  const bool traffic = f.traffic, upstream = f.upstream, storming = f.storming;
  const char* target_flag = f.target_flag.c_str();
  WorkerPlanInput in;
  in.connections = static_cast<size_t>(f.connections);
  in.per_worker = static_cast<size_t>(f.per_worker);
  in.first_user = static_cast<size_t>(f.first_user);
  in.sources = f.sources;
  in.ports_per_source = localPortRangeSize();
  auto plan = planWorkers(in);
  if (!plan.isOk()) return usageError(cl, plan.status().message());
  const std::string out_dir = cl.get("out", "push-loadtest-" + utcNow("%Y%m%d-%H%M%S"));
  if (::mkdir(out_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return usageError(cl, "--out: cannot create " + out_dir + ": " + std::strerror(errno));
  }
  const std::string load_bin = cl.get("load-bin", defaultLoadBin());
  if (::access(load_bin.c_str(), X_OK) != 0) {
    return usageError(cl, "no push-load at " + load_bin + " (give --load-bin)");
  }

  // Each worker connects at its share of the rate and stops by itself a little after we would.
  const double worker_rate =
      static_cast<double>(f.connect_rate) / static_cast<double>(plan->size());
  std::vector<std::vector<std::string>> argvs;
  uint64_t up_due = 0;  // upstream: the frames the workers must send or skip
  std::vector<std::string> logs;
  for (const WorkerSlice& s : *plan) {
    std::vector<std::string> a = {
        load_bin, "idle", "--stats", std::string("--") + target_flag, cl.get(target_flag), "--app",
        cl.get("app"), "--secret", cl.get("secret"), "--connections", std::to_string(s.connections),
        "--first-user", std::to_string(s.first_user), "--user-prefix", cl.get("user-prefix", "u"),
        "--network", cl.get("network", "wifi"), "--connect-rate",
        std::to_string(std::max(worker_rate, 1.0)), "--max-seconds",
        // push-load's own limit is one day.
        std::to_string(std::min(f.max_seconds + 30, 86'400LL))};
    if (!s.sources.empty()) a.insert(a.end(), {"--sources", s.sources});
    if (cl.has("heartbeat")) a.insert(a.end(), {"--heartbeat", std::to_string(f.heartbeat)});
    if (f.input_gather_us > 0) {
      a.insert(a.end(), {"--input-gather-us", std::to_string(f.input_gather_us)});
    }
    if (storming) a.push_back("--reconnect");
    if (unicast) {
      a.insert(a.end(), {"--unicast-users", std::to_string(in.connections), "--unicast-first-user",
                         std::to_string(in.first_user)});
    }
    if (broadcast) a.insert(a.end(), {"--broadcasts", std::to_string(f.count)});
    if (upstream) {
      // Each worker its share of the rate, in proportion to its connections.
      const double share = static_cast<double>(f.rate) * static_cast<double>(s.connections) /
                           static_cast<double>(in.connections);
      char worker_up_rate[32];
      std::snprintf(worker_up_rate, sizeof worker_up_rate, "%.6f", share);
      // The worker sends floor(rate x T) of them, at the rate as printed.
      const double printed = std::strtod(worker_up_rate, nullptr);
      if (printed <= 0) {
        return usageError(cl, "--rate " + std::to_string(f.rate) + " is too low for " +
                                  std::to_string(plan->size()) + " workers");
      }
      up_due += static_cast<uint64_t>(printed * static_cast<double>(f.seconds));
      a.insert(a.end(), {"--upstream-rate", worker_up_rate, "--upstream-seconds",
                         std::to_string(f.seconds), "--upstream-bytes", std::to_string(f.payload)});
    }
    argvs.push_back(std::move(a));
    logs.push_back(out_dir + "/worker-" + std::to_string(s.index) + ".log");
  }
  // upstream: the webhook receiver starts with the workers, after them in `workers` (the
  // sender's place).
  if (upstream) {
    argvs.push_back({load_bin, "webhook", "--listen", cl.get("webhook"), "--user-prefix",
                     cl.get("user-prefix", "u"), "--stats", "--max-seconds",
                     std::to_string(std::min(f.max_seconds + 30, 86'400LL))});
    logs.push_back(out_dir + "/webhook.log");
  }

  // unicast: one sender, broadcast: one publisher, started once every connection is in; open
  // loop at --rate, for --seconds at most.
  const long long send_s = broadcast ? std::min(f.seconds, 3600LL) : f.seconds;
  std::vector<std::string> sender_argv = {load_bin,
                                          broadcast ? "broadcast" : "unicast",
                                          "--center",
                                          cl.get("center"),
                                          "--api-key",
                                          cl.get("api-key"),
                                          "--app",
                                          cl.get("app"),
                                          "--rate",
                                          std::to_string(f.rate),
                                          "--seconds",
                                          std::to_string(send_s),
                                          "--http-connections",
                                          std::to_string(f.http),
                                          "--payload-bytes",
                                          std::to_string(f.payload),
                                          "--max-seconds",
                                          std::to_string(std::min(send_s + 60, 86'400LL))};
  if (broadcast) {
    sender_argv.insert(sender_argv.end(),
                       {"--count", std::to_string(f.count), "--qos", std::to_string(f.qos)});
  } else {
    sender_argv.insert(sender_argv.end(),
                       {"--stats", "--users", std::to_string(in.connections), "--first-user",
                        std::to_string(in.first_user), "--user-prefix", cl.get("user-prefix", "u"),
                        "--depth", std::to_string(f.depth), "--batch", std::to_string(f.batch)});
  }
  const std::string sender_log = out_dir + (broadcast  ? "/publisher.log"
                                            : upstream ? "/webhook.log"
                                                       : "/sender.log");

  RunReport report;
  report.scenario = scenario;
  report.started_at = utcNow("%Y-%m-%dT%H:%M:%SZ");
  report.latency_name = unicast     ? "push latency, API call to the client's read"
                        : broadcast ? "broadcast latency, API call to each client's read"
                        : upstream  ? "upstream latency, the client's send to its UpstreamAck"
                                    : "ping round trip";
  for (const char* flag : {"server",           "dispatcher",    "app",           "connections",
                           "seconds",          "per-worker",    "sources",       "connect-rate",
                           "heartbeat",        "user-prefix",   "first-user",    "network",
                           "max-seconds",      "storm-command", "center",        "rate",
                           "http-connections", "depth",         "payload-bytes", "batch",
                           "storm-after",      "count",         "qos",           "webhook",
                           "input-gather-us"}) {
    if (cl.has(flag)) report.settings.emplace_back(flag, cl.get(flag));
  }
  report.settings.emplace_back("workers", std::to_string(plan->size()));

  struct sigaction sa {};
  sa.sa_handler = onStopSignal;  // no SA_RESTART: poll() returns at once
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  WorkerProcesses workers;
  if (Status st = workers.start(argvs, logs); !st.isOk()) {
    std::fprintf(stderr, "push-loadtest: %s\n", st.message().c_str());
    return kExitNotMet;
  }
  std::printf(
      "push-loadtest %s: %zu connections to %s over %zu workers; logs in %s\n", scenario.c_str(),
      in.connections,
      (cl.has("dispatcher") ? "the rooms of dispatcher " + cl.get("dispatcher") : cl.get("server"))
          .c_str(),
      plan->size(), out_dir.c_str());
  std::fflush(stdout);

  RunTimeline timeline(plan->size());
  std::vector<bool> settled(plan->size(), false);
  size_t settled_count = 0;
  const auto start = Clock::now();
  const auto since_start = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  double connect_s = -1;  // when the last worker settled
  double hold_until = 0;
  // reconnect-storm: when the command ran (run time and steady_clock ns), the losses before it.
  StormCommand storm_command;
  double storm_at = -1;
  int64_t storm_ns = 0;
  uint64_t lost_before_storm = 0;
  bool all_back = false;
  // unicast, broadcast: the sender's (publisher's) index in `workers` once started, when it
  // started and ended, its exit.
  const size_t sender_index = plan->size();
  double sender_at = -1, sender_done_at = -1;
  int sender_exit = 0;
  bool worker_exited = false;
  // After the sender is done, how long the receivers get (clients dropped by a storm first
  // come back after their backoff, then saver replays what they missed).
  const double receive_grace_s = storming    ? kStormReceiveGraceS
                                 : broadcast ? kBroadcastReceiveGraceS
                                 : upstream  ? kUpstreamReceiveGraceS
                                             : kReceiveGraceS;
  int exit_code = kExitOk;
  std::string ended_because;
  auto problem = [&](const std::string& p) {
    if (report.problems.size() < kMaxProblems) report.problems.push_back(p);
  };
  auto handle = [&](const std::vector<WorkerProcesses::Event>& events, bool stopping) {
    for (const auto& e : events) {
      if (upstream && e.worker == sender_index) {
        if (e.kind == WorkerProcesses::Event::Kind::Exited) {
          if (!stopping) {
            worker_exited = true;
            problem("the webhook receiver exited early with status " + std::to_string(e.exit_code) +
                    " (see " + sender_log + ")");
          }
        } else if (e.line.rfind("HOOK ", 0) == 0 && !timeline.addHookLine(e.line)) {
          problem("unreadable webhook line: " + e.line);
        }
        continue;
      }
      if (traffic && e.worker == sender_index) {
        if (e.kind == WorkerProcesses::Event::Kind::Exited) {
          sender_exit = e.exit_code;
          sender_done_at = since_start();
          if (!stopping) std::printf("SENT\n");
          std::fflush(stdout);
        } else if (e.line.rfind("SENT ", 0) == 0 && !timeline.addSentLine(e.line)) {
          problem("unreadable sender line: " + e.line);
        } else if (const size_t at = e.line.find("role=publisher ");
                   broadcast && at != std::string::npos &&
                   !timeline.addPublisherLine(std::string_view(e.line).substr(at))) {
          problem("unreadable publisher line: " + e.line);
        }
        continue;
      }
      if (e.kind == WorkerProcesses::Event::Kind::Exited) {
        if (!stopping) {
          worker_exited = true;
          problem("worker " + std::to_string(e.worker) + " exited early with status " +
                  std::to_string(e.exit_code) + " (see " + logs[e.worker] + ")");
        }
        continue;
      }
      const std::string& l = e.line;
      if (l.rfind("STATS ", 0) == 0) {
        if (!timeline.addStatsLine(e.worker, l)) problem("unreadable worker line: " + l);
      } else if (l.rfind("READY ", 0) == 0 || l.rfind("FAILED ", 0) == 0) {
        if (l[0] == 'F') problem("worker " + std::to_string(e.worker) + ": " + l);
        if (!settled[e.worker]) {
          settled[e.worker] = true;
          if (++settled_count == settled.size()) connect_s = since_start();
        }
      }
    }
  };

  std::vector<WorkerProcesses::Event> events;
  auto next_second = start + std::chrono::seconds(1);
  for (;;) {
    const auto now = Clock::now();
    if (now >= next_second) {
      const TimelinePoint& p = timeline.closeSecond(since_start());
      char traffic_text[160];
      if (unicast || upstream) {
        std::snprintf(traffic_text, sizeof traffic_text,
                      "sent %s/s delivered %s/s p99 %.2f ms errors %llu dups %llu",
                      fmtCount(p.sent_per_s).c_str(), fmtCount(p.delivered_per_s).c_str(),
                      static_cast<double>(p.lat_p99_ns) / 1e6,
                      static_cast<unsigned long long>(p.send_errors),
                      static_cast<unsigned long long>(p.duplicates));
      } else if (broadcast) {
        std::snprintf(
            traffic_text, sizeof traffic_text, "copies %s/s p99 %.2f ms max %.2f ms dups %llu",
            fmtCount(p.delivered_per_s).c_str(), static_cast<double>(p.lat_p99_ns) / 1e6,
            static_cast<double>(p.lat_max_ns) / 1e6, static_cast<unsigned long long>(p.duplicates));
      } else {
        std::snprintf(traffic_text, sizeof traffic_text, "pings %s/s pongs %s/s rtt p99 %.2f ms",
                      fmtCount(p.pings_per_s).c_str(), fmtCount(p.pongs_per_s).c_str(),
                      static_cast<double>(p.rtt_p99_ns) / 1e6);
      }
      std::printf(
          "[%5.0fs] connected %s/%zu (+%s/s) failed %llu lost %llu | %s | workers %.2f cores\n",
          p.t_s, fmtCount(static_cast<double>(p.connected)).c_str(), in.connections,
          fmtCount(p.new_per_s).c_str(), static_cast<unsigned long long>(p.failed),
          static_cast<unsigned long long>(p.lost), traffic_text, p.loadgen_cores);
      std::fflush(stdout);
      next_second += std::chrono::seconds(1);
      // Fallen behind (a stalled terminal, a starved machine): no burst of tiny "seconds".
      if (Clock::now() >= next_second) next_second = Clock::now() + std::chrono::seconds(1);
    }
    if (g_stop_signal != 0) {
      ended_because = "stopped by signal " + std::to_string(g_stop_signal);
      break;
    }
    if (worker_exited) {
      ended_because = "a worker exited";
      exit_code = kExitNotMet;
      break;
    }
    if (since_start() >= static_cast<double>(f.max_seconds)) {
      ended_because = "--max-seconds reached";
      exit_code = kExitMaxSeconds;
      problem("--max-seconds " + std::to_string(f.max_seconds) + " reached");
      break;
    }
    if (storm_command.started()) storm_command.poll();
    // Runs the storm command once; false (the run ends) when it could not start.
    const auto start_storm = [&] {
      lost_before_storm = timeline.totals().lost;
      storm_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count();
      storm_at = since_start();
      if (Status st = storm_command.start(cl.get("storm-command"), out_dir + "/storm.log");
          !st.isOk()) {
        ended_because = "the storm command did not start: " + st.message();
        exit_code = kExitNotMet;
        return false;
      }
      std::printf("STORM\n");
      std::fflush(stdout);
      return true;
    };
    // Every client the storm dropped is back (BACK printed once).
    const auto check_back = [&] {
      const WorkerSample t = timeline.totals();
      if (!all_back && storm_at >= 0 && t.lost > lost_before_storm && t.reconnected >= t.lost) {
        all_back = true;
        std::printf("BACK\n");
        std::fflush(stdout);
      }
      return all_back;
    };
    if (storm && connect_s >= 0) {
      if (storm_at < 0 && !start_storm()) break;
      if (check_back()) break;
      if (since_start() >= storm_at + static_cast<double>(f.seconds)) break;
    } else if (traffic && connect_s >= 0) {
      if (sender_at < 0 && since_start() >= connect_s + kSessionSettleS) {
        if (Status st = workers.start({sender_argv}, {sender_log}); !st.isOk()) {
          ended_because = std::string(broadcast ? "the publisher" : "the sender") +
                          " did not start: " + st.message();
          exit_code = kExitNotMet;
          break;
        }
        sender_at = since_start();
        std::printf("SENDING\n");
        std::fflush(stdout);
      }
      if (storming && storm_at < 0 && sender_at >= 0 &&
          since_start() >= sender_at + static_cast<double>(f.storm_after) && !start_storm()) {
        break;
      }
      const bool back = !storming || (storm_at >= 0 && check_back());
      const WorkerSample t = timeline.totals();
      const bool all_in =
          broadcast ? timeline.publisher().done &&
                          t.bc_unique >= expectedCopies(timeline.publisher(), in.connections)
                    : t.uni_unique >= expectedPushes(timeline.sender());
      if (sender_done_at >= 0 && back && all_in) {
        std::printf("RECEIVED\n");  // scripts stop sampling the servers' CPU here
        std::fflush(stdout);
        break;
      }
      if (sender_done_at >= 0 && since_start() >= sender_done_at + receive_grace_s) break;
    } else if (upstream && connect_s >= 0) {
      if (sender_at < 0 && since_start() >= connect_s + kSessionSettleS) {
        workers.signalAll(SIGUSR1);  // every worker starts sending (the webhook ignores it)
        sender_at = since_start();
        std::printf("SENDING\n");
        std::fflush(stdout);
      }
      if (sender_at >= 0 && sender_done_at < 0 &&
          since_start() >= sender_at + static_cast<double>(f.seconds)) {
        sender_done_at = since_start();
        std::printf("SENT\n");
        std::fflush(stdout);
      }
      // Done once every worker says its sending is over, every frame is answered and every ok
      // one is at the webhook.
      const WorkerSample t = timeline.totals();
      if (sender_done_at >= 0 && t.up_done >= plan->size() && t.up_ok + t.up_errors >= t.up_sent &&
          timeline.hook().unique >= t.up_ok) {
        std::printf("RECEIVED\n");
        std::fflush(stdout);
        break;
      }
      if (sender_done_at >= 0 && since_start() >= sender_done_at + receive_grace_s) break;
    } else if (connect_s >= 0) {
      if (!hold) break;
      if (hold_until == 0) {
        hold_until = connect_s + static_cast<double>(f.seconds);
        std::printf("HOLDING\n");  // scripts sample the servers' CPU from here to HELD
        std::fflush(stdout);
      }
      if (since_start() >= hold_until) {
        std::printf("HELD\n");
        std::fflush(stdout);
        break;
      }
    }
    events.clear();
    // Until the next second, or sooner when the hold or --max-seconds ends before it.
    auto until = next_second;
    const auto at = [&](double s) {
      return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    if (hold_until > 0) until = std::min(until, at(hold_until));
    if (storm && storm_at >= 0) {
      until = std::min(until, at(storm_at + static_cast<double>(f.seconds)));
    }
    if ((traffic || upstream) && connect_s >= 0 && sender_at < 0) {
      until = std::min(until, at(connect_s + kSessionSettleS));
    }
    if (storming && sender_at >= 0 && storm_at < 0) {
      until = std::min(until, at(sender_at + static_cast<double>(f.storm_after)));
    }
    if (sender_done_at >= 0) until = std::min(until, at(sender_done_at + receive_grace_s));
    if (upstream && sender_at >= 0 && sender_done_at < 0) {
      until = std::min(until, at(sender_at + static_cast<double>(f.seconds)));
    }
    until = std::min(until, at(static_cast<double>(f.max_seconds)));
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    workers.poll(std::max(wait, std::chrono::milliseconds(1)), &events);
    handle(events, false);
  }
  const double run_s = since_start();  // not counting the workers' shutdown below
  // The last partial second (a point only when it is most of one), then the workers' last
  // lines as they stop: their counts and round trips count, without a point of their own.
  events.clear();
  workers.poll(std::chrono::milliseconds(0), &events);
  handle(events, false);
  if (since_start() - timeline.lastPointAt() >= 0.5) timeline.closeSecond(since_start());
  events.clear();
  workers.stopAll(std::chrono::seconds(15), &events);
  handle(events, true);
  timeline.flushRoundTrips();

  const WorkerSample t = timeline.totals();
  const double held_s = hold && connect_s >= 0 ? std::max(0.0, run_s - connect_s) : 0;
  const double cpu_s = static_cast<double>(t.cpu_ms) / 1000.0;
  const auto& rtt = timeline.allRoundTrips();
  report.results = {
      {"connections", static_cast<double>(in.connections)},
      {"ready", static_cast<double>(t.ready)},
      {"failed", static_cast<double>(t.failed)},
      {"lost", static_cast<double>(t.lost)},
      {"connect_s", connect_s},
      {"connect_per_s", connect_s > 0 ? static_cast<double>(t.ready) / connect_s : 0},
      {"held_s", held_s},
      {"pings", static_cast<double>(t.pings)},
      {"pongs", static_cast<double>(t.pongs)},
      {"rtt_p50_ms", static_cast<double>(rtt.percentile(0.5)) / 1e6},
      {"rtt_p99_ms", static_cast<double>(rtt.percentile(0.99)) / 1e6},
      {"rtt_max_ms", static_cast<double>(rtt.max()) / 1e6},
      {"workers", static_cast<double>(plan->size())},
      {"workers_cpu_cores", run_s > 0 ? cpu_s / run_s : 0},
      {"run_s", run_s},
  };
  const uint64_t not_back = t.lost > t.reconnected ? t.lost - t.reconnected : 0;
  const uint64_t dropped = t.lost - std::min(t.lost, lost_before_storm);
  if (storming) {
    const double back_s =
        all_back
            ? std::max<double>(
                  0, static_cast<double>(static_cast<int64_t>(t.last_back_ns) - storm_ns) / 1e9)
            : -1;
    report.results.insert(report.results.end(),
                          {{"storm_at_s", storm_at},
                           {"dropped", static_cast<double>(dropped)},
                           {"reconnected", static_cast<double>(t.reconnected)},
                           {"reconnect_failed", static_cast<double>(t.reconnect_failed)},
                           {"not_back", static_cast<double>(not_back)},
                           {"back_s", back_s},
                           {"back_per_s", back_s > 0 ? static_cast<double>(dropped) / back_s : 0}});
  }
  // How the failed and lost ones ended: figures of their own ("lost_closed", ...) and a
  // " (closed 12, reset 3)" for the problem lines.
  const auto endings = [&report](const char* prefix, const std::map<std::string, uint64_t>& by) {
    std::string text;
    for (const auto& [name, n] : by) {
      report.results.emplace_back(std::string(prefix) + "_" + name, static_cast<double>(n));
      text += (text.empty() ? " (" : ", ") + name + " " + std::to_string(n);
    }
    return text.empty() ? text : text + ")";
  };
  const std::string failed_how = endings("failed", t.failed_by);
  const std::string lost_how = endings("lost", t.lost_by);
  // The run's own verdicts always make the list (problem() caps the per-worker ones).
  if (t.ready != in.connections) {
    report.problems.push_back(
        std::to_string(in.connections - std::min<uint64_t>(t.ready, in.connections)) + " of " +
        std::to_string(in.connections) + " connections never authenticated" + failed_how);
  }
  if (storming) {
    if (storm_at >= 0 && storm_command.poll() && storm_command.exitCode() != 0) {
      report.problems.push_back("the storm command exited with status " +
                                std::to_string(storm_command.exitCode()) + " (see " + out_dir +
                                "/storm.log)");
    }
    storm_command.kill();  // still running: its effect was all we waited for
    if (storm_at >= 0 && dropped == 0) {
      report.problems.push_back(
          "the storm command dropped no connection" +
          (storm ? " within " + std::to_string(f.seconds) + " s" : std::string(" during the run")));
    }
    if (storm_at < 0) report.problems.push_back("the storm command never ran");
    if (not_back > 0) {
      report.problems.push_back(std::to_string(not_back) + " of " + std::to_string(t.lost) +
                                " dropped clients not back by the end of the run" + lost_how);
    }
  } else if (t.lost > 0) {
    report.problems.push_back(std::to_string(t.lost) +
                              " connections lost after they authenticated" + lost_how);
  }
  const TrafficRun traffic_run{sender_at >= 0, sender_exit, sender_log, receive_grace_s};
  if (unicast) {
    addUnicastVerdict(t, timeline.sender(), timeline.allLatencies(), static_cast<double>(f.seconds),
                      f.rate, traffic_run, &report);
  } else if (broadcast) {
    addBroadcastVerdict(t, timeline.publisher(), in.connections, static_cast<uint64_t>(f.count),
                        timeline.allLatencies(), traffic_run, &report);
  } else if (upstream) {
    addUpstreamVerdict(t, timeline.hook(), up_due, timeline.allLatencies(),
                       static_cast<double>(f.seconds), f.rate, traffic_run, &report);
  }
  if (!ended_because.empty()) report.problems.push_back("the run ended early: " + ended_because);
  report.passed = report.problems.empty();
  if (exit_code == kExitOk && !report.passed) exit_code = kExitNotMet;
  report.timeline = timeline.points();
  report.latency = traffic || upstream ? timeline.allLatencies() : rtt;

  const bool wrote = writeFile(out_dir + "/report.json", reportJson(report) + "\n") &&
                     writeFile(out_dir + "/report.html", reportHtml(report));
  for (const std::string& p : report.problems)
    std::printf("problem: %s\n", p.c_str());
  std::printf("report: %s/report.html%s\n", out_dir.c_str(), wrote ? "" : " (could not write)");
  std::string result = "RESULT loadtest_" + scenario;  // reconnect-storm: reconnect_storm
  std::replace(result.begin(), result.end(), '-', '_');
  for (const auto& [name, value] : report.results) {
    result += " " + name + "=" + formatNumber(value);
  }
  result += report.passed ? " passed=1" : " passed=0";
  std::printf("%s\n", result.c_str());
  return wrote ? exit_code : kExitNotMet;
}
